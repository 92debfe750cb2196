package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// SendTimeout bounds one report, connection to response.
const SendTimeout = 10 * time.Second

// Body returns the exact request body Send posts for p (what `mcpproxy
// telemetry show` prints).
func (p Payload) Body() ([]byte, error) {
	return json.Marshal(p)
}

// Send POSTs p as JSON to endpoint (an http or https URL) with the User-Agent
// mcpproxy/<version>. Any status other than 2xx is an error.
func Send(ctx context.Context, endpoint string, p Payload) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("send telemetry: endpoint %q is not an http(s) URL", endpoint)
	}
	body, err := p.Body()
	if err != nil {
		return fmt.Errorf("send telemetry: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send telemetry: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mcpproxy/"+p.Version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send telemetry: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("send telemetry to %s: %s", u.Redacted(), resp.Status)
	}
	return nil
}
