// Package probe tries, from inside a container, the doors an isolated MCP
// server could use to reach past its box, and reports what happened: each
// function attempts one thing (write where it should not, gain privileges,
// exhaust a limit, reach a host service) and says whether the kernel let it.
//
// It is used by the hostile test server (internal/testutil/hostile), whose
// MCP tools each call one probe, and by `mcpproxy doctor isolation`, which
// runs every probe in a server's container plan and prints a scorecard. It
// uses only the standard library and raw system calls, so it links
// statically and runs in any image, including FROM scratch.
package probe

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Attempt is the outcome of trying one door.
type Attempt struct {
	// Door names what was tried ("mount", "raw_socket", …).
	Door string `json:"door"`
	// Allowed is true when the attempt succeeded: the door is open.
	Allowed bool `json:"allowed"`
	// Error is the kernel's answer when it was refused ("operation not
	// permitted").
	Error string `json:"error,omitempty"`
	// Detail adds what was observed ("wrote 1 KiB", "euid 0").
	Detail string `json:"detail,omitempty"`
}

func attempt(door string, err error, detail string) Attempt {
	a := Attempt{Door: door, Allowed: err == nil, Detail: detail}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

// Identity is who the process is and what it may do, as the kernel says in
// /proc/self/status.
type Identity struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"`
	// CapEff, CapPrm, CapBnd and CapAmb are the capability sets as the
	// kernel prints them (16 hex digits); "0000000000000000" is none.
	CapEff string `json:"cap_eff"`
	CapPrm string `json:"cap_prm"`
	CapBnd string `json:"cap_bnd"`
	CapAmb string `json:"cap_amb"`
	// NoNewPrivs is 1 when setuid binaries cannot gain privileges.
	NoNewPrivs int `json:"no_new_privs"`
	// Seccomp is 0 (off), 1 (strict) or 2 (filter).
	Seccomp  int    `json:"seccomp"`
	Hostname string `json:"hostname"`
}

// ReadIdentity reads the calling process's identity.
func ReadIdentity() (Identity, error) {
	id := Identity{
		UID: os.Getuid(), GID: os.Getgid(), EUID: os.Geteuid(), EGID: os.Getegid(),
		NoNewPrivs: -1, Seccomp: -1,
	}
	id.Groups, _ = os.Getgroups()
	id.Hostname, _ = os.Hostname()
	status, err := procStatus("/proc/self/status")
	if err != nil {
		return id, err
	}
	id.CapEff, id.CapPrm, id.CapBnd, id.CapAmb = status["CapEff"], status["CapPrm"], status["CapBnd"], status["CapAmb"]
	if v, err := strconv.Atoi(status["NoNewPrivs"]); err == nil {
		id.NoNewPrivs = v
	}
	if v, err := strconv.Atoi(status["Seccomp"]); err == nil {
		id.Seccomp = v
	}
	return id, nil
}

// procStatus parses a /proc/<pid>/status file into key → value.
func procStatus(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, sc.Err()
}

// NoCaps is the value of an empty capability set in /proc/self/status.
const NoCaps = "0000000000000000"

// Limits are the resource limits the process runs under. -1 means no
// limit (or unknown).
type Limits struct {
	MemoryBytes int64 `json:"memory_bytes"`
	// MemorySwapBytes is memory plus swap (equal to MemoryBytes when no
	// swap is allowed).
	MemorySwapBytes int64 `json:"memory_swap_bytes"`
	PidsMax         int64 `json:"pids_max"`
	PidsCurrent     int64 `json:"pids_current"`
	CPUQuotaMicros  int64 `json:"cpu_quota_us"`
	CPUPeriodMicros int64 `json:"cpu_period_us"`
	NoFileSoft      int64 `json:"nofile_soft"`
	NoFileHard      int64 `json:"nofile_hard"`
	// Cgroup is "v1" or "v2".
	Cgroup string `json:"cgroup"`
}

// ReadLimits reads the container's cgroup limits (v1 or v2) and the
// open-files rlimit.
func ReadLimits() Limits {
	l := Limits{MemoryBytes: -1, MemorySwapBytes: -1, PidsMax: -1, PidsCurrent: -1, CPUQuotaMicros: -1, CPUPeriodMicros: -1}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		l.Cgroup = "v2"
		l.MemoryBytes = readNum("/sys/fs/cgroup/memory.max")
		if sw := readNum("/sys/fs/cgroup/memory.swap.max"); sw >= 0 && l.MemoryBytes >= 0 {
			l.MemorySwapBytes = l.MemoryBytes + sw
		}
		l.PidsMax = readNum("/sys/fs/cgroup/pids.max")
		l.PidsCurrent = readNum("/sys/fs/cgroup/pids.current")
		if b, err := os.ReadFile("/sys/fs/cgroup/cpu.max"); err == nil {
			f := strings.Fields(string(b))
			if len(f) == 2 {
				l.CPUQuotaMicros = parseNum(f[0])
				l.CPUPeriodMicros = parseNum(f[1])
			}
		}
	} else {
		l.Cgroup = "v1"
		l.MemoryBytes = unlimitedV1(readNum("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
		l.MemorySwapBytes = unlimitedV1(readNum("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"))
		l.PidsMax = readNum("/sys/fs/cgroup/pids/pids.max")
		l.PidsCurrent = readNum("/sys/fs/cgroup/pids/pids.current")
		l.CPUQuotaMicros = readNum("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
		l.CPUPeriodMicros = readNum("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
	}
	l.NoFileSoft, l.NoFileHard = noFile()
	return l
}

// unlimitedV1 maps cgroup v1's "no limit" (a page-rounded huge number) to -1.
func unlimitedV1(n int64) int64 {
	if n >= 1<<62 {
		return -1
	}
	return n
}

func readNum(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return parseNum(strings.TrimSpace(string(b)))
}

func parseNum(s string) int64 {
	if s == "max" {
		return -1
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// WriteResult is the outcome of writing into a directory.
type WriteResult struct {
	Dir string `json:"dir"`
	// Wrote is how many bytes reached the file before the first error.
	Wrote int64  `json:"wrote"`
	Error string `json:"error,omitempty"`
}

// TryWrite creates a file in dir, writes size bytes into it (at least one)
// in 1 MiB pieces and removes it again. A full file system stops it with
// the error and the bytes written so far.
func TryWrite(dir string, size int64) WriteResult {
	r := WriteResult{Dir: dir}
	if size < 1 {
		size = 1
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for r.Wrote < size {
		n := min(int64(len(chunk)), size-r.Wrote)
		m, err := f.Write(chunk[:n])
		r.Wrote += int64(m)
		if err != nil {
			r.Error = err.Error()
			return r
		}
	}
	if err := f.Sync(); err != nil {
		r.Error = err.Error()
	}
	return r
}

// DefaultWriteCandidates are the directories WritablePaths checks besides
// the mount points: the root, system directories and the usual scratch and
// home places.
var DefaultWriteCandidates = []string{"/", "/etc", "/usr", "/bin", "/lib", "/var", "/opt", "/root", "/home", "/tmp", "/var/tmp", "/run", "/dev/shm"}

// WritablePaths returns the directories among candidates, the mount points
// of the container and $HOME in which a file can be created.
func WritablePaths(candidates []string) []string {
	seen := map[string]bool{}
	var out []string
	check := func(dir string) {
		dir = filepath.Clean(dir)
		if seen[dir] || strings.HasPrefix(dir, "/proc") || strings.HasPrefix(dir, "/sys") {
			return
		}
		seen[dir] = true
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return
		}
		if TryWrite(dir, 1).Error == "" {
			out = append(out, dir)
		}
	}
	for _, d := range candidates {
		check(d)
	}
	if h := os.Getenv("HOME"); h != "" {
		check(h)
	}
	for _, m := range mountPoints() {
		check(m)
	}
	return out
}

// mountPoints lists the mount points in /proc/self/mountinfo.
func mountPoints() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Dial opens a TCP connection to addr and closes it: Allowed means the
// address is reachable from here.
func Dial(addr string, timeout time.Duration) Attempt {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err == nil {
		c.Close()
	}
	return attempt("dial "+addr, err, "")
}

// DefaultGateway returns the IPv4 default gateway from /proc/net/route
// (under Docker's bridge network: the host's bridge address).
func DefaultGateway() (string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[1] != "00000000" {
			continue
		}
		v, err := strconv.ParseUint(fields[2], 16, 32)
		if err != nil {
			continue
		}
		// /proc/net/route prints the address in host (little-endian) order.
		return fmt.Sprintf("%d.%d.%d.%d", byte(v), byte(v>>8), byte(v>>16), byte(v>>24)), nil
	}
	return "", errors.New("no default route")
}

// Alloc allocates mb MiB, touches every page and keeps it until the
// process exits; under a memory limit the kernel OOM-kills the process.
func Alloc(mb int) {
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		held = append(held, b)
	}
}

var held [][]byte

// Report is what the isolation probe (`mcpproxy doctor isolation`) prints:
// everything it observed from inside a server's container.
type Report struct {
	Identity Identity           `json:"identity"`
	Limits   Limits             `json:"limits"`
	Writable []string           `json:"writable"`
	Doors    []Attempt          `json:"doors"`
	Dials    map[string]Attempt `json:"dials"`
	Env      []string           `json:"env"`
	Error    string             `json:"error,omitempty"`
}

// EnvNames returns the names of the environment variables (no values).
func EnvNames() []string {
	env := os.Environ()
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	return out
}
