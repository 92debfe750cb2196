package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tailscale/hujson"
)

// ErrServerExists is returned (wrapped) when a server's name is taken.
var ErrServerExists = errors.New("server already exists")

// ErrServerNotFound is returned (wrapped) by edits naming a server the file
// does not hold.
var ErrServerNotFound = errors.New("server not found")

// addServer appends s to the servers of the file: as an array element, or
// as a key in the object form of mcpServers.
func (d *document) addServer(c *Config, s *Server) error {
	if c.Server(s.Name) != nil {
		return fmt.Errorf("add server %q: %w", s.Name, ErrServerExists)
	}
	list := member(&d.root, "mcpServers")
	if list == nil || isNull(list) {
		raw, err := serverJSON(s, true)
		if err != nil {
			return err
		}
		return d.setMember(&d.root, "mcpServers", append(append([]byte("["), raw...), ']'))
	}
	if asObject(list) != nil {
		raw, err := serverJSON(s, false)
		if err != nil {
			return err
		}
		return d.appendMember(list, s.Name, raw)
	}
	raw, err := serverJSON(s, true)
	if err != nil {
		return err
	}
	return d.appendElement(list, raw)
}

// updateServer replaces the server named s.Name by s. Fields that did not
// change keep their text; keys the configuration does not know and comments
// inside the entry are kept.
func (d *document) updateServer(s *Server) error {
	entry, objectForm, err := d.server(s.Name)
	if err != nil {
		return err
	}
	raw, err := serverJSON(s, !objectForm)
	if err != nil {
		return err
	}
	known := serverKeys
	if objectForm {
		// The key is the name; a "name" inside is left alone.
		known = func(k string) bool { return k != "name" && serverKeys(k) }
	}
	return d.syncObject(entry, raw, known, map[string]func(string) bool{
		"isolation": isolationKeys,
		"env":       allKeys,
		"headers":   allKeys,
	})
}

// RemoveServer removes the server named name.
func RemoveServer(path, name string) error {
	return editFile(path, func(d *document, c *Config) error {
		if _, _, err := d.server(name); err != nil {
			return err
		}
		list := member(&d.root, "mcpServers")
		if a := asArray(list); a != nil {
			for i := range a.Elements {
				if serverName(&a.Elements[i]) == name {
					d.removeElement(list, i)
					return nil
				}
			}
		}
		d.removeMember(list, name)
		return nil
	})
}

// SetServerEnabled sets the "enabled" key of the server named name.
func SetServerEnabled(path, name string, enabled bool) error {
	return editFile(path, func(d *document, c *Config) error {
		entry, _, err := d.server(name)
		if err != nil {
			return err
		}
		return d.setMember(entry, "enabled", jsonBool(enabled))
	})
}

// server finds the entry of the server named name and whether mcpServers
// is in the object form.
func (d *document) server(name string) (entry *hujson.Value, objectForm bool, err error) {
	list := member(&d.root, "mcpServers")
	if list != nil {
		if a := asArray(list); a != nil {
			for i := range a.Elements {
				if serverName(&a.Elements[i]) == name {
					return &a.Elements[i], false, nil
				}
			}
		} else if e := member(list, name); e != nil {
			return e, true, nil
		}
	}
	return nil, false, fmt.Errorf("server %q: %w", name, ErrServerNotFound)
}

func serverName(v *hujson.Value) string {
	n := member(v, "name")
	if n == nil {
		return ""
	}
	lit, ok := n.Value.(hujson.Literal)
	if !ok || lit.Kind() != '"' {
		return ""
	}
	return lit.String()
}

// serverJSON renders s as a standard JSON object in field order, without
// "name" when withName is false (object form).
func serverJSON(s *Server, withName bool) ([]byte, error) {
	raw, err := marshal(s)
	if err != nil {
		return nil, err
	}
	if withName {
		return raw, nil
	}
	v, err := hujson.Parse(raw)
	if err != nil {
		return nil, err
	}
	o := asObject(&v)
	if i := memberIndex(o, "name"); i >= 0 {
		o.Members = append(o.Members[:i], o.Members[i+1:]...)
	}
	return v.Pack(), nil
}

// marshal is json.Marshal without HTML escaping ("<" stays "<").
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func jsonBool(b bool) []byte {
	if b {
		return []byte("true")
	}
	return []byte("false")
}

// editLocks serialises edits of the same file within this process.
var editLocks sync.Map // absolute path → *sync.Mutex

// editFile reads the configuration file at path, refuses to go on if it is
// invalid, lets edit change the document, validates the result and writes
// it atomically. Nothing is written if the result is invalid or unchanged.
// A symlinked file is written through to its target.
func editFile(path string, edit func(d *document, c *Config) error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	mu, _ := editLocks.LoadOrStore(abs, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return withFile(err, path)
	}
	d, err := parseDocument(data)
	if err != nil {
		return fmt.Errorf("edit config: %w", err)
	}
	if err := edit(d, cfg); err != nil {
		return err
	}
	out := d.bytes()
	if bytes.Equal(out, data) {
		return nil
	}
	if _, err := Parse(out); err != nil {
		// The positions refer to content that was never written.
		var ve *ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Problems {
				ve.Problems[i].Line, ve.Problems[i].Col = 0, 0
			}
		}
		return withFile(err, path)
	}
	target := path
	if t, err := filepath.EvalSymlinks(path); err == nil {
		target = t
	}
	return writeFileAtomic(target, out)
}

// writeFileAtomic replaces path by data (mode 0600) through a temporary file
// in the same directory, synced before it is renamed over path, so readers
// see either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write config: %w", err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeTemp writes data to a new, synced 0600 file next to path and returns
// its name.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write config: %w", err)
	}
	return name, nil
}

// syncDir makes a rename in dir durable; errors are ignored because not
// every platform can sync a directory.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
