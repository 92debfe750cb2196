package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
	"github.com/mcpproxy/mcpproxy/internal/upstream"
)

// DockerStatusView is docker_status in upstream_servers list and the API.
type DockerStatusView struct {
	// Backend is "kubernetes" when isolated servers run as pods (then
	// DockerPath is the API server and Source the credentials used); ""
	// for docker.
	Backend    string    `json:"backend,omitempty"`
	Available  bool      `json:"available"`
	DockerPath string    `json:"docker_path"`
	Source     string    `json:"source,omitempty"`
	Version    string    `json:"version,omitempty"`
	CheckedAt  time.Time `json:"checked_at"`
	Error      string    `json:"error,omitempty"`
}

// ServerView is one server in upstream_servers list.
type ServerView struct {
	Name            string                  `json:"name"`
	Transport       string                  `json:"transport"`
	State           upstream.State          `json:"state"`
	Enabled         bool                    `json:"enabled"`
	LastError       string                  `json:"last_error,omitempty"`
	ToolCount       int                     `json:"tool_count"`
	Restarts        int                     `json:"restarts"`
	Since           time.Time               `json:"since"`
	DockerAvailable bool                    `json:"docker_available"`
	Isolation       *upstream.IsolationInfo `json:"isolation"`
	// LastExit says why the server's last container ended (for example that
	// it was OOM-killed); it outlives the restart that follows.
	LastExit *upstream.ExitNote `json:"last_exit,omitempty"`
	// Quarantine says why a quarantined server waits and how to approve it.
	Quarantine *trust.QuarantineView `json:"quarantine,omitempty"`
	// ToolsWithheld are the tools held back because they changed or are
	// new since a person approved the server's tools (see
	// GET /api/v1/servers/{name}/tools?changed=1).
	ToolsWithheld []string `json:"tools_withheld,omitempty"`
}

// ServerList is the upstream_servers list result.
type ServerList struct {
	DockerStatus    DockerStatusView `json:"docker_status"`
	DockerIsolation any              `json:"docker_isolation"`
	Servers         []ServerView     `json:"servers"`
	// ConfigWarnings are the configuration file's warnings (unknown keys,
	// settings mcpproxy ignores, dangerous settings allowed by hand), one
	// "line:col: path: message" each.
	ConfigWarnings []string `json:"config_warnings,omitempty"`
}

func (a *App) serverList(ctx context.Context, refresh bool) ServerList {
	cfg := a.Config()
	ds := a.iso.DockerStatus(ctx, refresh)
	out := ServerList{DockerStatus: ds, DockerIsolation: cfg.DockerIsolation, Servers: []ServerView{}}
	for _, w := range cfg.Warnings {
		out.ConfigWarnings = append(out.ConfigWarnings, w.String())
	}
	for _, u := range a.mgr.List() {
		st := u.Status()
		s := u.Config()
		v := ServerView{
			Name: st.Name, Transport: st.Transport, State: st.State, Enabled: st.Enabled,
			LastError: st.Error, ToolCount: st.ToolCount, Restarts: st.Restarts, Since: st.Since,
			DockerAvailable: ds.Available,
		}
		// What the policy says now, merged with what the running start knows
		// (container name and ID, pull progress).
		info := upstream.DescribeDecision(a.iso.Decide(s))
		if st.Isolation != nil && st.Isolation.Isolated == info.Isolated {
			run := *st.Isolation
			run.Reason = info.Reason
			info = &run
		}
		if phase := a.iso.launcher.StartPhase(st.Name); phase != "" && info.Isolated {
			// A (re)start is under way: show its live phase (pull
			// progress), not the previous container's.
			info.Phase = phase
			info.ContainerName, info.ContainerID = "", ""
		}
		v.Isolation = info
		if n, ok := a.iso.launcher.LastExit(st.Name); ok {
			v.LastExit = &n
		}
		if s.Quarantined {
			note, known := a.trust.Quarantine(st.Name)
			v.Quarantine = trust.DescribeQuarantine(s, note, known)
		}
		v.ToolsWithheld = a.gate.Withheld(st.Name)
		out.Servers = append(out.Servers, v)
	}
	return out
}

// writeJSON and writeErr answer as every API route does.
var (
	writeJSON = httpapi.WriteJSON
	writeErr  = httpapi.WriteError
)

// registerAPI adds the small REST API used by scripts and the UI.
func (a *App) registerAPI(mux *httpapi.Mux) {
	mux.HandleFunc("GET /api/v1/servers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.serverList(r.Context(), r.URL.Query().Get("refresh") != ""))
	})
	mux.HandleFunc("GET /api/v1/docker/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.iso.DockerStatus(r.Context(), r.URL.Query().Get("refresh") != ""))
	})
	mux.HandleFunc("PATCH /api/v1/config/docker-isolation", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Enabled *bool `json:"enabled"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil || body.Enabled == nil {
			writeErr(w, http.StatusBadRequest, `body must be {"enabled": true|false}`)
			return
		}
		if err := a.SetDockerIsolation(r.Context(), *body.Enabled); err != nil {
			writeErr(w, httpapi.ErrorStatus(err, http.StatusBadRequest), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"enabled": *body.Enabled})
	})
	mux.HandleFunc("POST /api/v1/servers/{name}/restart", func(w http.ResponseWriter, r *http.Request) {
		if err := a.RestartServer(r.Context(), r.PathValue("name")); err != nil {
			writeErr(w, http.StatusNotFound, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
}
