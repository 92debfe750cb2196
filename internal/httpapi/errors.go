package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// RequestError is a request refused for what it says: each problem names
// the field (a body field, a query parameter, or the configuration key the
// change would set). It answers 400.
type RequestError struct {
	Problems []Problem
}

func (e *RequestError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		if p.Path == "" {
			parts[i] = p.Message
		} else {
			parts[i] = p.Path + ": " + p.Message
		}
	}
	return strings.Join(parts, "; ")
}

// BadField returns a RequestError for one field.
func BadField(path, msg string) *RequestError {
	return &RequestError{Problems: []Problem{{Path: path, Message: msg}}}
}

// ErrConflict is wrapped by errors of actions the current state does not
// allow (a server that exists already, a tool approval of a definition the
// server no longer presents). It answers 409.
var ErrConflict = errors.New("conflict")

// ErrUnavailable is wrapped by errors of actions that need something not
// running (a tool call to a server that is not ready). It answers 503.
var ErrUnavailable = errors.New("unavailable")

// Conflict marks err as ErrConflict (409), keeping its message.
func Conflict(err error) error { return &kindError{err: err, kind: ErrConflict} }

// Unavailable marks err as ErrUnavailable (503), keeping its message.
func Unavailable(err error) error { return &kindError{err: err, kind: ErrUnavailable} }

type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// ErrorStatus is the HTTP status of an error from a Service call: 400 for a
// refused request or configuration change, 403 for --read-only, 404 for an
// unknown server or tool, 409 for a conflict, 503 when what is needed is not
// running; fallback otherwise.
func ErrorStatus(err error, fallback int) int {
	var re *RequestError
	var ve *config.ValidationError
	var refused *trust.RefusedError
	switch {
	case errors.As(err, &re), errors.As(err, &ve), errors.As(err, &refused):
		return http.StatusBadRequest
	case errors.Is(err, trust.ErrReadOnly):
		return http.StatusForbidden
	case errors.Is(err, config.ErrServerNotFound), errors.As(err, new(*trust.UnknownToolError)):
		return http.StatusNotFound
	case errors.Is(err, trust.ErrNotLive), errors.As(err, new(*trust.HashMismatchError)),
		errors.Is(err, config.ErrServerExists), errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return fallback
}

// problemsOf lists err's problems by field, when it has any.
func problemsOf(err error) []Problem {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Problems
	}
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		out := make([]Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = ConfigProblem(p)
		}
		return out
	}
	var refused *trust.RefusedError
	if errors.As(err, &refused) {
		return []Problem{{Path: refused.Field, Message: refused.Why}}
	}
	return nil
}

// ConfigProblem is a configuration problem as the API shows it.
func ConfigProblem(p config.Problem) Problem {
	return Problem{Path: p.Path, Line: p.Line, Col: p.Col, Message: p.Msg}
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError answers {"error": msg} with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}

// writeErr answers err with its status (fallback when it has none of its
// own) and its problems by field.
func writeErr(w http.ResponseWriter, err error, fallback int) {
	WriteJSON(w, ErrorStatus(err, fallback), ErrorBody{Error: err.Error(), Problems: problemsOf(err)})
}

func writeJSONRPCError(w http.ResponseWriter, status int, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": code, "message": msg},
	})
}
