package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document lists exactly the routes the handler serves: every
// registered REST, session and health route is documented, and nothing
// else is.
func TestOpenAPIListsExactlyTheRoutesServed(t *testing.T) {
	h := NewHandler(Options{Auth: &Auth{Key: func() string { return "" }}})
	served := h.Routes()
	documented := Operations()
	slices.Sort(served)
	slices.Sort(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not in the OpenAPI document: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("in the OpenAPI document but not served: %s", r)
		}
	}
	if len(served) != len(slices.Compact(slices.Clone(served))) {
		t.Errorf("a route is registered twice: %v", served)
	}

	// The document itself says the same.
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var inDoc []string
	for path, ops := range doc.Paths {
		for method := range ops {
			inDoc = append(inDoc, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(inDoc)
	if !slices.Equal(inDoc, documented) {
		t.Fatalf("the document's paths %v\nare not the operations %v", inDoc, documented)
	}
}

// Operations are the documented routes (for the tests) as "METHOD /path" patterns.
func Operations() []string {
	out := make([]string, len(operations))
	for i, op := range operations {
		out[i] = op.Method + " " + op.Path
	}
	return out
}
