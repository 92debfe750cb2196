package httpapi

import (
	"net/http"
	"strconv"
	"strings"

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

// RegisterREST adds the REST API's routes to mux, which must be behind
// Auth.Require. openapi.go documents each one; a test checks the two agree.
func RegisterREST(mux Router, svc Service) {
	api := &restAPI{svc: svc}
	handle(mux, "GET /api/v1/openapi.json", api.openAPI)

	handle(mux, "GET /api/v1/servers", api.listServers)
	handle(mux, "POST /api/v1/servers", api.addServer)
	handle(mux, "GET /api/v1/servers/{name}", api.getServer)
	handle(mux, "PATCH /api/v1/servers/{name}", api.patchServer)
	handle(mux, "DELETE /api/v1/servers/{name}", api.removeServer)
	handle(mux, "POST /api/v1/servers/{name}/enable", api.setEnabled(true))
	handle(mux, "POST /api/v1/servers/{name}/disable", api.setEnabled(false))
	handle(mux, "POST /api/v1/servers/{name}/restart", api.restartServer)
	handle(mux, "POST /api/v1/servers/{name}/approve", api.approveServer)
	handle(mux, "GET /api/v1/servers/{name}/tools", api.serverTools)
	handle(mux, "POST /api/v1/servers/{name}/tools/approve", api.approveTools)
	handle(mux, "GET /api/v1/servers/{name}/logs", api.logs)
	handle(mux, "GET /api/v1/servers/{name}/isolation", api.serverIsolation)
	handle(mux, "PATCH /api/v1/servers/{name}/isolation", api.patchServerIsolation)

	handle(mux, "GET /api/v1/tools", api.listTools)
	handle(mux, "GET /api/v1/tools/search", api.searchTools)
	handle(mux, "POST /api/v1/tools/call", api.callTool)

	handle(mux, "GET /api/v1/docker/status", api.dockerStatus)
	handle(mux, "GET /api/v1/config/docker-isolation", api.dockerIsolation)
	handle(mux, "PATCH /api/v1/config/docker-isolation", api.patchDockerIsolation)
	handle(mux, "GET /api/v1/config/status", api.configStatus)

	handle(mux, "GET /api/v1/events", api.events)
}

type restAPI struct {
	svc Service
}

func (a *restAPI) openAPI(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(OpenAPI())
	return err
}

func (a *restAPI) listServers(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "refresh")
	if err != nil {
		return err
	}
	refresh, err := boolParam(q, "refresh")
	if err != nil {
		return err
	}
	l, err := a.svc.ListServers(r.Context(), refresh)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

func (a *restAPI) addServer(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	body, err := objectBody(w, r)
	if err != nil {
		return err
	}
	ch, err := a.svc.AddServer(r.Context(), body)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusCreated, ch)
	return nil
}

func (a *restAPI) getServer(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	d, err := a.svc.GetServer(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, d)
	return nil
}

func (a *restAPI) patchServer(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	body, err := objectBody(w, r)
	if err != nil {
		return err
	}
	ch, err := a.svc.PatchServer(r.Context(), r.PathValue("name"), body)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, ch)
	return nil
}

func (a *restAPI) removeServer(w http.ResponseWriter, r *http.Request) error {
	if err := a.bare(w, r); err != nil {
		return err
	}
	if err := a.svc.RemoveServer(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, Done{OK: true})
	return nil
}

func (a *restAPI) setEnabled(enabled bool) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.bare(w, r); err != nil {
			return err
		}
		ch, err := a.svc.SetServerEnabled(r.Context(), r.PathValue("name"), enabled)
		if err != nil {
			return err
		}
		WriteJSON(w, http.StatusOK, ch)
		return nil
	}
}

func (a *restAPI) restartServer(w http.ResponseWriter, r *http.Request) error {
	if err := a.bare(w, r); err != nil {
		return err
	}
	if err := a.svc.RestartServer(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, Done{OK: true})
	return nil
}

func (a *restAPI) approveServer(w http.ResponseWriter, r *http.Request) error {
	if err := a.bare(w, r); err != nil {
		return err
	}
	res, err := a.svc.ApproveServer(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// bare refuses query parameters and a body.
func (a *restAPI) bare(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	return noBody(w, r)
}

func (a *restAPI) serverTools(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "changed")
	if err != nil {
		return err
	}
	changed, err := boolParam(q, "changed")
	if err != nil {
		return err
	}
	res, err := a.svc.ServerTools(r.Context(), r.PathValue("name"), changed)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (a *restAPI) approveTools(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	var req trust.ToolApproval
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if !req.All && len(req.Tools) == 0 {
		return BadField("tools", `name the approved tools ({"tools": [{"name": "…", "hash": "sha256:…"}]}) or send {"all": true}`)
	}
	for i, t := range req.Tools {
		if t.Name == "" {
			return BadField("tools["+itoa(i)+"].name", "is required")
		}
	}
	res, err := a.svc.ApproveTools(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

// maxLogLines bounds a log tail.
const maxLogLines = 10000

func (a *restAPI) logs(w http.ResponseWriter, r *http.Request) error {
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
		return a.followLog(w, r, name, n)
	}
	tail, err := a.svc.LogTail(r.Context(), name, n)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, tail)
	return nil
}

func (a *restAPI) serverIsolation(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	v, err := a.svc.ServerIsolation(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func (a *restAPI) patchServerIsolation(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	body, err := objectBody(w, r)
	if err != nil {
		return err
	}
	v, err := a.svc.PatchServerIsolation(r.Context(), r.PathValue("name"), body)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, v)
	return nil
}

func (a *restAPI) listTools(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "server")
	if err != nil {
		return err
	}
	server, given := q["server"]
	if given && server == "" {
		return BadField("server", "must name a server")
	}
	l, err := a.svc.ListTools(r.Context(), server)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, l)
	return nil
}

func (a *restAPI) searchTools(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "q", "limit")
	if err != nil {
		return err
	}
	text := strings.TrimSpace(q["q"])
	if text == "" {
		return BadField("q", "is required: what the tool should do, in plain words")
	}
	limit, err := intParam(q, "limit", 10, 1, 100)
	if err != nil {
		return err
	}
	res, err := a.svc.SearchTools(r.Context(), text, limit)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (a *restAPI) callTool(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	var call ToolCall
	if err := decodeBody(w, r, &call); err != nil {
		return err
	}
	server, tool, ok := strings.Cut(call.Name, ":")
	if !ok || server == "" || tool == "" {
		return BadField("name", `must be "server:tool" (GET /api/v1/tools lists them)`)
	}
	if a := strings.TrimSpace(string(call.Arguments)); a != "" && a != "null" && !strings.HasPrefix(a, "{") {
		return BadField("arguments", "must be a JSON object")
	}
	res, err := a.svc.CallTool(r.Context(), server, tool, call.Arguments)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, res)
	return nil
}

func (a *restAPI) dockerStatus(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "refresh")
	if err != nil {
		return err
	}
	refresh, err := boolParam(q, "refresh")
	if err != nil {
		return err
	}
	st, err := a.svc.DockerStatus(r.Context(), refresh)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func (a *restAPI) dockerIsolation(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	di, err := a.svc.DockerIsolation(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, di)
	return nil
}

func (a *restAPI) patchDockerIsolation(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	body, err := objectBody(w, r)
	if err != nil {
		return err
	}
	di, err := a.svc.PatchDockerIsolation(r.Context(), body)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, di)
	return nil
}

func (a *restAPI) configStatus(w http.ResponseWriter, r *http.Request) error {
	if _, err := query(r); err != nil {
		return err
	}
	st, err := a.svc.ConfigStatus(r.Context())
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, st)
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
