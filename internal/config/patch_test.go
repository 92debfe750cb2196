package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const patchBase = `{
  // servers
  "mcpServers": [
    {
      "name": "fs", // the files
      "command": "npx",
      "args": ["-y", "server-fs"],
      "env": {"TOKEN": "s3cret", "MODE": "ro"},
      "isolation": {"memory_limit": "256m"} /* tight */
    }
  ],
  "docker_isolation": {"enabled": true} // on
}
`

func patchFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPatchServer(t *testing.T) {
	for _, tc := range []struct {
		name, patch string
		opts        PatchOptions
		// want are substrings of the file afterwards; gone must not be in it.
		want, gone []string
		// errPath, when set, is the problem's path (nothing written).
		errPath string
	}{
		{name: "sets one field, keeps the rest and the comments", patch: `{"args": ["-y", "server-fs", "/data"]}`,
			want: []string{`"args": ["-y", "server-fs", "/data"]`, `"TOKEN": "s3cret"`, "// the files", "/* tight */", "// servers", `"memory_limit": "256m"`}},
		{name: "merges env by name", patch: `{"env": {"EXTRA": "1"}}`,
			want: []string{`"TOKEN": "s3cret"`, `"MODE": "ro"`, `"EXTRA": "1"`}},
		{name: "null removes", patch: `{"env": {"MODE": null}, "isolation": null}`,
			want: []string{`"TOKEN": "s3cret"`}, gone: []string{`"MODE"`, `"isolation"`}},
		{name: "keep placeholder keeps the secret", patch: `{"env": {"TOKEN": "<redacted>", "MODE": "rw"}}`, opts: PatchOptions{Keep: "<redacted>"},
			want: []string{`"TOKEN": "s3cret"`, `"MODE": "rw"`}},
		{name: "keep placeholder for a name the file lacks", patch: `{"env": {"NEW": "<redacted>"}}`, opts: PatchOptions{Keep: "<redacted>"},
			errPath: "mcpServers[0].env.NEW"},
		{name: "nested isolation merge", patch: `{"isolation": {"cpu_limit": "0.5"}}`,
			want: []string{`"memory_limit": "256m"`, `"cpu_limit": "0.5"`, "/* tight */"}},
		{name: "invalid value named by path", patch: `{"isolation": {"memory_limit": "lots"}}`, errPath: "mcpServers[0].isolation.memory_limit"},
		{name: "wrong type named by path", patch: `{"args": "x"}`, errPath: "mcpServers[0].args"},
		{name: "unknown key with did you mean", patch: `{"comand": "node"}`, errPath: "mcpServers[0].comand"},
		{name: "unknown isolation key", patch: `{"isolation": {"memroy_limit": "1g"}}`, errPath: "mcpServers[0].isolation.memroy_limit"},
		{name: "a server needs a command", patch: `{"command": null}`, errPath: "mcpServers[0].command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := patchFile(t, patchBase)
			err := PatchServer(p, "fs", []byte(tc.patch), tc.opts)
			data, _ := os.ReadFile(p)
			if tc.errPath != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err %v, want a ValidationError at %s", err, tc.errPath)
				}
				found := false
				for _, pr := range ve.Problems {
					found = found || pr.Path == tc.errPath
				}
				if !found {
					t.Fatalf("problems %v, want one at %s", ve.Problems, tc.errPath)
				}
				if string(data) != patchBase {
					t.Fatalf("a refused patch changed the file:\n%s", data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("lacks %q:\n%s", w, data)
				}
			}
			for _, g := range tc.gone {
				if strings.Contains(string(data), g) {
					t.Errorf("still has %q:\n%s", g, data)
				}
			}
			if _, err := Parse(data); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := PatchServer(patchFile(t, patchBase), "nosuch", []byte(`{}`), PatchOptions{}); !errors.Is(err, ErrServerNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestPatchServerObjectForm(t *testing.T) {
	p := patchFile(t, `{"mcpServers": {"fs": {"command": "npx", "env": {"A": "1"}}}}`)
	if err := PatchServer(p, "fs", []byte(`{"env": {"B": "2"}}`), PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Server("fs"); s == nil || s.Env["A"] != "1" || s.Env["B"] != "2" {
		t.Fatalf("%+v", s)
	}
	var ve *ValidationError
	if err := PatchServer(p, "fs", []byte(`{"name": "other"}`), PatchOptions{}); !errors.As(err, &ve) || ve.Problems[0].Path != "mcpServers.fs.name" {
		t.Fatalf("name in the object form: %v", err)
	}
}

func TestPatchDockerIsolation(t *testing.T) {
	p := patchFile(t, patchBase)
	if err := PatchDockerIsolation(p, []byte(`{"memory_limit": "1g", "default_images": {"node": "node:22"}}`)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DockerIsolation.Enabled || cfg.DockerIsolation.MemoryLimit != "1g" || cfg.DockerIsolation.DefaultImages["node"] != "node:22" {
		t.Fatalf("%+v", cfg.DockerIsolation)
	}
	if !strings.Contains(string(data), "// on") {
		t.Fatalf("comment lost:\n%s", data)
	}
	var ve *ValidationError
	for patch, path := range map[string]string{
		`{"extra_args": ["--privileged"]}`: "docker_isolation.extra_args[0]",
		`{"enabeld": false}`:               "docker_isolation.enabeld",
		`{"pids_limit": 0}`:                "docker_isolation.pids_limit",
	} {
		err := PatchDockerIsolation(p, []byte(patch))
		if !errors.As(err, &ve) || !strings.HasPrefix(ve.Problems[0].Path, strings.Split(path, "[")[0]) {
			t.Errorf("%s: %v, want a problem at %s", patch, err, path)
		}
	}
	// A file without the block gets one.
	p = patchFile(t, `{"mcpServers": []}`)
	if err := PatchDockerIsolation(p, []byte(`{"enabled": true, "cpu_limit": null}`)); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load(p); err != nil || !cfg.DockerIsolation.Enabled {
		t.Fatalf("%v %+v", err, cfg)
	}
}

func TestAddServerJSON(t *testing.T) {
	for _, base := range []string{`{"mcpServers": [{"name": "a", "command": "x"}]}`, `{"mcpServers": {"a": {"command": "x"}}}`, `{}`} {
		p := patchFile(t, base)
		if err := AddServerJSON(p, []byte(`{"name": "b", "command": "y", "env": {"K": "v"}, "isolation": {"enabled": null}}`)); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		cfg, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if s := cfg.Server("b"); s == nil || s.Command != "y" || s.Env["K"] != "v" {
			t.Fatalf("%s: %+v", base, cfg.Servers)
		}
		if err := AddServerJSON(p, []byte(`{"name": "b", "command": "z"}`)); !errors.Is(err, ErrServerExists) {
			t.Fatalf("%s: duplicate: %v", base, err)
		}
		var ve *ValidationError
		if err := AddServerJSON(p, []byte(`{"name": "c", "comand": "z"}`)); !errors.As(err, &ve) {
			t.Fatalf("%s: unknown key: %v", base, err)
		}
	}
}

// A url sent back as it was shown (RedactURL with the keep placeholder)
// keeps the file's, judged against the file inside the edit; any other url
// is written as sent.
func TestPatchKeepsMaskedURL(t *testing.T) {
	const url = "http://user:p-secret@127.0.0.1:9/mcp?api_key=q-secret&v=1"
	base := `{"mcpServers": [{"name": "remote", "url": "` + url + `"}]}`
	keep := PatchOptions{Keep: "<redacted>"}
	shown := RedactURL(url, keep.Keep)
	if strings.Contains(shown, "secret") || !strings.Contains(shown, "127.0.0.1:9/mcp") {
		t.Fatalf("RedactURL = %q", shown)
	}
	for _, tc := range []struct {
		name, url string
		opts      PatchOptions
		want      string
	}{
		{"the shown url keeps the file's", shown, keep, url},
		{"another url replaces it", "http://127.0.0.1:10/mcp", keep, "http://127.0.0.1:10/mcp"},
		{"the file's own url stays", url, keep, url},
		{"without keep the placeholder is text", shown, PatchOptions{}, shown},
	} {
		p := patchFile(t, base)
		patch, _ := json.Marshal(map[string]string{"url": tc.url})
		if err := PatchServer(p, "remote", patch, tc.opts); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Server("remote").URL; got != tc.want {
			t.Errorf("%s: url %q, want %q", tc.name, got, tc.want)
		}
	}
	// A masked url that is not the file's as shown (an old view, the mask
	// pasted into another url) is refused: the mask never replaces the
	// secrets in the file.
	for _, masked := range []string{
		RedactURL("http://user:old@127.0.0.1:9/mcp?api_key=x", keep.Keep),
		"http://127.0.0.1:11/mcp?token=" + keep.Keep,
		RedactURL("http://127.0.0.1:11/mcp?token=abcd", keep.Keep),
	} {
		p := patchFile(t, base)
		before, _ := os.ReadFile(p)
		patch, _ := json.Marshal(map[string]string{"url": masked})
		err := PatchServer(p, "remote", patch, keep)
		if err == nil || !strings.Contains(err.Error(), "mcpServers[0].url") || !strings.Contains(err.Error(), "send the whole url with its secrets") {
			t.Errorf("url %q: %v, want refused naming the url", masked, err)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, before) {
			t.Errorf("url %q: the file changed:\n%s", masked, after)
		}
	}
}
