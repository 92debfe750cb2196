package logging

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
)

// maxNameLen bounds the server-name part of a log file name.
const maxNameLen = 64

// ServerLogPath returns the path of the stderr log of the upstream named
// server: <dir>/server-<name>.log. Characters other than ASCII letters,
// digits, '.', '_' and '-' become '_', so no name can leave dir; when the
// name had to be changed (or shortened), a short hash of the original keeps
// distinct servers in distinct files.
func ServerLogPath(dir, server string) string {
	return filepath.Join(dir, "server-"+sanitize(server)+".log")
}

// ServerLog opens the stderr log of the upstream named server for appending
// (see ServerLogPath), rotated like main.log, mode 0600, creating dir 0700
// when missing.
func ServerLog(dir, server string) (io.WriteCloser, error) {
	return openRotated(ServerLogPath(dir, server))
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == name && s != "" && len(s) <= maxNameLen {
		return s
	}
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	sum := sha256.Sum256([]byte(name))
	return s + "-" + hex.EncodeToString(sum[:4])
}
