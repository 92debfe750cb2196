//go:build !linux

package probe

import (
	"errors"
	"time"
)

var errUnsupported = errors.New("probe: only supported on linux")

func noFile() (soft, hard int64) { return -1, -1 }

// ForkResult is the outcome of a fork bomb.
type ForkResult struct {
	Started     int    `json:"started"`
	Error       string `json:"error,omitempty"`
	PidsCurrent int64  `json:"pids_current"`
	PidsMax     int64  `json:"pids_max"`
}

// Bomb is a running fork bomb.
type Bomb struct{ Result ForkResult }

// ForkBomb is linux only.
func ForkBomb(max, reserve int) *Bomb {
	return &Bomb{Result: ForkResult{Error: errUnsupported.Error()}}
}

// Release does nothing off linux.
func (b *Bomb) Release() {}

// SpinResult is the outcome of a CPU spin.
type SpinResult struct {
	Threads   int   `json:"threads"`
	WallNS    int64 `json:"wall_ns"`
	CgroupNS  int64 `json:"cgroup_ns"`
	ProcessNS int64 `json:"process_ns"`
	Throttled int64 `json:"throttled"`
}

// Spin is linux only.
func Spin(d time.Duration, threads int) SpinResult { return SpinResult{CgroupNS: -1, Throttled: -1} }

func unsupported(door string) Attempt { return attempt(door, errUnsupported, "") }

// Mount is linux only.
func Mount() Attempt { return unsupported("mount") }

// Ptrace is linux only.
func Ptrace(pid int) Attempt { return unsupported("ptrace") }

// RawSocket is linux only.
func RawSocket() Attempt { return unsupported("raw_socket") }

// ProcSysWrite is linux only.
func ProcSysWrite(path string) Attempt { return unsupported("proc_sys_write") }

// Mknod is linux only.
func Mknod() Attempt { return unsupported("mknod") }

// ChownRoot is linux only.
func ChownRoot() Attempt { return unsupported("chown") }

// HelperReport is what the setuid helper prints.
type HelperReport struct {
	UID    int    `json:"uid"`
	EUID   int    `json:"euid"`
	CapEff string `json:"cap_eff"`
}

// WriteHelperReport is linux only.
func WriteHelperReport() error { return errUnsupported }

// Setuid is linux only.
func Setuid(path string) Attempt { return unsupported("setuid") }
