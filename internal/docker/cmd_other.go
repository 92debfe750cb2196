//go:build !linux

package docker

import "os/exec"

func setDeathSignal(*exec.Cmd) {}
