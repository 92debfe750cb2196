package ui

import (
	"context"

	"github.com/mcpproxy/mcpproxy/internal/config"
	"github.com/mcpproxy/mcpproxy/internal/httpapi"
	"github.com/mcpproxy/mcpproxy/internal/trust"
)

// Service is what the pages read: the part of httpapi.Service the UI
// renders (changes go through the REST API from the browser, so that they
// pass the same authentication and validation as any client's).
type Service interface {
	ListServers(ctx context.Context, refresh bool) (httpapi.ServerList, error)
	GetServer(ctx context.Context, name string) (httpapi.ServerDetail, error)
	ServerTools(ctx context.Context, name string, onlyPending bool) (trust.ServerTools, error)
	LogTail(ctx context.Context, name string, n int) (httpapi.LogTail, error)
	SearchTools(ctx context.Context, query string, limit int) (httpapi.ToolSearch, error)
	DockerIsolation(ctx context.Context) (config.DockerIsolation, error)
	ServerIsolation(ctx context.Context, name string) (httpapi.ServerIsolation, error)
	ConfigStatus(ctx context.Context) (httpapi.ConfigStatus, error)
	DockerStatus(ctx context.Context, refresh bool) (httpapi.DockerStatus, error)
}

// ErrNotFound is what a page for an unknown server fails with (the
// service's config.ErrServerNotFound).
var ErrNotFound = config.ErrServerNotFound
