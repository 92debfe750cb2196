//go:build unix && !linux

package process

import "syscall"

// dieWithParent does nothing: only Linux has Pdeathsig. A process left by a
// crashed proxy sees EOF on stdin instead.
func dieWithParent(*syscall.SysProcAttr) {}
