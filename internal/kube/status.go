package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// podState is what a pod's status says about its server.
type podState struct {
	// Running is true while the server's container runs.
	Running bool
	// Ended is true once the server's container (or the pod) ended; Exit
	// says how.
	Ended bool
	Exit  isolation.Exit
	// Failed is set when the server cannot start and will not (its image is
	// missing, its configuration is refused): Reason says why.
	Failed bool
	// Reason explains Failed, or what a start waits for ("waiting for a
	// node: 0/1 nodes are available: …"). Empty when there is nothing to
	// say.
	Reason string
}

// fatalWaiting are the waiting reasons of a container that will not start
// without someone changing something; the rest (ContainerCreating, a pull
// under way) are steps of a start.
var fatalWaiting = map[string]bool{
	"ErrImageNeverPull":          true,
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"PreCreateHookError":         true,
	"PreStartHookError":          true,
}

// readPod interprets the status of one of this backend's pods.
func readPod(pod *corev1.Pod) podState {
	name := pod.Name
	cs := serverStatus(pod)
	switch {
	case cs != nil && cs.State.Terminated != nil:
		return podState{Ended: true, Exit: terminatedExit(pod, cs.State.Terminated)}
	case pod.Status.Phase == corev1.PodFailed:
		// Ended without a container that terminated: evicted, or refused by
		// the node before it ran.
		what := strings.TrimSpace(pod.Status.Reason + ": " + pod.Status.Message)
		if pod.Status.Reason == "Evicted" {
			return podState{Ended: true, Exit: isolation.Exit{Code: -1, Evicted: true, Reason: fmt.Sprintf("pod %s was evicted by its node: %s", name, pod.Status.Message)}}
		}
		if why, ok := disruption(pod); ok {
			return podState{Ended: true, Exit: isolation.Exit{Code: -1, Evicted: true, Reason: fmt.Sprintf("pod %s was %s", name, why)}}
		}
		return podState{Ended: true, Exit: isolation.Exit{Code: -1, Reason: fmt.Sprintf("pod %s failed (%s)", name, strings.Trim(what, ": "))}}
	case pod.Status.Phase == corev1.PodSucceeded:
		return podState{Ended: true, Exit: isolation.Exit{Code: 0, Reason: fmt.Sprintf("pod %s: the server exited with code 0", name)}}
	case cs != nil && cs.State.Running != nil:
		return podState{Running: true}
	case cs != nil && cs.State.Waiting != nil:
		w := cs.State.Waiting
		if fatalWaiting[w.Reason] {
			return podState{Failed: true, Reason: waitingFailure(pod, w)}
		}
		return podState{Reason: strings.TrimSpace("container " + strings.ToLower(w.Reason) + " " + w.Message)}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return podState{Reason: "waiting for a node: " + c.Message}
		}
	}
	if pod.Spec.NodeName == "" {
		return podState{Reason: "waiting for a node"}
	}
	return podState{Reason: "creating container"}
}

// serverStatus is the server container's status, or nil before the kubelet
// reported one.
func serverStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == containerName {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func terminatedExit(pod *corev1.Pod, t *corev1.ContainerStateTerminated) isolation.Exit {
	e := isolation.Exit{Code: int(t.ExitCode)}
	why, disrupted := disruption(pod)
	switch {
	case t.Reason == "OOMKilled":
		e.OOMKilled = true
		e.Reason = fmt.Sprintf("pod %s was OOM-killed: the server exceeded its memory limit (%s)", pod.Name, memoryLimit(pod))
	case pod.Status.Reason == "Evicted":
		e.Evicted = true
		e.Reason = fmt.Sprintf("pod %s was evicted by its node: %s", pod.Name, pod.Status.Message)
	case t.Reason == "StartError" || t.Reason == "ContainerCannotRun":
		e.Reason = fmt.Sprintf("pod %s: the server could not be started (exit code %d): %s", pod.Name, t.ExitCode, strings.TrimSpace(t.Message))
	case disrupted:
		e.Evicted = true
		e.Reason = fmt.Sprintf("pod %s was %s (the server exited with code %d)", pod.Name, why, t.ExitCode)
	case t.ExitCode == 137:
		e.Reason = fmt.Sprintf("pod %s was killed (exit code 137: SIGKILL, e.g. by the kubelet or the kernel)", pod.Name)
	default:
		e.Reason = fmt.Sprintf("pod %s: the server exited with code %d", pod.Name, t.ExitCode)
	}
	return e
}

func memoryLimit(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if c.Name == containerName {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.String()
			}
		}
	}
	return "none set"
}

// waitingFailure explains a container that will not start, naming the image
// and the fix where there is one.
func waitingFailure(pod *corev1.Pod, w *corev1.ContainerStateWaiting) string {
	image := ""
	node := pod.Spec.NodeName
	for _, c := range pod.Spec.Containers {
		if c.Name == containerName {
			image = c.Image
		}
	}
	switch w.Reason {
	case "ErrImageNeverPull":
		return fmt.Sprintf("image %q is not present on node %s and image_pull_policy is Never: load the image onto the cluster's nodes, or set docker_isolation.kubernetes.image_pull_policy to \"IfNotPresent\"", image, node)
	case "ErrImagePull", "ImagePullBackOff":
		return fmt.Sprintf("node %s could not pull image %q: %s", node, image, w.Message)
	case "InvalidImageName":
		return fmt.Sprintf("image %q is not a valid reference: %s", image, w.Message)
	}
	return fmt.Sprintf("pod %s: the container cannot start (%s): %s", pod.Name, w.Reason, w.Message)
}

// disruption says why the cluster terminates pod, from its DisruptionTarget
// condition, which the Eviction API (a drain, an autoscaler), the
// scheduler's preemption, a NoExecute taint and the kubelet's node-pressure
// eviction set before the pod's containers are stopped ("evicted through
// the Eviction API (a drain or an autoscaler): Eviction API: evicting").
func disruption(pod *corev1.Pod) (string, bool) {
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.DisruptionTarget || c.Status != corev1.ConditionTrue {
			continue
		}
		var why string
		switch c.Reason {
		case "EvictionByEvictionAPI":
			why = "evicted through the Eviction API (a drain or an autoscaler)"
		case corev1.PodReasonPreemptionByScheduler:
			why = "preempted by the scheduler for a pod of higher priority"
		case "DeletionByTaintManager":
			why = "evicted by a NoExecute taint of its node"
		case corev1.PodReasonTerminationByKubelet:
			why = "evicted by its node"
		default:
			why = "terminated by the cluster (" + c.Reason + ")"
		}
		if m := strings.TrimSpace(c.Message); m != "" {
			why += ": " + m
		}
		return why, true
	}
	return "", false
}
