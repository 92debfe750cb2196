//go:build linux

// Command shimbin is the stdio shim mcpproxy mounts into isolated
// containers. It runs as the container's entrypoint:
//
//	/.mcpproxy/shim SOCKET COMMAND [ARG…]
//
// It connects to the unix socket the proxy listens on (the socket file
// alone is bind-mounted, read-only), proves it is the container the proxy
// started by sending the one-time token from MCPPROXY_SHIM_TOKEN, and reads
// the server's environment block from the proxy: eight hex digits giving
// its length, then NAME=VALUE entries each ended by a NUL byte. It makes the
// connection its stdin and stdout, sets the environment (without the
// token) and execs COMMAND. The values so never appear in the container's
// configuration (`docker inspect`), an argv or a file; the MCP server then
// talks to the proxy over the socket directly instead of through the docker
// CLI and daemon, and sees EOF when the proxy goes away.
//
// As PID 1 of the container (mcpproxy then runs it without --init) it does
// not exec the server but runs it as its child and stays as the container's
// init: it reaps orphans, forwards termination signals and exits with the
// server's status; being non-dumpable, it cannot be ptraced by the server.
//
// As init it also opens a second, report connection to the proxy (same
// token, announced in the first handshake line, opened before the server
// runs, never inherited by it): when the server has ended, the shim sends
// on it how often the container's PID limit refused a process (the "max"
// count of the cgroup's pids.events, which the server cannot write), then
// exits. See reports.go.
//
// It imports only os, os/signal and syscall so it links statically and runs
// in any image, including FROM scratch.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

const tokenEnv = "MCPPROXY_SHIM_TOKEN"

func main() {
	if len(os.Args) < 3 {
		fail("usage: shim SOCKET COMMAND [ARG...]")
	}
	sock, argv := os.Args[1], os.Args[2:]
	token := os.Getenv(tokenEnv)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: " + err.Error())
	}
	if fd < 2 {
		// stdin or stdout was closed; keep the socket off fds 0 and 1.
		nfd, err := syscall.Dup(fd)
		if err != nil {
			fail("dup: " + err.Error())
		}
		fd = nfd
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		fail("connect " + sock + ": " + err.Error())
	}
	// As init, the shim announces its report connection (see reports.go).
	asInit := os.Getpid() == 1
	hello := token + "\n"
	if asInit {
		hello = token + " " + helloInit + "\n"
	}
	writeAll(fd, hello, "handshake")
	extra := readEnv(fd)
	rep := -1
	if asInit {
		rep = dialReports(sock, token)
	}
	// dup3 without O_CLOEXEC: the server inherits the copies.
	if err := syscall.Dup3(fd, 0, 0); err != nil {
		fail("dup3 stdin: " + err.Error())
	}
	if err := syscall.Dup3(fd, 1, 0); err != nil {
		fail("dup3 stdout: " + err.Error())
	}
	syscall.Close(fd)
	env := make([]string, 0, len(os.Environ())+len(extra))
	for _, kv := range os.Environ() {
		if hasName(kv, tokenEnv) || overridden(kv, extra) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, extra...)
	path := lookPath(argv[0])
	if asInit {
		os.Exit(runAsInit(path, argv, env, rep))
	}
	err = syscall.Exec(path, argv, env)
	fail("exec " + argv[0] + ": " + err.Error())
}

// runAsInit runs the server as the child of the shim, which stays PID 1 of
// the container: it reaps every process that ends (orphans are its
// children), forwards the termination signals to the server and exits
// with the server's status. It makes itself non-dumpable first, so the
// server (same user, no capabilities) can neither ptrace it nor read its
// memory or environment through /proc/1. rep is the report connection
// (see reports.go): it gets the PID-limit count once the server has ended.
func runAsInit(path string, argv, env []string, rep int) int {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); e != 0 {
		fail("prctl(PR_SET_DUMPABLE): " + e.Error())
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		fail("exec " + argv[0] + ": " + err.Error())
	}
	// Only the server holds the connection now: its end is the proxy's EOF.
	syscall.Close(0)
	syscall.Close(1)
	go func() {
		for s := range sigs {
			_ = syscall.Kill(pid, s.(syscall.Signal))
		}
	}()
	code := waitFor(pid)
	reportEnd(rep)
	return code
}

// waitFor reaps every process that ends until pid does, and returns its
// status as a shell would (128+signal when killed).
func waitFor(pid int) int {
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 127
		}
		if wpid != pid {
			continue // an orphan reaped
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}

// writeAll writes s to fd whole, failing the shim with what on error.
func writeAll(fd int, s string, what string) {
	if err := write(fd, s); err != nil {
		fail(what + ": " + err.Error())
	}
}

// write writes s to fd whole, retrying on EINTR.
func write(fd int, s string) error {
	msg := []byte(s)
	for len(msg) > 0 {
		n, err := syscall.Write(fd, msg)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msg = msg[n:]
	}
	return nil
}

// lookPath finds name in $PATH (the image's), like a shell would.
func lookPath(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return name
		}
	}
	p := os.Getenv("PATH")
	if p == "" {
		p = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == ':' {
			dir := p[start:i]
			start = i + 1
			if dir == "" {
				dir = "."
			}
			cand := dir + "/" + name
			var st syscall.Stat_t
			if syscall.Stat(cand, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&0o111 != 0 {
				return cand
			}
		}
	}
	return name
}

func fail(msg string) {
	os.Stderr.WriteString("mcpproxy shim: " + msg + "\n")
	os.Exit(127)
}

// maxEnvBlock bounds the environment block the proxy sends.
const maxEnvBlock = 1 << 20

// readEnv reads the environment block that follows the handshake: exactly
// its bytes, so nothing of the MCP stream after it is consumed.
func readEnv(fd int) []string {
	var hdr [8]byte
	readFull(fd, hdr[:])
	n := 0
	for _, c := range hdr {
		switch {
		case c >= '0' && c <= '9':
			n = n*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n*16 + int(c-'a'+10)
		default:
			fail("environment block: bad length")
		}
	}
	if n > maxEnvBlock {
		fail("environment block too large")
	}
	buf := make([]byte, n)
	readFull(fd, buf)
	var out []string
	start := 0
	for i, c := range buf {
		if c == 0 {
			if i > start {
				out = append(out, string(buf[start:i]))
			}
			start = i + 1
		}
	}
	return out
}

func readFull(fd int, b []byte) {
	for len(b) > 0 {
		n, err := syscall.Read(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			fail("environment block: " + err.Error())
		}
		if n == 0 {
			fail("environment block: the proxy closed the connection")
		}
		b = b[n:]
	}
}

// hasName reports whether kv ("NAME=VALUE") sets name.
func hasName(kv, name string) bool {
	return len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '='
}

// overridden reports whether one of extra sets kv's variable.
func overridden(kv string, extra []string) bool {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			for _, e := range extra {
				if hasName(e, kv[:i]) {
					return true
				}
			}
			return false
		}
	}
	return false
}
