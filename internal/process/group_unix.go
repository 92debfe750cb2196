//go:build unix

package process

import (
	"os/exec"
	"syscall"
)

// Prepare makes cmd, once started, the leader of a process group of its own
// (so that its children can be signalled with it) that dies with the proxy
// where the OS supports it. Start calls it; use it for other long-lived
// children.
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	dieWithParent(cmd.SysProcAttr)
}

// DieWithParent asks that cmd, once started, be killed when the proxy dies
// (Linux only; elsewhere nothing).
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	dieWithParent(cmd.SysProcAttr)
}

// terminate asks cmd's process group to stop (SIGTERM).
func terminate(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }

// kill kills cmd's process group (SIGKILL).
func kill(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}
