package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func statusPod(mod func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "mcpproxy-x-1"},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: containerName, Image: "img:1",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	mod(p)
	return p
}

func withServer(s corev1.ContainerState) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: s}}
	}
}

func TestReadPod(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		// want: the state's kind and text that must appear in its reason.
		running, ended, failed, oom bool
		code                        int
		reason                      string
	}{
		{name: "unscheduled", pod: statusPod(func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient memory."}}
		}), reason: "waiting for a node: 0/1 nodes are available: 1 Insufficient memory."},
		{name: "creating", pod: statusPod(withServer(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}})), reason: "container containercreating"},
		{name: "running", pod: statusPod(withServer(corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})), running: true},
		{name: "image never pulled", pod: statusPod(withServer(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "ErrImageNeverPull", Message: `Container image "img:1" is not present with pull policy of Never`}})),
			failed: true, reason: `image "img:1" is not present on node node-1 and image_pull_policy is Never`},
		{name: "pull back-off", pod: statusPod(withServer(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "ImagePullBackOff", Message: "Back-off pulling image"}})),
			failed: true, reason: `node node-1 could not pull image "img:1": Back-off pulling image`},
		{name: "config error", pod: statusPod(withServer(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "CreateContainerConfigError", Message: `secret "x" not found`}})),
			failed: true, reason: `cannot start (CreateContainerConfigError): secret "x" not found`},
		{name: "oom killed", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}})(p)
		}), ended: true, oom: true, code: 137, reason: "was OOM-killed: the server exceeded its memory limit (64Mi)"},
		{name: "sigkill", pod: statusPod(withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}})),
			ended: true, code: 137, reason: "was killed (exit code 137"},
		{name: "exit 3", pod: statusPod(withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}})),
			ended: true, code: 3, reason: "the server exited with code 3"},
		{name: "start error", pod: statusPod(withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError",
			Message: `exec: "/nope": stat /nope: no such file or directory`}})),
			ended: true, code: 128, reason: `could not be started (exit code 128): exec: "/nope": stat /nope: no such file or directory`},
		{name: "evicted", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		}), ended: true, code: -1, reason: "was evicted by its node: The node was low on resource: memory."},
		{name: "evicted after running", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "ephemeral storage"
			withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "ContainerStatusUnknown"}})(p)
		}), ended: true, code: 137, reason: "was evicted by its node: ephemeral storage"},
		{name: "evicted through the API", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"}}
			withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Reason: "Error"}})(p)
		}), ended: true, code: 143, reason: "was evicted through the Eviction API (a drain or an autoscaler): Eviction API: evicting (the server exited with code 143)"},
		{name: "preempted", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "PreemptionByScheduler", Message: "Preempted by pod x"}}
		}), ended: true, code: -1, reason: "was preempted by the scheduler for a pod of higher priority: Preempted by pod x"},
		{name: "oom while evicted is oom", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "TerminationByKubelet"}}
			withServer(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}})(p)
		}), ended: true, oom: true, code: 137, reason: "was OOM-killed"},
		{name: "refused by node", pod: statusPod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "OutOfpods", "Node didn't have enough resource"
		}), ended: true, code: -1, reason: "failed (OutOfpods: Node didn't have enough resource)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := readPod(tt.pod)
			if st.Running != tt.running || st.Ended != tt.ended || st.Failed != tt.failed {
				t.Fatalf("state = %+v, want running=%v ended=%v failed=%v", st, tt.running, tt.ended, tt.failed)
			}
			reason := st.Reason
			if tt.ended {
				reason = st.Exit.Reason
				if st.Exit.Code != tt.code || st.Exit.OOMKilled != tt.oom {
					t.Errorf("exit = %+v, want code %d oom %v", st.Exit, tt.code, tt.oom)
				}
			}
			if !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}
