package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// Trust is what the trust routes ask of the app.
type Trust interface {
	// ApproveServer lets a quarantined server run.
	ApproveServer(ctx context.Context, name string) (trust.ServerApproval, error)
	// ServerTools lists a server's tools with their pin states (only the
	// changed and new ones with onlyPending).
	ServerTools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error)
	// ApproveTools pins tools a person approved.
	ApproveTools(ctx context.Context, name string, req trust.ToolApproval) (trust.ToolApprovalResult, error)
}

// RegisterTrust adds the routes of the trust workflow to mux (which must be
// behind Auth.Require):
//
//	POST /api/v1/servers/{name}/approve        → trust.ServerApproval
//	GET  /api/v1/servers/{name}/tools          → trust.ServerTools (?changed=1: changed and new only)
//	POST /api/v1/servers/{name}/tools/approve  trust.ToolApproval → trust.ToolApprovalResult
func RegisterTrust(mux *Mux, t Trust) {
	mux.HandleFunc("GET /api/v1/servers/{name}/tools", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("changed")
		res, err := t.ServerTools(r.Context(), r.PathValue("name"), q != "" && q != "0" && q != "false")
		if err != nil {
			WriteError(w, ErrorStatus(err, http.StatusInternalServerError), err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /api/v1/servers/{name}/tools/approve", func(w http.ResponseWriter, r *http.Request) {
		var req trust.ToolApproval
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || (!req.All && len(req.Tools) == 0) {
			WriteError(w, http.StatusBadRequest, `body must be {"tools": [{"name": "…", "hash": "sha256:…"}, …]} or {"all": true}`)
			return
		}
		for i, a := range req.Tools {
			if a.Name == "" {
				WriteError(w, http.StatusBadRequest, fmt.Sprintf("tools[%d].name is required", i))
				return
			}
		}
		res, err := t.ApproveTools(r.Context(), r.PathValue("name"), req)
		if err != nil {
			WriteError(w, ErrorStatus(err, http.StatusInternalServerError), err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /api/v1/servers/{name}/approve", func(w http.ResponseWriter, r *http.Request) {
		res, err := t.ApproveServer(r.Context(), r.PathValue("name"))
		if err != nil {
			WriteError(w, ErrorStatus(err, http.StatusBadRequest), err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, res)
	})
}

// ErrorStatus is the HTTP status of an error from a management operation:
// 403 for --read-only, 404 for an unknown server, 409 when what a person
// approves is no longer what the server presents, fallback otherwise.
func ErrorStatus(err error, fallback int) int {
	switch {
	case errors.Is(err, trust.ErrReadOnly):
		return http.StatusForbidden
	case errors.Is(err, config.ErrServerNotFound), errors.As(err, new(*trust.UnknownToolError)):
		return http.StatusNotFound
	case errors.Is(err, trust.ErrNotLive), errors.As(err, new(*trust.HashMismatchError)):
		return http.StatusConflict
	}
	return fallback
}
