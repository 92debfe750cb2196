package docker

import (
	"context"
	"os/exec"
	"syscall"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/process"
)

// command is exec.CommandContext, except that when ctx ends the child gets
// SIGTERM (and SIGKILL only after a grace period): docker calls often go
// through the user's login shell, whose rc files may hold locks (pyenv,
// nvm) that a SIGKILL would leave behind for every later shell to wait on.
// The child dies with mcpproxy (Pdeathsig on Linux).
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	process.DieWithParent(cmd)
	return cmd
}
