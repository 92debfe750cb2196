package docker

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// shimLink is the proxy's end of a container's stdio shim: a unix socket in
// a directory that is bind-mounted into the container. Exactly one
// connection is accepted, and only from a peer that presents the one-time
// token given to the container.
type shimLink struct {
	dir   string
	ln    *net.UnixListener
	token string
}

// newShimLink creates <runDir>/io-<name>/stdio.sock.
func newShimLink(runDir, name string) (*shimLink, error) {
	dir := filepath.Join(runDir, "io-"+name)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The container may run as any user; the directory is reachable only
	// through ~/.mcpproxy (0700) on the host, and the token authenticates.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "stdio.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("stdio socket: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &shimLink{dir: dir, ln: ln, token: hex.EncodeToString(b[:])}, nil
}

// maxEnvBlock is the largest environment block the shim accepts.
const maxEnvBlock = 1 << 20

// envBlock encodes env for the shim: eight hex digits of length, then
// NAME=VALUE entries each ended by NUL (values cannot hold NUL; the
// configuration refuses it), in sorted order.
func envBlock(env map[string]string) ([]byte, error) {
	names := make([]string, 0, len(env))
	n := 0
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("environment variable %q cannot be passed (empty, or holding '=' or NUL)", k)
		}
		names = append(names, k)
		n += len(k) + len(v) + 2
	}
	if n > maxEnvBlock {
		return nil, fmt.Errorf("the server's environment is %d bytes; the limit is %d", n, maxEnvBlock)
	}
	sort.Strings(names)
	b := make([]byte, 0, 8+n)
	b = fmt.Appendf(b, "%08x", n)
	for _, k := range names {
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, env[k]...)
		b = append(b, 0)
	}
	return b, nil
}

// errShimExited means the docker CLI ended before the shim connected: the
// container did not start, or its entrypoint failed.
var errShimExited = errors.New("the container exited before its server connected")

// socket is the host path of the socket file.
func (s *shimLink) socket() string { return filepath.Join(s.dir, "stdio.sock") }

// accept waits for the shim's connection until ctx ends, or until exited is
// closed (the docker CLI ended: the container did not start), and sends it
// env, the server's environment. Connections without the token are dropped
// and the wait goes on. A shim that runs as the container's init says so
// in its handshake ("TOKEN init") and then opens its report connection
// ("TOKEN report", before it starts the server), which accept also waits
// for and returns (nil otherwise). It returns only once its accepting
// goroutine has ended.
func (s *shimLink) accept(ctx context.Context, exited <-chan struct{}, env map[string]string) (stdio, reports *net.UnixConn, err error) {
	block, err := envBlock(env)
	if err != nil {
		s.ln.Close()
		return nil, nil, err
	}
	type result struct {
		stdio, reports *net.UnixConn
		err            error
	}
	ch := make(chan result, 1)
	if d, ok := ctx.Deadline(); ok {
		_ = s.ln.SetDeadline(d)
	}
	go func() {
		var r result
		for {
			c, err := s.ln.AcceptUnix()
			if err != nil {
				r.err = err
				ch <- r
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := readLine(c, 128)
			word, ok := s.hello(line)
			if err != nil || !ok {
				c.Close()
				continue
			}
			_ = c.SetReadDeadline(time.Time{})
			switch {
			case r.stdio == nil && (word == "" || word == helloInit):
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, err := c.Write(block)
				_ = c.SetWriteDeadline(time.Time{})
				if err != nil {
					c.Close()
					r.err = fmt.Errorf("sending the environment to the shim: %w", err)
					ch <- r
					return
				}
				r.stdio = c
				if word == "" {
					ch <- r
					return
				}
			case r.stdio != nil && word == helloReport:
				r.reports = c
				ch <- r
				return
			default:
				c.Close()
			}
		}
	}()
	var why error
	select {
	case r := <-ch:
		if r.err != nil {
			closeConns(r.stdio, r.reports)
			if ctx.Err() != nil {
				r.err = fmt.Errorf("%w (%v)", ctx.Err(), r.err)
			}
			return nil, nil, r.err
		}
		return r.stdio, r.reports, nil
	case <-exited:
		why = errShimExited
	case <-ctx.Done():
		why = ctx.Err()
	}
	// Closing the listener ends the accepting goroutine; wait for it.
	s.ln.Close()
	r := <-ch
	closeConns(r.stdio, r.reports)
	return nil, nil, why
}

// The words that follow the token in a handshake line (see shimbin).
const (
	helloInit   = "init"
	helloReport = "report"
)

// hello checks a handshake line, "TOKEN" or "TOKEN WORD", and returns WORD.
func (s *shimLink) hello(line string) (word string, ok bool) {
	tok, word, _ := strings.Cut(line, " ")
	return word, subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}

func closeConns(cs ...*net.UnixConn) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// readLine reads up to '\n' one byte at a time, so nothing the server
// writes after the handshake is consumed here.
func readLine(c net.Conn, max int) (string, error) {
	var sb strings.Builder
	var b [1]byte
	for sb.Len() < max {
		if _, err := c.Read(b[:]); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return sb.String(), nil
		}
		sb.WriteByte(b[0])
	}
	return "", errors.New("handshake too long")
}

// close removes the socket and its directory.
func (s *shimLink) close() {
	s.ln.Close()
	os.RemoveAll(s.dir)
}

// ShimUsable reports whether containers can reach a unix socket of this
// process, as the stdio shim needs: a Linux host whose daemon is local. A
// remote daemon, or Docker Desktop's VM on macOS, cannot see host sockets;
// MCPPROXY_DOCKER_ATTACH=1 asks for docker's attach stream instead. When it
// cannot be used, why says so.
func ShimUsable(goos string) (ok bool, why string) {
	switch h := os.Getenv("DOCKER_HOST"); {
	case goos != "linux":
		return false, "the docker daemon runs in a VM on " + goos
	case os.Getenv("MCPPROXY_DOCKER_ATTACH") == "1":
		return false, "MCPPROXY_DOCKER_ATTACH=1"
	case h != "" && !strings.HasPrefix(h, "unix://"):
		return false, "DOCKER_HOST is not a local unix socket"
	}
	return true, ""
}
