package kube

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/mcpproxy/mcpproxy/internal/config"
)

// OptionsFromConfig maps the docker_isolation.kubernetes block to Options
// (without Instance, LeaseLabels and Logger, which the caller adds).
func OptionsFromConfig(k config.Kubernetes) Options {
	return Options{
		PodSettings: PodSettings{
			Namespace:        k.Namespace,
			ServiceAccount:   k.ServiceAccount,
			RuntimeClassName: k.RuntimeClassName,
			NodeSelector:     k.NodeSelector,
			ImagePullPolicy:  corev1.PullPolicy(k.ImagePullPolicy),
		},
		Kubeconfig: k.Kubeconfig,
		InCluster:  k.InCluster,
		Context:    k.Context,
	}
}
