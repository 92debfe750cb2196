package upstream

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An HTTP upstream's requests carry its configured headers.
func TestHeaderTransport(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	c := &http.Client{Transport: headerTransport{headers: map[string]string{"Authorization": "Bearer t", "X-Key": "k"}, base: http.DefaultTransport}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, strings.NewReader(""))
	req.Header.Set("Authorization", "overridden")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Get("Authorization") != "Bearer t" || got.Get("X-Key") != "k" {
		t.Fatalf("headers %v", got)
	}
	if req.Header.Get("Authorization") != "overridden" {
		t.Fatal("the caller's request was modified")
	}
}
