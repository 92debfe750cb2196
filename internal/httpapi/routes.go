package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// apiHandler is a REST handler: it answers, or returns the error to answer.
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// handle registers h for pattern on mux; an error h returns is answered with
// its status (500 when it has none) and its problems by field.
func handle(mux Router, pattern string, h apiHandler) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeErr(w, err, http.StatusInternalServerError)
		}
	})
}

// request is what a route's parsing made of a request: its context, the
// server named in its path, its query parameters and its JSON body.
type request struct {
	ctx   context.Context
	name  string
	query map[string]string
	body  json.RawMessage
}

// Body kinds of a route.
const (
	noBodyKind             = iota // none, or {}
	objectBodyKind                // one JSON object, passed on as it is
	optionalObjectBodyKind        // none (body nil), or one JSON object
)

// route is a handler that takes the query parameters allowed and a body of
// the kind given, calls f and answers what it returns with status.
func route[T any](status, body int, f func(req request) (T, error), allowed ...string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := query(r, allowed...)
		if err != nil {
			return err
		}
		req := request{ctx: r.Context(), name: r.PathValue("name"), query: q}
		switch body {
		case optionalObjectBodyKind:
			if req.body, err = optionalObjectBody(w, r); err != nil {
				return err
			}
		case objectBodyKind:
			if req.body, err = objectBody(w, r); err != nil {
				return err
			}
		default:
			if err := noBody(w, r); err != nil {
				return err
			}
		}
		v, err := f(req)
		if err != nil {
			return err
		}
		WriteJSON(w, status, v)
		return nil
	}
}

// get is a GET route answering 200.
func get[T any](f func(req request) (T, error), allowed ...string) apiHandler {
	return route(http.StatusOK, noBodyKind, f, allowed...)
}

// action is a route without a body or query answering 200.
func action[T any](f func(req request) (T, error)) apiHandler {
	return route(http.StatusOK, noBodyKind, f)
}

// change is a route taking one JSON object answering status.
func change[T any](status int, f func(req request) (T, error)) apiHandler {
	return route(status, objectBodyKind, f)
}

// done answers Done for an action that answers nothing.
func done(err error) (Done, error) {
	if err != nil {
		return Done{}, err
	}
	return Done{OK: true}, nil
}

// RegisterREST adds the REST API's routes to mux, which must be behind
// Auth.Require. openapi.go documents each one; a test checks the two agree.
func RegisterREST(mux Router, svc Service) {
	handle(mux, "GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, err := w.Write(OpenAPI())
		return err
	})

	handle(mux, "GET /api/v1/servers", get(func(req request) (ServerList, error) {
		refresh, err := boolParam(req.query, "refresh")
		if err != nil {
			return ServerList{}, err
		}
		return svc.ListServers(req.ctx, refresh)
	}, "refresh"))
	handle(mux, "POST /api/v1/servers", change(http.StatusCreated, func(req request) (ServerChange, error) {
		return svc.AddServer(req.ctx, req.body)
	}))
	handle(mux, "GET /api/v1/servers/{name}", get(func(req request) (ServerDetail, error) {
		return svc.GetServer(req.ctx, req.name)
	}))
	handle(mux, "PATCH /api/v1/servers/{name}", change(http.StatusOK, func(req request) (ServerChange, error) {
		return svc.PatchServer(req.ctx, req.name, req.body)
	}))
	handle(mux, "DELETE /api/v1/servers/{name}", action(func(req request) (Done, error) {
		return done(svc.RemoveServer(req.ctx, req.name))
	}))
	for verb, enabled := range map[string]bool{"enable": true, "disable": false} {
		handle(mux, "POST /api/v1/servers/{name}/"+verb, action(func(req request) (ServerChange, error) {
			return svc.SetServerEnabled(req.ctx, req.name, enabled)
		}))
	}
	handle(mux, "POST /api/v1/servers/{name}/restart", action(func(req request) (Done, error) {
		return done(svc.RestartServer(req.ctx, req.name))
	}))
	handle(mux, "POST /api/v1/servers/{name}/approve", route(http.StatusOK, optionalObjectBodyKind, func(req request) (trust.ServerApproval, error) {
		var in ServerApprove
		if req.body != nil {
			if err := decodeObject(req.body, &in); err != nil {
				return trust.ServerApproval{}, err
			}
		}
		return svc.ApproveServer(req.ctx, req.name, in.Fingerprint)
	}))
	handle(mux, "GET /api/v1/servers/{name}/tools", get(func(req request) (trust.ServerTools, error) {
		changed, err := boolParam(req.query, "changed")
		if err != nil {
			return trust.ServerTools{}, err
		}
		return svc.ServerTools(req.ctx, req.name, changed)
	}, "changed"))
	handle(mux, "POST /api/v1/servers/{name}/tools/approve", change(http.StatusOK, func(req request) (trust.ToolApprovalResult, error) {
		var a trust.ToolApproval
		if err := decodeObject(req.body, &a); err != nil {
			return trust.ToolApprovalResult{}, err
		}
		if !a.All && len(a.Tools) == 0 {
			return trust.ToolApprovalResult{}, BadField("tools", `name the approved tools ({"tools": [{"name": "…", "hash": "sha256:…"}]}) or send {"all": true}`)
		}
		for i, t := range a.Tools {
			if t.Name == "" {
				return trust.ToolApprovalResult{}, BadField("tools["+strconv.Itoa(i)+"].name", "is required")
			}
		}
		return svc.ApproveTools(req.ctx, req.name, a)
	}))
	handle(mux, "GET /api/v1/servers/{name}/logs", logsRoute(svc))
	handle(mux, "GET /api/v1/servers/{name}/isolation", get(func(req request) (ServerIsolation, error) {
		return svc.ServerIsolation(req.ctx, req.name)
	}))
	handle(mux, "PATCH /api/v1/servers/{name}/isolation", change(http.StatusOK, func(req request) (ServerIsolation, error) {
		return svc.PatchServerIsolation(req.ctx, req.name, req.body)
	}))

	handle(mux, "GET /api/v1/tools", get(func(req request) (ToolList, error) {
		server, given := req.query["server"]
		if given && server == "" {
			return ToolList{}, BadField("server", "must name a server")
		}
		return svc.ListTools(req.ctx, server)
	}, "server"))
	handle(mux, "GET /api/v1/tools/search", get(func(req request) (ToolSearch, error) {
		text := strings.TrimSpace(req.query["q"])
		if text == "" {
			return ToolSearch{}, BadField("q", "is required: what the tool should do, in plain words")
		}
		limit, err := intParam(req.query, "limit", 10, 1, 100)
		if err != nil {
			return ToolSearch{}, err
		}
		return svc.SearchTools(req.ctx, text, limit)
	}, "q", "limit"))
	handle(mux, "POST /api/v1/tools/call", change(http.StatusOK, func(req request) (*mcp.CallToolResult, error) {
		var call ToolCall
		if err := decodeObject(req.body, &call); err != nil {
			return nil, err
		}
		server, tool, ok := strings.Cut(call.Name, ":")
		if !ok || server == "" || tool == "" {
			return nil, BadField("name", `must be "server:tool" (GET /api/v1/tools lists them)`)
		}
		if a := strings.TrimSpace(string(call.Arguments)); a != "" && a != "null" && !strings.HasPrefix(a, "{") {
			return nil, BadField("arguments", "must be a JSON object")
		}
		return svc.CallTool(req.ctx, server, tool, call.Arguments)
	}))

	handle(mux, "GET /api/v1/docker/status", get(func(req request) (DockerStatus, error) {
		refresh, err := boolParam(req.query, "refresh")
		if err != nil {
			return DockerStatus{}, err
		}
		return svc.DockerStatus(req.ctx, refresh)
	}, "refresh"))
	handle(mux, "GET /api/v1/config/docker-isolation", get(func(req request) (config.DockerIsolation, error) {
		return svc.DockerIsolation(req.ctx)
	}))
	handle(mux, "PATCH /api/v1/config/docker-isolation", change(http.StatusOK, func(req request) (config.DockerIsolation, error) {
		return svc.PatchDockerIsolation(req.ctx, req.body)
	}))
	handle(mux, "GET /api/v1/config/status", get(func(req request) (ConfigStatus, error) {
		return svc.ConfigStatus(req.ctx)
	}))

	handle(mux, "GET /api/v1/events", eventsRoute(svc))
}

// maxLogLines bounds a log tail.
const maxLogLines = 10000

// logsRoute answers a log tail as JSON, or with follow=true streams it.
func logsRoute(svc Service) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := query(r, "lines", "follow")
		if err != nil {
			return err
		}
		n, err := intParam(q, "lines", 100, 0, maxLogLines)
		if err != nil {
			return err
		}
		follow, err := boolParam(q, "follow")
		if err != nil {
			return err
		}
		name := r.PathValue("name")
		if follow {
			return followLog(w, r, svc, name, n)
		}
		tail, err := svc.LogTail(r.Context(), name, n)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, tail)
		return nil
	}
}
