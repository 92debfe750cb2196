package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// operation documents one route of the API. The table below is written by
// hand, apart from the routes' registration (routes.go, auth.go, handler.go):
// TestOpenAPIListsExactlyTheRoutesServed compares the two, and the API tests
// check every answer against the schema documented here.
type operation struct {
	Method, Path string
	Summary      string
	// Open routes need no API key.
	Open  bool
	Query []param
	// Body is a value of the request body's type; nil for none. A
	// json.RawMessage body is "a JSON object" (a merge patch or a server).
	Body     any
	BodyDesc string
	// BodyOptional: the route also takes no body.
	BodyOptional bool
	// Status is the success status (200 when 0) and Response a value of its
	// body's type (nil: no body).
	Status   int
	Response any
	// Stream is set for routes answering text/event-stream (Response is
	// then the events' data).
	Stream bool
	// Errors are the error statuses the route answers besides 401/403.
	Errors []int
}

type param struct {
	Name, Type, Desc string
}

var (
	refreshParam = param{"refresh", "boolean", "probe docker again instead of using the cached answer (15 min when available, 5 min when not)"}
	mergePatch   = "a JSON merge patch (RFC 7396): the fields named are set, null removes one, objects are merged key by key; every other field keeps its value"
)

// operations is every documented route.
var operations = []operation{
	{Method: "GET", Path: "/healthz", Summary: "Liveness: the proxy answers", Open: true, Response: Health{}},
	{Method: "POST", Path: "/api/v1/session", Summary: "Sign the web UI in: the API key for an HttpOnly, SameSite=Strict session cookie", Open: true,
		Body: SignIn{}, Status: 204, Errors: []int{400}},
	{Method: "GET", Path: "/api/v1/session", Summary: "Whether the request is signed in (key or session)", Open: true, Response: SessionState{}},
	{Method: "DELETE", Path: "/api/v1/session", Summary: "Sign the web UI out", Open: true, Status: 204},

	{Method: "GET", Path: "/api/v1/openapi.json", Summary: "This document", Response: map[string]any{}, Errors: []int{400}},

	{Method: "GET", Path: "/api/v1/servers", Summary: "Every server with its state and isolation, the docker status and the config warnings",
		Query: []param{refreshParam}, Response: ServerList{}, Errors: []int{400}},
	{Method: "POST", Path: "/api/v1/servers", Summary: "Add a server (as the config file holds one; it starts at once, not quarantined)",
		Body: json.RawMessage(nil), BodyDesc: "a server object: name, and command/args/env/working_dir or url/headers, enabled, isolation",
		Status: 201, Response: ServerChange{}, Errors: []int{400, 403, 409}},
	{Method: "GET", Path: "/api/v1/servers/{name}", Summary: "One server: its state, configuration (env and header values redacted) and isolation plan (the exact docker run argv)",
		Response: ServerDetail{}, Errors: []int{400, 404}},
	{Method: "PATCH", Path: "/api/v1/servers/{name}", Summary: "Change some fields of a server",
		Body: json.RawMessage(nil), BodyDesc: mergePatch + `; an env or header value "<redacted>" keeps the value in the file; name, quarantined and isolation.allow_dangerous cannot be set here`,
		Response: ServerChange{}, Errors: []int{400, 403, 404}},
	{Method: "DELETE", Path: "/api/v1/servers/{name}", Summary: "Stop and remove a server", Response: Done{}, Errors: []int{400, 403, 404}},
	{Method: "POST", Path: "/api/v1/servers/{name}/enable", Summary: "Enable a server", Response: ServerChange{}, Errors: []int{400, 403, 404}},
	{Method: "POST", Path: "/api/v1/servers/{name}/disable", Summary: "Disable a server (it stops)", Response: ServerChange{}, Errors: []int{400, 403, 404}},
	{Method: "POST", Path: "/api/v1/servers/{name}/restart", Summary: "Stop and start a server", Response: Done{}, Errors: []int{400, 404}},
	{Method: "POST", Path: "/api/v1/servers/{name}/approve", Summary: "Let a quarantined server run; with the fingerprint its list view showed, only if it has not changed since (409)",
		Body: ServerApprove{}, BodyOptional: true, Response: trust.ServerApproval{}, Errors: []int{400, 403, 404, 409}},
	{Method: "GET", Path: "/api/v1/servers/{name}/tools", Summary: "A server's tools with their pin state (approved, changed, new) and diffs",
		Query: []param{{"changed", "boolean", "only the changed and new tools"}}, Response: trust.ServerTools{}, Errors: []int{400, 404}},
	{Method: "POST", Path: "/api/v1/servers/{name}/tools/approve", Summary: "Approve changed or new tools (exactly the definitions seen: their hashes)",
		Body: trust.ToolApproval{}, Response: trust.ToolApprovalResult{}, Errors: []int{400, 404, 409}},
	{Method: "GET", Path: "/api/v1/servers/{name}/logs", Summary: "The last lines of a server's stderr log (secrets masked); with follow=true an event stream of \"log\" events (the last lines, then each new one)",
		Query:    []param{{"lines", "integer", "how many of the last lines (default 100, at most 10000)"}, {"follow", "boolean", "stream: text/event-stream of LogLine"}},
		Response: LogTail{}, Errors: []int{400, 404}},
	{Method: "GET", Path: "/api/v1/servers/{name}/isolation", Summary: "A server's isolation block and what the policy decides with it",
		Response: ServerIsolation{}, Errors: []int{400, 404}},
	{Method: "PATCH", Path: "/api/v1/servers/{name}/isolation", Summary: "Change a server's isolation block (validated as the config file is)",
		Body: json.RawMessage(nil), BodyDesc: mergePatch + "; allow_dangerous is the config file's alone", Response: ServerIsolation{}, Errors: []int{400, 403, 404}},

	{Method: "GET", Path: "/api/v1/tools", Summary: "Every tool clients can see", Query: []param{{"server", "string", "only this server's"}},
		Response: ToolList{}, Errors: []int{400, 404}},
	{Method: "GET", Path: "/api/v1/tools/search", Summary: "Search the tools by what they do (BM25 over names and descriptions)",
		Query:    []param{{"q", "string", "what the tool should do (required)"}, {"limit", "integer", "at most this many (1-100, default 10)"}},
		Response: ToolSearch{}, Errors: []int{400}},
	{Method: "POST", Path: "/api/v1/tools/call", Summary: "Call a tool as call_tool does (withheld and quarantined tools refused); a failing tool is a result with isError",
		Body: ToolCall{}, Response: mcp.CallToolResult{}, Errors: []int{400, 403, 404, 503}},

	{Method: "GET", Path: "/api/v1/docker/status", Summary: "Whether docker can run containers: resolved path, how it was found, daemon version",
		Query: []param{refreshParam}, Response: DockerStatus{}, Errors: []int{400}},
	{Method: "GET", Path: "/api/v1/config/docker-isolation", Summary: "The global docker_isolation block in force, every field", Response: config.DockerIsolation{}, Errors: []int{400}},
	{Method: "PATCH", Path: "/api/v1/config/docker-isolation", Summary: "Change docker_isolation in the config file (validated as the file is; applied at once)",
		Body: json.RawMessage(nil), BodyDesc: mergePatch, Response: config.DockerIsolation{}, Errors: []int{400, 403}},
	{Method: "GET", Path: "/api/v1/config/status", Summary: "Whether the config file on disk is what runs: an invalid edit's problems, the warnings", Response: ConfigStatus{}, Errors: []int{400}},

	{Method: "GET", Path: "/api/v1/events", Summary: "One event stream of state changes: server, server_removed, tools, config, docker, resync (text/event-stream; a comment line every 15 s)",
		Stream: true, Response: Event{}, Errors: []int{400}},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPI is the OpenAPI 3 document of the REST API.
func OpenAPI() []byte {
	openAPIOnce.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic(fmt.Sprintf("openapi: %v", err))
		}
		openAPIDoc = b
	})
	return openAPIDoc
}

var pathParamRe = regexp.MustCompile(`\{([a-z_]+)\}`)

func buildOpenAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}, types: map[string]reflect.Type{}}
	errRef := g.schema(reflect.TypeOf(ErrorBody{}))
	paths := map[string]map[string]any{}
	for _, op := range operations {
		o := map[string]any{"summary": op.Summary, "operationId": operationID(op)}
		var params []any
		for _, m := range pathParamRe.FindAllStringSubmatch(op.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": map[string]any{"type": q.Type}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.Body != nil {
			s := g.schema(reflect.TypeOf(op.Body))
			if _, raw := op.Body.(json.RawMessage); raw {
				s = map[string]any{"type": "object", "description": op.BodyDesc}
			}
			o["requestBody"] = map[string]any{"required": !op.BodyOptional, "content": map[string]any{"application/json": map[string]any{"schema": s}}}
		}
		status := op.Status
		if status == 0 {
			status = 200
		}
		ok := map[string]any{"description": "OK"}
		if op.Response != nil {
			ct := "application/json"
			desc := "OK"
			if op.Stream {
				ct, desc = "text/event-stream", "events; each data line is the JSON named by the event"
			}
			ok = map[string]any{"description": desc, "content": map[string]any{ct: map[string]any{"schema": g.schema(reflect.TypeOf(op.Response))}}}
			if op.Path == "/api/v1/servers/{name}/logs" {
				ok["content"].(map[string]any)["text/event-stream"] = map[string]any{"schema": g.schema(reflect.TypeOf(LogLine{}))}
			}
		}
		responses := map[string]any{fmt.Sprint(status): ok}
		errs := op.Errors
		if !op.Open {
			errs = append(errs, 401)
			o["security"] = []any{map[string]any{"bearer": []string{}}, map[string]any{"apiKey": []string{}}, map[string]any{"session": []string{}}}
		}
		for _, e := range errs {
			responses[fmt.Sprint(e)] = map[string]any{"description": errorText(e),
				"content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		o["responses"] = responses
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		paths[op.Path][strings.ToLower(op.Method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "mcpproxy REST API", "version": "1",
			"description": "Manage a running mcpproxy: servers, tools, logs, Docker isolation, configuration. Every /api/v1 route but the session ones needs the API key (\"api_key\" in the config file) as Authorization: Bearer KEY or X-API-Key: KEY, or the web UI's session cookie; never in a URL. Changes are edits of the config file (atomic, comments kept), validated as the file is."},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
				"apiKey":  map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
		},
	}
}

func operationID(op operation) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	for _, part := range strings.FieldsFunc(op.Path, func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == '{' || r == '}' || r == '_' }) {
		if part == "api" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func errorText(status int) string {
	switch status {
	case 400:
		return "the request (a field, a query parameter, or the configuration it would make) is refused; problems name each field"
	case 401:
		return "no API key, a wrong one, or no session"
	case 403:
		return "the proxy runs with --read-only"
	case 404:
		return "no such server (or tool)"
	case 409:
		return "the state does not allow it (the server exists; the tool definition changed since it was seen)"
	case 503:
		return "the server is not ready"
	}
	return "error"
}

// schemaGen turns Go types into OpenAPI schemas, as encoding/json encodes
// them: named structs become components, referenced by $ref.
type schemaGen struct {
	components map[string]any
	types      map[string]reflect.Type
}

var (
	timeType     = reflect.TypeOf(time.Time{})
	rawType      = reflect.TypeOf(json.RawMessage(nil))
	durationType = reflect.TypeOf(config.Duration(0))
	callResult   = reflect.TypeOf(mcp.CallToolResult{})
	eventType    = reflect.TypeOf(Event{})
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{"description": "any JSON value"}
	case durationType:
		return map[string]any{"type": "string", "description": `a Go duration such as "30s"`}
	case callResult:
		return map[string]any{"type": "object", "description": "the MCP CallToolResult, as the upstream sent it",
			"properties": map[string]any{
				"content":           map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
				"structuredContent": map[string]any{"description": "any JSON value"},
				"isError":           map[string]any{"type": "boolean"},
			}, "required": []string{"content"}, "additionalProperties": map[string]any{}}
	case eventType:
		return map[string]any{"description": "the event's payload: ServerView (server), {name} (server_removed), ToolsEvent (tools), ConfigStatus (config), DockerStatus (docker), {} (resync)",
			"oneOf": []any{g.schema(reflect.TypeOf(ServerView{})), g.schema(reflect.TypeOf(RemovedEvent{})), g.schema(reflect.TypeOf(ToolsEvent{})),
				g.schema(reflect.TypeOf(ConfigStatus{})), g.schema(reflect.TypeOf(DockerStatus{})), map[string]any{"type": "object"}}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := map[string]any{}
		for k, v := range g.schema(t.Elem()) {
			s[k] = v
		}
		if _, ref := s["$ref"]; ref {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem()), "nullable": true}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{"description": "any JSON value"}
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t)
		}
		name := t.Name()
		if prev, ok := g.types[name]; ok && prev != t {
			name = pkgName(t) + name
		}
		if _, done := g.types[name]; !done {
			g.types[name] = t
			g.components[name] = map[string]any{} // placeholder against recursion
			g.components[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no schema for %s", t))
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	p = p[strings.LastIndex(p, "/")+1:]
	if p == "" {
		return ""
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// structSchema is the object encoding/json makes of struct t: exported
// fields by their json names, embedded structs' fields promoted unless a
// shallower field has the name; fields without omitempty/omitzero required.
func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	for _, et := range embedded {
		es := g.structSchema(et)
		for k, v := range es["properties"].(map[string]any) {
			if _, taken := props[k]; !taken {
				props[k] = v
			}
		}
		if req, ok := es["required"].([]string); ok {
			for _, r := range req {
				if !slices.Contains(required, r) {
					required = append(required, r)
				}
			}
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}
