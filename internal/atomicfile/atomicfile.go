// Package atomicfile replaces files so that a reader sees either the old or
// the new content, never a mix, and a crash leaves one of them: the data is
// written to a temporary file in the same directory, synced, and renamed
// over the target.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFunc replaces path by what write writes, with permissions perm,
// through a buffer of its own: a large file is never held in memory
// whole. Nothing replaces path when write fails.
func WriteFunc(path string, perm os.FileMode, write func(w io.Writer) error) error {
	return replace(path, perm, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 32<<10)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// replace writes a temporary file next to path with fill, syncs it and
// renames it over path.
func replace(path string, perm os.FileMode, fill func(f *os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		err = fill(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // makes the rename durable where directories can be synced
		d.Close()
	}
	return nil
}
