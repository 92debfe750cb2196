package logging_test

import (
	"errors"
	"log/slog"
	"os"

	"github.com/mcpproxy/mcpproxy/internal/logging"
)

func ExampleNewRedactingHandler() {
	var secrets logging.Redactor
	secrets.Set([]string{"ghp_example_token"}) // e.g. every env and header value in the config

	text := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	})
	logger := slog.New(logging.NewRedactingHandler(text, &secrets))
	logger.Warn("upstream failed", "server", "github",
		"error", errors.New("401: bad credentials ghp_example_token"),
		"argv", []string{"docker", "run", "-e", "GITHUB_TOKEN=ghp_example_token"})
	// Output:
	// level=WARN msg="upstream failed" server=github error="401: bad credentials ***" argv="[docker run -e GITHUB_TOKEN=***]"
}
