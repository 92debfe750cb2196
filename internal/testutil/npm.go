package testutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// npmDir is where the host's npm package lives (Debian's and nodesource's
// node packages, and `npm install -g npm`, put it there).
const npmDir = "/usr/lib/node_modules/npm"

// NpmImage returns the tag of a local image with the host's node and npm:
// /usr/bin/node and its libraries (as NodeImage), npm's package at
// /usr/lib/node_modules/npm with /usr/bin/npm and /usr/bin/npx linked to
// it, and /bin/sh and /usr/bin/env (npx runs a package's bin through them),
// and an empty /tmp. `npx -y PKG@VERSION --registry URL` runs inside, as
// any user, under a read-only root with HOME on a tmpfs. A new image must
// pass `npx --version` before it is kept.
func NpmImage(t testing.TB) string {
	t.Helper()
	docker := requireImageHost(t)
	node := RequireNode(t)
	if !isDir(npmDir) {
		skipOrFatal(t, "%s needs npm's package at %s", t.Name(), npmDir)
	}
	tag, err := memo.do("image/npm", func() (string, error) {
		h := newHasher()
		h.str("layout", imageLayout)
		tree := rootfs{}
		tree.dir("/tmp", 0o1777)
		if err := h.file("npm/package.json", filepath.Join(npmDir, "package.json")); err != nil {
			return "", err
		}
		nodeBin, err := filepath.EvalSymlinks(node)
		if err != nil {
			return "", err
		}
		bins := map[string]string{"/usr/bin/node": nodeBin}
		for dst, name := range map[string]string{"/bin/sh": "sh", "/usr/bin/env": "env"} {
			p, err := exec.LookPath(name)
			if err != nil {
				return "", err
			}
			if bins[dst], err = filepath.EvalSymlinks(p); err != nil {
				return "", err
			}
		}
		var libs []string
		for _, dst := range []string{"/usr/bin/node", "/bin/sh", "/usr/bin/env"} {
			src := bins[dst]
			if err := h.file(dst, src); err != nil {
				return "", err
			}
			tree.file(dst, src, 0o755)
			ls, err := ldd(src)
			if err != nil {
				return "", err
			}
			libs = append(libs, ls...)
		}
		if err := addHostFiles(h, &tree, libs); err != nil {
			return "", err
		}
		tree.tree(npmDir, npmDir)
		tree.link("/usr/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
		tree.link("/usr/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
		return ensureImage(docker, "npm", h.key(), tree, func(tag string) error {
			return smokeRun(docker, tag, "npx", "--version")
		})
	})
	fatalIf(t, err, "NpmImage")
	return tag
}

// The tiny MCP server NpmRegistry serves as a package.
const (
	NpmPackageName    = "mcp-tiny-server"
	NpmPackageVersion = "1.0.0"
	// NpmMarkerEnv names the variable that makes the server leave a
	// marker file "marker-<value>" in its npm cache ($HOME/.npm) at start;
	// its tool "markers" lists the marker files it finds there.
	NpmMarkerEnv = "TINY_MARKER"
)

// tinyServerJS is the package's MCP server: newline-delimited JSON-RPC on
// stdio, plain Node, no dependencies.
const tinyServerJS = `#!/usr/bin/env node
'use strict';
const fs = require('fs'), path = require('path'), os = require('os'), readline = require('readline');
const cache = path.join(os.homedir(), '.npm');
const marker = process.env.TINY_MARKER || '';
if (marker) {
  try { fs.writeFileSync(path.join(cache, 'marker-' + marker), marker); } catch (e) { console.error('marker: ' + e.message); }
}
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const markers = () => { try { return fs.readdirSync(cache).filter((n) => n.startsWith('marker-')).sort(); } catch (e) { return []; } };
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return; }
  if (msg.id === undefined) return;
  switch (msg.method) {
    case 'initialize':
      send({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'mcp-tiny-server', version: '1.0.0' } } });
      break;
    case 'tools/list':
      send({ jsonrpc: '2.0', id: msg.id, result: { tools: [{ name: 'markers', description: 'Lists the marker files in the npm cache.', inputSchema: { type: 'object' } }] } });
      break;
    case 'tools/call':
      send({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: JSON.stringify(markers()) }] } });
      break;
    case 'ping':
      send({ jsonrpc: '2.0', id: msg.id, result: {} });
      break;
    default:
      send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'method not found: ' + msg.method } });
  }
}).on('close', () => process.exit(0));
`

// npmFile is one file of a package.
type npmFile struct {
	name string // under package/
	mode int64
	data []byte
}

// npmTarball is a package as npm publishes it: a gzipped tar whose entries
// sit under "package/".
func npmTarball(files []npmFile) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "package/" + f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// NpmRegistryOptions shape the registry's package tree.
type NpmRegistryOptions struct {
	// Deps is how many dependencies the tiny server has (packages
	// "mcp-tiny-dep-N", each a separate packument and tarball), so that a
	// first start fetches and unpacks a tree like a real server's.
	Deps int
	// DepBytes is the size of each dependency's one file (incompressible
	// text, so the tarball is about as large).
	DepBytes int
}

// NpmRegistry is a minimal npm registry of the tiny MCP server package
// (and its dependencies), listening on a host address the test chose, that
// counts what it serves.
type NpmRegistry struct {
	// URL is the registry's base URL, "http://HOST:PORT/".
	URL string

	mu       sync.Mutex
	requests map[string]int // "packument", "tarball", "other METHOD PATH"
}

// npmPackage is one package the registry serves.
type npmPackage struct {
	packument []byte
	tarPath   string
	tgz       []byte
}

// StartNpmRegistry serves the tiny package on host (port chosen by the
// system) until the test ends. host must be an address the test may use:
// 127.0.0.1, or the gateway of a docker network (reachable from its
// containers).
func StartNpmRegistry(t testing.TB, host string) *NpmRegistry {
	return StartNpmRegistryWith(t, host, NpmRegistryOptions{})
}

// StartNpmRegistryWith is StartNpmRegistry with a tree of dependencies.
func StartNpmRegistryWith(t testing.TB, host string, opts NpmRegistryOptions) *NpmRegistry {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	fatalIf(t, err, "npm registry listener")
	r := &NpmRegistry{URL: "http://" + ln.Addr().String() + "/", requests: map[string]int{}}
	pkgs := map[string]*npmPackage{}
	add := func(name string, pkgJSON map[string]any, files []npmFile) {
		if err != nil {
			return
		}
		var manifest []byte
		if manifest, err = json.Marshal(pkgJSON); err != nil {
			return
		}
		var tgz []byte
		if tgz, err = npmTarball(append([]npmFile{{"package.json", 0o644, manifest}}, files...)); err != nil {
			return
		}
		tarPath := "/" + name + "/-/" + name + "-" + NpmPackageVersion + ".tgz"
		sha := sha1.Sum(tgz)
		integrity := sha512.Sum512(tgz)
		version := map[string]any{}
		for k, v := range pkgJSON {
			version[k] = v
		}
		version["dist"] = map[string]any{"tarball": strings.TrimSuffix(r.URL, "/") + tarPath, "shasum": hex.EncodeToString(sha[:]),
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(integrity[:])}
		var packument []byte
		packument, err = json.Marshal(map[string]any{
			"_id": name, "name": name, "dist-tags": map[string]string{"latest": NpmPackageVersion},
			"versions": map[string]any{NpmPackageVersion: version},
		})
		pkgs[name] = &npmPackage{packument: packument, tarPath: tarPath, tgz: tgz}
	}
	deps := map[string]string{}
	for i := 0; i < opts.Deps; i++ {
		name := "mcp-tiny-dep-" + strconv.Itoa(i)
		deps[name] = NpmPackageVersion
		add(name, map[string]any{"name": name, "version": NpmPackageVersion, "main": "data.js"},
			[]npmFile{{"data.js", 0o644, filler(name, opts.DepBytes)}})
	}
	add(NpmPackageName, map[string]any{
		"name": NpmPackageName, "version": NpmPackageVersion, "description": "a tiny MCP server for mcpproxy's tests",
		"bin": map[string]string{NpmPackageName: "index.js"}, "license": "MIT", "dependencies": deps,
	}, []npmFile{{"index.js", 0o755, []byte(tinyServerJS)}})
	fatalIf(t, err, "npm packages")
	byTar := map[string]*npmPackage{}
	for _, p := range pkgs {
		byTar[p.tarPath] = p
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p, ok := pkgs[strings.TrimPrefix(req.URL.Path, "/")]; ok && req.Method == http.MethodGet {
			r.count("packument")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(p.packument)
			return
		}
		if p, ok := byTar[req.URL.Path]; ok && req.Method == http.MethodGet {
			r.count("tarball")
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(p.tgz)
			return
		}
		r.count("other " + req.Method + " " + req.URL.Path)
		http.NotFound(w, req)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// filler is n bytes of deterministic, incompressible text: a JavaScript
// comment of base64 from a hash chain seeded with seed.
func filler(seed string, n int) []byte {
	var b bytes.Buffer
	b.WriteString("/*")
	sum := sha512.Sum512([]byte(seed))
	for b.Len() < n-2 {
		b.WriteString(base64.StdEncoding.EncodeToString(sum[:]))
		sum = sha512.Sum512(sum[:])
	}
	out := b.Bytes()
	if len(out) > n-2 && n >= 2 {
		out = out[:n-2]
	}
	return append(out, "*/"...)
}

func (r *NpmRegistry) count(what string) {
	r.mu.Lock()
	r.requests[what]++
	r.mu.Unlock()
}

// Requests returns how many times each thing was asked for so far:
// "packument", "tarball", and "other METHOD PATH" for anything else.
func (r *NpmRegistry) Requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.requests))
	for k, v := range r.requests {
		out[k] = v
	}
	return out
}

// Total is the number of requests so far.
func (r *NpmRegistry) Total() int {
	n := 0
	for _, v := range r.Requests() {
		n += v
	}
	return n
}
