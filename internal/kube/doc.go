// Package kube is the Kubernetes backend of mcpproxy's isolation: an
// isolation.Runtime that runs each isolated server as one pod built from the
// same typed Plan the Docker backend runs (BuildObjects, pure and
// golden-tested), and connects the server's stdio through the API server's
// attach subresource.
//
// What a pod is made of: the plan's image with its command as CMD;
// resources.limits from the plan's memory and CPU; the hardened profile as
// the securityContext (runAsNonRoot with the plan's uid, read-only root, all
// capabilities dropped, allowPrivilegeEscalation false, RuntimeDefault
// seccomp); a memory-backed, size-capped emptyDir per tmpfs; named volumes
// as PersistentVolumeClaims (host paths are refused); environment values in
// a Secret referenced by secretKeyRef, never in the pod spec; no service
// account token; mcpproxy's labels. Network "none" adds a deny-all
// NetworkPolicy, enforced only where the cluster's network plugin enforces
// NetworkPolicy.
//
// Lifecycle: each proxy instance holds a Lease in the namespace, renewed
// while it lives; its pods (and through them their Secrets and policies)
// are dependents of the Lease. Every proxy removes the pods of instances
// whose Lease has lapsed, at Open and periodically, and never touches pods
// of a live instance or pods without mcpproxy's labels.
package kube
