package process

import (
	"os/exec"
	"syscall"
)

// Prepare starts cmd in a new process group. Windows has no Pdeathsig: a
// process left by a crashed proxy sees EOF on stdin instead.
func Prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.CreationFlags |= syscall.CREATE_NEW_PROCESS_GROUP
}

// DieWithParent does nothing on Windows (see Prepare).
func DieWithParent(*exec.Cmd) {}

// terminate ends the process: Windows has no SIGTERM to send.
func terminate(cmd *exec.Cmd) { kill(cmd) }

// kill ends the process (its children are not tracked on Windows).
func kill(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
