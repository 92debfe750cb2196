package proxy

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkFastPathSimpleText profiles the fast path in process (client,
// proxy and upstream's pipes): go test ./internal/proxy -run '^$' -bench
// FastPath -benchtime 10000x -cpuprofile cpu.out
func BenchmarkFastPathSimpleText(b *testing.B) {
	_, url := fastPathProxyTB(b)
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	ctx := context.Background()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
