package app

import "github.com/mcpproxy/mcpproxy/internal/httpapi"

// The list view's types, as the tests of this package name them.
type (
	ServerList = httpapi.ServerList
	ServerView = httpapi.ServerView
)
