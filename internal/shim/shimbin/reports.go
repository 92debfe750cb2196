//go:build linux

package main

import (
	"os"
	"syscall"
)

// The report connection. A shim that runs as the container's init says
// so in its stdio handshake ("TOKEN init"), then opens a second connection
// to the same socket with "TOKEN report" before it starts the server. Once
// the server has ended it sends one line on it,
//
//	pids N
//
// N being how many times the container's PID limit refused a process
// (the "max" line of the cgroup's pids.events), or "-" when the file
// cannot be read; its exit then closes the connection. The connection is
// close-on-exec and kept above fd 2: the server never holds it. The
// cgroup file is read-only in the container and the shim cannot be
// ptraced, so the server cannot forge the count; the proxy still treats
// it as an untrusted number.

const (
	// helloInit follows the token in the stdio handshake of a shim that
	// runs as init: a report connection follows.
	helloInit = "init"
	// helloReport follows the token in the report connection's handshake.
	helloReport = "report"
)

// dialReports opens the report connection.
func dialReports(sock, token string) int {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("report socket: " + err.Error())
	}
	fd = aboveStdio(fd)
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		fail("connect " + sock + " (reports): " + err.Error())
	}
	writeAll(fd, token+" "+helloReport+"\n", "report handshake")
	return fd
}

// aboveStdio moves fd to 3 or above (close-on-exec), so that making the
// stdio connection fds 0 and 1 cannot replace it and the server, which
// inherits 0-2, never gets it.
func aboveStdio(fd int) int {
	if fd > 2 {
		return fd
	}
	nfd, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 3)
	if e != 0 {
		fail("report socket: fcntl: " + e.Error())
	}
	syscall.Close(fd)
	return int(nfd)
}

// reportEnd sends the count on the report connection fd (-1: none) once
// the server has ended; the shim's exit then closes it.
func reportEnd(fd int) {
	if fd < 0 {
		return
	}
	_ = write(fd, "pids "+pidsLimitHits()+"\n")
}

// pidsLimitHits reads the "max" count of the container's pids.events: the
// cgroup v2 file at the root of the container's cgroup namespace, the v1
// pids hierarchy docker mounts, or either under the path /proc/self/cgroup
// names (a shared cgroup namespace). "-" when none can be read.
func pidsLimitHits() string {
	paths := []string{"/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events"}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		paths = append(paths, cgroupEventPaths(string(b))...)
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			if n, ok := parseMaxEvents(b); ok {
				return n
			}
		}
	}
	return "-"
}

// cgroupEventPaths are the pids.events files of the cgroups /proc/self/cgroup
// lists: "0::/path" (v2) and "N:pids:/path" (v1).
func cgroupEventPaths(self string) []string {
	var out []string
	for len(self) > 0 {
		var line string
		line, self = cutLine(self)
		switch {
		case hasPrefix(line, "0::/"):
			out = append(out, "/sys/fs/cgroup"+trimSlash(line[3:])+"/pids.events")
		default:
			if i := index(line, ':'); i >= 0 && hasPrefix(line[i+1:], "pids:/") {
				out = append(out, "/sys/fs/cgroup/pids"+trimSlash(line[i+6:])+"/pids.events")
			}
		}
	}
	return out
}

// parseMaxEvents returns the decimal value of the "max" line of a
// pids.events file ("max 3\n"), at most 18 digits.
func parseMaxEvents(b []byte) (string, bool) {
	s := string(b)
	for len(s) > 0 {
		var line string
		line, s = cutLine(s)
		if !hasPrefix(line, "max ") {
			continue
		}
		v := line[4:]
		if v == "" || len(v) > 18 {
			return "", false
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return "", false
			}
		}
		return v, true
	}
	return "", false
}

// cutLine splits s at its first newline: the line, and what follows it.
func cutLine(s string) (line, rest string) {
	if i := index(s, '\n'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func index(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// trimSlash drops a trailing "/" ("/" itself becomes "").
func trimSlash(p string) string {
	if len(p) > 0 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}
