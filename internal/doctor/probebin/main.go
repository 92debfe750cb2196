// Command probebin is the probe `mcpproxy doctor isolation` runs in place
// of a server, in the server's own container plan: it tries the doors of
// internal/probe that are safe to try anywhere (no fork bomb, no memory
// bomb), prints one JSON report (probe.Report) on stdout, then waits for
// stdin to close (so that the doctor can inspect the running container)
// or a minute, whichever comes first.
//
//	probe [-dial ADDR]…
//
// It is static and imports only the standard library and internal/probe,
// so it runs in any image.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/probe"
)

type dials []string

func (d *dials) String() string     { return strings.Join(*d, ",") }
func (d *dials) Set(v string) error { *d = append(*d, v); return nil }

func main() {
	var ds dials
	flag.Var(&ds, "dial", "try a TCP connection to `ADDR` (repeatable)")
	flag.Parse()
	r := probe.Report{Dials: map[string]probe.Attempt{}}
	id, err := probe.ReadIdentity()
	if err != nil {
		r.Error = err.Error()
	}
	r.Identity = id
	r.Limits = probe.ReadLimits()
	r.Writable = probe.WritablePaths(probe.DefaultWriteCandidates)
	r.Doors = []probe.Attempt{probe.Mount(), probe.RawSocket(), probe.Mknod(), probe.ChownRoot(), probe.ProcSysWrite("")}
	for _, a := range ds {
		r.Dials[a] = probe.Dial(a, 2*time.Second)
	}
	r.Env = probe.EnvNames()
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}
