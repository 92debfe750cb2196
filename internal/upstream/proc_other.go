//go:build !linux

package upstream

import "syscall"

func setProcAttrs(a *syscall.SysProcAttr) {
	a.Setpgid = true
}
