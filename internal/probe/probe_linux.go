package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func noFile() (soft, hard int64) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return -1, -1
	}
	return int64(r.Cur), int64(r.Max)
}

// ForkResult is the outcome of a fork bomb.
type ForkResult struct {
	// Started is how many processes were created before the kernel
	// refused one (or Max was reached).
	Started int `json:"started"`
	// Error is the refusal ("resource temporarily unavailable" at a PID
	// limit); "" when Max was reached first.
	Error string `json:"error,omitempty"`
	// PidsCurrent and PidsMax are the cgroup's counters at the peak.
	PidsCurrent int64 `json:"pids_current"`
	PidsMax     int64 `json:"pids_max"`
}

// Bomb is a running fork bomb: processes that do nothing but exist.
type Bomb struct {
	Result ForkResult
	pids   []int
}

// ForkBomb creates processes until the kernel refuses one or max exist,
// then releases reserve of them again so the caller keeps room to work.
// The others stay until Release. Each child is a bare clone of this
// process that blocks in ppoll without touching the Go runtime, so every
// one costs exactly one PID.
func ForkBomb(max, reserve int) *Bomb {
	b := &Bomb{}
	for len(b.pids) < max {
		pid, errno := rawForkHold()
		if errno != 0 {
			b.Result.Error = errno.Error()
			break
		}
		b.pids = append(b.pids, pid)
	}
	b.Result.Started = len(b.pids)
	l := ReadLimits()
	b.Result.PidsCurrent, b.Result.PidsMax = l.PidsCurrent, l.PidsMax
	for i := 0; i < reserve && len(b.pids) > 0; i++ {
		b.kill(len(b.pids) - 1)
	}
	return b
}

// Release kills and reaps every process of the bomb.
func (b *Bomb) Release() {
	for len(b.pids) > 0 {
		b.kill(len(b.pids) - 1)
	}
}

func (b *Bomb) kill(i int) {
	pid := b.pids[i]
	b.pids = b.pids[:i]
	_ = syscall.Kill(pid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// rawForkHold forks without the Go runtime's help. The child shares
// nothing with the runtime from then on: it only loops in ppoll (no
// timeout, no descriptors) until it is killed.
//
//go:nosplit
//go:norace
func rawForkHold() (int, syscall.Errno) {
	r1, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r1 == 0 {
		for {
			syscall.RawSyscall6(syscall.SYS_PPOLL, 0, 0, 0, 0, 0, 0)
		}
	}
	return int(r1), 0
}

// SpinResult is the outcome of a CPU spin.
type SpinResult struct {
	Threads int   `json:"threads"`
	WallNS  int64 `json:"wall_ns"`
	// CgroupNS is the CPU time the container's cgroup was charged during
	// the spin (cpuacct.usage or cpu.stat usage_usec); -1 when unreadable.
	CgroupNS int64 `json:"cgroup_ns"`
	// ProcessNS is this process's user+system time during the spin.
	ProcessNS int64 `json:"process_ns"`
	// Throttled is how many more CFS periods were throttled (-1 unknown).
	Throttled int64 `json:"throttled"`
}

// Spin keeps threads CPUs busy for d. Under a CPU quota the CPU time it
// is charged stays near quota × wall time whatever threads asks for.
func Spin(d time.Duration, threads int) SpinResult {
	if threads < 1 {
		threads = 1
	}
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	r := SpinResult{Threads: threads}
	cg0, th0, ru0 := cgroupCPU(), throttled(), rusageNS()
	start := time.Now()
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			x := 0
			for time.Since(start) < d {
				for i := 0; i < 100000; i++ {
					x += i
				}
			}
			runtime.KeepAlive(x)
		}()
	}
	wg.Wait()
	r.WallNS = time.Since(start).Nanoseconds()
	r.ProcessNS = rusageNS() - ru0
	if cg1 := cgroupCPU(); cg0 >= 0 && cg1 >= 0 {
		r.CgroupNS = cg1 - cg0
	} else {
		r.CgroupNS = -1
	}
	if th1 := throttled(); th0 >= 0 && th1 >= 0 {
		r.Throttled = th1 - th0
	} else {
		r.Throttled = -1
	}
	return r
}

func rusageNS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cgroupCPU is the CPU time charged to the container's cgroup, in ns.
func cgroupCPU() int64 {
	if n := readNum("/sys/fs/cgroup/cpuacct/cpuacct.usage"); n >= 0 {
		return n
	}
	if n := readNum("/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"); n >= 0 {
		return n
	}
	if us := cpuStat("/sys/fs/cgroup/cpu.stat", "usage_usec"); us >= 0 {
		return us * 1000
	}
	return -1
}

func throttled() int64 {
	if n := cpuStat("/sys/fs/cgroup/cpu/cpu.stat", "nr_throttled"); n >= 0 {
		return n
	}
	return cpuStat("/sys/fs/cgroup/cpu.stat", "nr_throttled")
}

func cpuStat(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return parseNum(strings.TrimSpace(v))
		}
	}
	return -1
}

// scratchDir is a directory to try things in: a new one under the first
// writable of dirs, or "" when none is writable.
func scratchDir(dirs ...string) (string, func()) {
	for _, d := range dirs {
		if p, err := os.MkdirTemp(d, ".probe-"); err == nil {
			return p, func() { os.RemoveAll(p) }
		}
	}
	return "", func() {}
}

func scratchCandidates() []string {
	c := []string{os.TempDir(), "/tmp", "/dev/shm"}
	if h := os.Getenv("HOME"); h != "" {
		c = append(c, h)
	}
	return c
}

// Mount tries to mount a tmpfs (needs CAP_SYS_ADMIN, and Docker's seccomp
// profile allows mount(2) only then).
func Mount() Attempt {
	dir, done := scratchDir(scratchCandidates()...)
	defer done()
	if dir == "" {
		dir = "/"
	}
	err := syscall.Mount("probe", dir, "tmpfs", 0, "size=64k")
	if err == nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	return attempt("mount", err, "tmpfs on "+dir)
}

// Ptrace tries to attach to pid and detaches again.
func Ptrace(pid int) Attempt {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err := syscall.PtraceAttach(pid)
	if err == nil {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WALL, nil)
		_ = syscall.PtraceDetach(pid)
	}
	return attempt("ptrace", err, "attach to pid "+strconv.Itoa(pid))
}

// RawSocket tries to open a raw ICMP socket (needs CAP_NET_RAW, in
// Docker's default set).
func RawSocket() Attempt {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err == nil {
		syscall.Close(fd)
	}
	return attempt("raw_socket", err, "AF_INET SOCK_RAW ICMP")
}

// ProcSysWrite tries to open a /proc/sys file for writing (it writes
// nothing).
func ProcSysWrite(path string) Attempt {
	if path == "" {
		path = "/proc/sys/kernel/domainname"
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
	}
	return attempt("proc_sys_write", err, path)
}

// Mknod tries to create a character device node for /dev/null's numbers
// (needs CAP_MKNOD, in Docker's default set).
func Mknod() Attempt {
	dir, done := scratchDir(scratchCandidates()...)
	defer done()
	if dir == "" {
		return Attempt{Door: "mknod", Error: "no writable directory to try in"}
	}
	p := filepath.Join(dir, "null")
	err := syscall.Mknod(p, syscall.S_IFCHR|0o600, int((1<<8)|3))
	return attempt("mknod", err, "character device 1:3 in "+dir)
}

// ChownRoot tries to give a file to root:root (needs CAP_CHOWN unless the
// process is root already and owns it).
func ChownRoot() Attempt {
	dir, done := scratchDir(scratchCandidates()...)
	defer done()
	if dir == "" {
		return Attempt{Door: "chown", Error: "no writable directory to try in"}
	}
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return Attempt{Door: "chown", Error: err.Error()}
	}
	return attempt("chown", os.Chown(p, 0, 0), "a file to 0:0")
}

// HelperReport is what the setuid helper prints: the identity it runs
// with after exec.
type HelperReport struct {
	UID    int    `json:"uid"`
	EUID   int    `json:"euid"`
	CapEff string `json:"cap_eff"`
}

// WriteHelperReport prints the running process's HelperReport as JSON;
// the setuid helper's whole job.
func WriteHelperReport() error {
	id, err := ReadIdentity()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(HelperReport{UID: id.UID, EUID: id.EUID, CapEff: id.CapEff})
}

// Setuid runs the setuid-root helper at path and reports whether it gained
// privileges (its effective uid differs from its real uid, or it has
// capabilities its caller does not).
func Setuid(path string) Attempt {
	out, err := exec.Command(path).Output()
	if err != nil {
		return Attempt{Door: "setuid", Error: fmt.Sprintf("run %s: %v", path, err)}
	}
	var r HelperReport
	if err := json.Unmarshal(out, &r); err != nil {
		return Attempt{Door: "setuid", Error: fmt.Sprintf("helper said %q", out)}
	}
	self, _ := ReadIdentity()
	gained := r.EUID != r.UID || (r.CapEff != self.CapEff && r.CapEff != NoCaps)
	a := Attempt{Door: "setuid", Allowed: gained, Detail: fmt.Sprintf("helper runs with uid %d euid %d CapEff %s", r.UID, r.EUID, r.CapEff)}
	if !gained {
		a.Error = "no privileges gained"
	}
	return a
}
