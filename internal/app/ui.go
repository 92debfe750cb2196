package app

import (
	"embed"
	"net/http"

	"github.com/mcpproxy/mcpproxy/internal/httpapi"
)

//go:embed ui/index.html
var uiFiles embed.FS

// legacyUI serves the one-page web UI at / (server states and the Docker
// isolation toggle) until the web UI of internal/httpapi/ui replaces it. It
// reads the same API as scripts do; no secret is in it.
type legacyUI struct{}

// Register implements httpapi.UI.
func (legacyUI) Register(mux httpapi.Router) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := uiFiles.ReadFile("ui/index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
		w.Header().Set("X-Frame-Options", "DENY")
		_, _ = w.Write(b)
	})
}
