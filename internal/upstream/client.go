package upstream

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newClient is the SDK client of one connection of u: its capabilities
// (roots, sampling, elicitation) and the handlers that route what the
// upstream sends to the right downstream client.
func (m *Manager) newClient(u *Upstream) *mcp.Client {
	name := m.opts.ClientName
	if name == "" {
		name = "mcpproxy"
	}
	c := mcp.NewClient(&mcp.Implementation{Name: name, Version: m.opts.ClientVersion}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{
			Roots: struct {
				ListChanged bool `json:"listChanged,omitempty"`
			}{ListChanged: true},
			Sampling:    &mcp.SamplingCapabilities{},
			Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{}},
		},
		CreateMessageHandler: u.handleCreateMessage,
		ElicitationHandler:   u.handleElicit,
		ToolListChangedHandler: func(ctx context.Context, _ *mcp.ToolListChangedRequest) {
			u.goBackground(u.refreshTools)
			if d := m.downstream(); d != nil {
				d.ListChanged(u.name, "tools")
			}
		},
		PromptListChangedHandler: func(ctx context.Context, _ *mcp.PromptListChangedRequest) {
			if d := m.downstream(); d != nil {
				d.ListChanged(u.name, "prompts")
			}
		},
		ResourceListChangedHandler: func(ctx context.Context, _ *mcp.ResourceListChangedRequest) {
			if d := m.downstream(); d != nil {
				d.ListChanged(u.name, "resources")
			}
		},
		ResourceUpdatedHandler: func(ctx context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			if d := m.downstream(); d != nil {
				d.ResourceUpdated(ctx, u.name, r.Params)
			}
		},
		LoggingMessageHandler:       u.handleLog,
		ProgressNotificationHandler: u.handleProgress,
		ElicitationCompleteHandler:  u.handleElicitationComplete,
	})
	c.AddReceivingMiddleware(u.rootsMiddleware, u.noteMiddleware)
	return c
}
