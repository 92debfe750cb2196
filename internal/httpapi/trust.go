package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// Trust is what the trust routes ask of the app.
type Trust interface {
	// ApproveServer lets a quarantined server run.
	ApproveServer(ctx context.Context, name string) (trust.ServerApproval, error)
}

// RegisterTrust adds the routes of the trust workflow to mux (which must be
// behind Auth.Require):
//
//	POST /api/v1/servers/{name}/approve → trust.ServerApproval
func RegisterTrust(mux *Mux, t Trust) {
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
	case errors.Is(err, config.ErrServerNotFound):
		return http.StatusNotFound
	}
	return fallback
}
