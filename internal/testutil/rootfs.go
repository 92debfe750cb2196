package testutil

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// rootfs describes an image's root filesystem: directories, host files
// copied to absolute paths, and host trees copied whole (symlinks kept).
type rootfs struct {
	entries []rootfsEntry
}

type rootfsEntry struct {
	dst  string // absolute path in the image
	src  string // host file or tree; "" for a directory
	mode int64  // unix permission bits, as in a tar header (0o1777 for /tmp)
	tree bool
	link string // a symlink's target
}

func (r *rootfs) dir(dst string, mode int64) {
	r.entries = append(r.entries, rootfsEntry{dst: dst, mode: mode})
}

// file copies host file src (symlinks followed) to dst with mode.
func (r *rootfs) file(dst, src string, mode int64) {
	r.entries = append(r.entries, rootfsEntry{dst: dst, src: src, mode: mode})
}

// tree copies the host directory src to dst, keeping modes and symlinks.
func (r *rootfs) tree(dst, src string) {
	r.entries = append(r.entries, rootfsEntry{dst: dst, src: src, tree: true})
}

// link makes dst a symlink to target.
func (r *rootfs) link(dst, target string) {
	r.entries = append(r.entries, rootfsEntry{dst: dst, link: target})
}

// writeTar writes the filesystem as a tar stream, adding parent directories
// (mode 0755) before their contents. Everything is owned by root.
func (r *rootfs) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	made := map[string]bool{}
	var parents func(p string) error
	parents = func(p string) error {
		if p == "." || p == "/" || p == "" || made[p] {
			return nil
		}
		if err := parents(path.Dir(p)); err != nil {
			return err
		}
		made[p] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755})
	}
	for _, e := range r.entries {
		name := strings.TrimPrefix(path.Clean(e.dst), "/")
		if err := parents(path.Dir(name)); err != nil {
			return err
		}
		var err error
		switch {
		case e.link != "":
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: e.link, Mode: 0o777})
		case e.tree:
			err = writeTree(tw, name, e.src, made)
		case e.src == "":
			made[name] = true
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: e.mode})
		default:
			err = writeFile(tw, name, e.src, e.mode)
		}
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

func writeFile(tw *tar.Writer, name, src string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: fi.Size(), ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func writeTree(tw *tar.Writer, name, src string, made map[string]bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := path.Join(name, filepath.ToSlash(rel))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			made[dst] = true
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dst + "/", Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: dst, Linkname: target, Mode: 0o777, ModTime: fi.ModTime()})
		case d.Type().IsRegular():
			return writeFile(tw, dst, p, int64(fi.Mode().Perm()))
		default:
			return fmt.Errorf("%s: unsupported file type %v", p, d.Type())
		}
	})
}
