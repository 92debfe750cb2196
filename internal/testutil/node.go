package testutil

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// peersArchive is the Node peers tarball, relative to the shared folder.
const peersArchive = "peers/mcp-node-peers.tar.gz"

// NodePeers returns the directory that holds node_modules with the Node
// reference servers and the conformance suite, unpacked once into the cache
// from ../shared/peers/mcp-node-peers.tar.gz.
func NodePeers(t testing.TB) string {
	t.Helper()
	shared := requireShared(t, "NodePeers (unpacking "+peersArchive+")")
	archive := filepath.Join(shared, filepath.FromSlash(peersArchive))
	if _, err := os.Stat(archive); err != nil {
		skipOrFatal(t, "NodePeers needs %s: %v", archive, err)
	}
	dir, err := memo.do("node-peers", func() (string, error) { return unpackPeers(archive) })
	fatalIf(t, err, "NodePeers")
	return dir
}

// RequireNode returns the path of the host's node binary, or skips the test
// (fails it in CI) when there is none.
func RequireNode(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("node")
	if err != nil {
		skipOrFatal(t, "%s needs node on PATH: %v", t.Name(), err)
	}
	return path
}

func unpackPeers(archive string) (string, error) {
	h := newHasher()
	if err := h.file("archive", archive); err != nil {
		return "", err
	}
	dir, err := cachedDir("node-peers", h.key(), func(dir string) error {
		return untarGz(archive, dir)
	})
	if err != nil {
		return "", err
	}
	peers := filepath.Join(dir, "mcp-node-peers")
	if !isDir(filepath.Join(peers, "node_modules")) {
		return "", fmt.Errorf("%s has no mcp-node-peers/node_modules", archive)
	}
	return peers, nil
}

// untarGz unpacks directories, regular files and symlinks from a .tar.gz into
// dest, refusing any entry whose path leaves dest.
func untarGz(archive, dest string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("unsafe path %q in %s", hdr.Name, archive)
		}
		path := filepath.Join(dest, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, hdr.FileInfo().Mode().Perm()|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, path); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported entry %q (type %c)", archive, hdr.Name, hdr.Typeflag)
		}
	}
}

// ldd lists the absolute paths of the shared libraries binary needs, the
// dynamic loader included, from the output of `ldd binary`.
func ldd(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w\n%s", binary, err, out)
	}
	return parseLdd(string(out))
}

// parseLdd reads ldd's output: "name => /path (addr)" lines give a library,
// a line that starts with a path is the loader, and the vDSO has no path.
func parseLdd(out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		target := line
		if _, after, ok := strings.Cut(line, "=>"); ok {
			target = strings.TrimSpace(after)
			if strings.HasPrefix(target, "not found") {
				return nil, fmt.Errorf("ldd: %s", line)
			}
		}
		if f := strings.Fields(target); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}
