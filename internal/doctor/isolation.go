package doctor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/docker"
	"github.com/mcpproxy/mcpproxy/internal/isolation"
	"github.com/mcpproxy/mcpproxy/internal/machine"
	"github.com/mcpproxy/mcpproxy/internal/shim"
)

// IsolationOptions configures Isolation.
type IsolationOptions struct {
	DataDir, ConfigPath string
	// Servers are the servers to check; none means every isolated one.
	Servers []string
	Out     io.Writer
	Logger  *slog.Logger
}

// doctorTimeout bounds one server's check (image pull included).
const doctorTimeout = 3 * time.Minute

// Isolation runs each server's container plan (Docker backend) with
// the isolation probe in place of the server and prints a scorecard: what
// the box lets a server do, each line PASS or WARN with the setting that
// controls it. It needs no running proxy and changes nothing: the
// containers are labelled like the proxy's own (a leftover is reaped by
// the data dir's next proxy) and removed when their check ends. It returns
// an error when a server could not be checked.
func Isolation(ctx context.Context, o IsolationOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.DockerIsolation.Backend == config.BackendKubernetes {
		return errors.New("doctor isolation checks the Docker backend; this configuration runs servers as Kubernetes pods")
	}
	isolation.SetProxyIDs(os.Getuid(), os.Getgid())
	host := machine.Host(o.DataDir, o.ConfigPath)
	resolver := docker.NewResolver()
	res := resolver.Resolve(ctx)
	if res.Path == "" {
		return errors.New("doctor isolation: the docker CLI was not found")
	}
	runDir, err := os.MkdirTemp("", "mcpproxy-doctor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	instance := randomID()
	rt := &docker.Runtime{Resolver: resolver, Prober: &docker.Prober{Resolve: resolver.Resolve}, RunDir: runDir, Instance: instance, Log: o.Logger}
	defer rt.Close(20 * time.Second)
	if st := rt.Probe(ctx, true); !st.Available {
		return fmt.Errorf("doctor isolation: docker is not available: %s", st.Error)
	}
	if ok, _ := docker.ShimUsable(runtime.GOOS); ok {
		if bin, err := shim.Install(filepath.Join(runDir, "bin")); err == nil {
			rt.SetShimBinary(bin)
		}
	}
	probeBin, err := InstallProbe(filepath.Join(runDir, "bin"), runtime.GOARCH)
	if err != nil {
		return err
	}
	listeners := openProbeListeners(ctx, res.Path)
	defer listeners.close()

	want := map[string]bool{}
	for _, n := range o.Servers {
		if cfg.Server(n) == nil {
			return fmt.Errorf("doctor isolation: no server %q in %s", n, o.ConfigPath)
		}
		want[n] = true
	}
	var failed []string
	checked := 0
	for _, s := range cfg.Servers {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		d := host.Decide(cfg.DockerIsolation, s, res.Path)
		if !d.Isolated {
			if len(want) > 0 {
				fmt.Fprintf(o.Out, "%s  not isolated: %s\n\n", s.Name, d.Reason)
			}
			continue
		}
		checked++
		if d.Err != nil {
			// The proxy would not start it (fail closed): nothing to probe.
			fmt.Fprintf(o.Out, "%s  not started: %v\n\n", s.Name, d.Err)
			failed = append(failed, s.Name)
			continue
		}
		if err := checkServer(ctx, o.Out, rt, res.Path, probeBin, listeners, instance, host, s, d.Plan); err != nil {
			fmt.Fprintf(o.Out, "%s  could not be checked: %v\n\n", s.Name, err)
			failed = append(failed, s.Name)
		}
	}
	if checked == 0 {
		fmt.Fprintln(o.Out, "no isolated server to check (docker_isolation.enabled is "+fmt.Sprint(cfg.DockerIsolation.Enabled)+")")
	}
	if len(failed) > 0 {
		return fmt.Errorf("doctor isolation: could not check %s", strings.Join(failed, ", "))
	}
	return nil
}

// checkServer runs the probe in s's plan and prints its scorecard.
func checkServer(ctx context.Context, out io.Writer, rt *docker.Runtime, dockerPath, probeBin string, ls *probeListeners, instance string, host isolation.Host, s *config.Server, plan *isolation.Plan) error {
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	p := *plan
	p.Setup = ""
	p.Command = ProbePath
	p.Args = nil
	for _, a := range []string{ls.loopback, ls.gateway} {
		if a != "" {
			p.Args = append(p.Args, "-dial", a)
		}
	}
	p.Mounts = append(append([]isolation.Mount(nil), plan.Mounts...), isolation.Mount{
		Type: isolation.MountBind, Source: probeBin, Target: ProbePath, ReadOnly: true, Reason: "doctor probe"})
	if err := rt.EnsureImage(ctx, p.Image, nil); err != nil {
		return err
	}
	var stderr bytes.Buffer
	c, err := rt.Start(ctx, &p, isolation.StartOptions{
		Name: isolation.ContainerName(s.Name, "doctor-"+instance[:6]),
		Labels: map[string]string{isolation.LabelManaged: "true", isolation.LabelInstance: instance, isolation.LabelServer: s.Name,
			isolation.LabelHost: host.HostID, isolation.LabelDataDir: host.DataDirID},
		Env:    s.Env,
		Stderr: &stderr,
	})
	if err != nil {
		return err
	}
	defer c.Stop(context.Background(), 2*time.Second)
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(c.Stdout()).ReadString('\n')
		line <- l
	}()
	var text string
	select {
	case text = <-line:
	case <-ctx.Done():
		return fmt.Errorf("the probe did not report: %w", ctx.Err())
	}
	var r Report
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return fmt.Errorf("the probe did not run in this image (%v); its stderr: %s", err, strings.TrimSpace(stderr.String()))
	}
	obs := Observed{Loopback: ls.loopback, Gateway: ls.gateway, Secrets: len(s.Env), Delivery: c.Facts().Secrets}
	if inspect, err := exec.CommandContext(ctx, dockerPath, "inspect", c.ID()).Output(); err == nil {
		for _, v := range s.Env {
			if v != "" && bytes.Contains(inspect, []byte(v)) {
				obs.SecretsInInspect = true
			}
		}
	}
	_ = c.Stdin().Close()
	Print(out, s.Name, &p, Scorecard(&p, r, obs))
	fmt.Fprintln(out)
	return nil
}

// probeListeners are the listeners the probe tries to reach: one on the
// host's loopback, one on the Docker bridge's gateway address.
type probeListeners struct {
	loopback, gateway string
	lns               []net.Listener
}

func openProbeListeners(ctx context.Context, dockerPath string) *probeListeners {
	ls := &probeListeners{}
	listen := func(addr string) string {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return ""
		}
		ls.lns = append(ls.lns, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	ls.loopback = listen("127.0.0.1:0")
	if gw := dockerBridgeAddress(ctx, dockerPath); gw != "" {
		ls.gateway = listen(net.JoinHostPort(gw, "0"))
	}
	return ls
}

// dockerBridgeAddress is the host's IPv4 address on Docker's default bridge: the
// network's IPAM gateway, or else the address of its bridge interface
// (docker0), which the engine does not always list.
func dockerBridgeAddress(ctx context.Context, dockerPath string) string {
	out, err := exec.CommandContext(ctx, dockerPath, "network", "inspect", "bridge", "--format",
		`{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options "com.docker.network.bridge.name"}}`).Output()
	if err != nil {
		return ""
	}
	gws, ifname, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	for _, gw := range strings.Fields(gws) {
		if ip := net.ParseIP(gw); ip != nil && ip.To4() != nil {
			return gw
		}
	}
	iface, err := net.InterfaceByName(strings.TrimSpace(ifname))
	if err != nil {
		return ""
	}
	addrs, _ := iface.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

func (ls *probeListeners) close() {
	for _, ln := range ls.lns {
		ln.Close()
	}
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
