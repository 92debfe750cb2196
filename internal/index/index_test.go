package index

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	"github.com/blevesearch/bleve/v2/search/query"
)

// fsTools resemble the reference filesystem server's tools.
var fsTools = []Tool{
	{Name: "read_file", Description: "Read the complete contents of a file from the file system."},
	{Name: "read_text_file", Description: "Read the complete contents of a file as text."},
	{Name: "read_multiple_files", Description: "Read the contents of multiple files simultaneously."},
	{Name: "write_file", Description: "Create a new file or completely overwrite an existing file with new content."},
	{Name: "edit_file", Description: "Make line-based edits to a text file."},
	{Name: "create_directory", Description: "Create a new directory or ensure a directory exists."},
	{Name: "list_directory", Description: "Get a detailed listing of all files and directories in a specified path."},
	{Name: "move_file", Description: "Move or rename files and directories."},
	{Name: "search_files", Description: "Recursively search for files and directories matching a pattern."},
	{Name: "get_file_info", Description: "Retrieve detailed metadata about a file or directory."},
}

var memoryTools = []Tool{
	{Name: "create_entities", Description: "Create multiple new entities in the knowledge graph"},
	{Name: "create_relations", Description: "Create multiple new relations between entities in the knowledge graph"},
	{Name: "add_observations", Description: "Add new observations to existing entities in the knowledge graph"},
	{Name: "read_graph", Description: "Read the entire knowledge graph"},
	{Name: "search_nodes", Description: "Search for nodes in the knowledge graph based on a query"},
	{Name: "open_nodes", Description: "Open specific nodes in the knowledge graph by their names"},
}

func newIndex(t testing.TB) *Index {
	t.Helper()
	ix, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func set(t testing.TB, ix *Index, server string, tools []Tool) {
	t.Helper()
	if err := ix.Apply(map[string][]Tool{server: tools}); err != nil {
		t.Fatal(err)
	}
}

func names(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Server + ":" + h.Name
	}
	return out
}

func rank(hits []Hit, server, name string) int {
	for i, h := range hits {
		if h.Server == server && h.Name == name {
			return i
		}
	}
	return -1
}

func search(t *testing.T, ix *Index, q string, limit int) []Hit {
	t.Helper()
	hits, err := ix.Search(q, limit)
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	return hits
}

func TestSearchRanking(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "filesystem", fsTools)
	set(t, ix, "memory", memoryTools)

	tests := []struct {
		query  string
		better []string // each ranks above every name in worse
		worse  []string
	}{
		{"read file", []string{"filesystem:read_file", "filesystem:read_text_file"}, []string{"filesystem:write_file", "filesystem:edit_file", "memory:read_graph"}},
		{"read_file", []string{"filesystem:read_file"}, []string{"filesystem:read_text_file", "filesystem:write_file"}},
		{"write", []string{"filesystem:write_file"}, []string{"filesystem:read_file"}},
		{"knowledge graph entities", []string{"memory:create_entities"}, []string{"memory:read_graph", "filesystem:read_file"}},
		{"directories", []string{"filesystem:create_directory", "filesystem:list_directory"}, []string{"filesystem:read_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hits := search(t, ix, tt.query, 50)
			for _, b := range tt.better {
				server, name, _ := strings.Cut(b, ":")
				rb := rank(hits, server, name)
				if rb < 0 {
					t.Fatalf("%s not found; hits %v", b, names(hits))
				}
				for _, w := range tt.worse {
					server, name, _ := strings.Cut(w, ":")
					if rw := rank(hits, server, name); rw >= 0 && rw < rb {
						t.Errorf("%s (rank %d) above %s (rank %d); hits %v", w, rw, b, rb, names(hits))
					}
				}
			}
		})
	}
}

func TestSearchIdentifierForms(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "s", []Tool{
		{Name: "readFile"},
		{Name: "fetch-url"},
		{Name: "HTMLParser"},
		{Name: "get_user_by_id"},
		{Name: "base64Encode"},
		{Name: "unrelated"},
	})
	tests := []struct{ query, want string }{
		{"read file", "readFile"},
		{"file", "readFile"},
		{"readFile", "readFile"},
		{"read_file", "readFile"},
		{"url", "fetch-url"},
		{"fetch url", "fetch-url"},
		{"html", "HTMLParser"},
		{"parser", "HTMLParser"},
		{"user", "get_user_by_id"},
		{"getUserById", "get_user_by_id"},
		{"base64", "base64Encode"},
		{"encode", "base64Encode"},
	}
	for _, tt := range tests {
		hits := search(t, ix, tt.query, 10)
		if len(hits) == 0 || hits[0].Name != tt.want {
			t.Errorf("Search(%q) = %v, want %s first", tt.query, names(hits), tt.want)
		}
	}
}

func TestSearchDescriptionAndServer(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "github", []Tool{{Name: "create_issue", Description: "Open a new issue in a repository"}})
	set(t, ix, "jira", []Tool{{Name: "create_ticket", Description: "Open a ticket"}})

	if hits := search(t, ix, "repository", 10); len(hits) != 1 || hits[0].Name != "create_issue" {
		t.Errorf("description match: %v", names(hits))
	}
	if hits := search(t, ix, "github", 10); len(hits) != 1 || hits[0].Server != "github" {
		t.Errorf("server match: %v", names(hits))
	}
	// Name words weigh more than description words.
	set(t, ix, "x", []Tool{
		{Name: "alpha", Description: "ticket ticket helper"},
		{Name: "ticket", Description: "something else"},
	})
	hits := search(t, ix, "ticket", 10)
	if rank(hits, "x", "ticket") > rank(hits, "x", "alpha") {
		t.Errorf("name boost: %v", names(hits))
	}
}

func TestSearchReturnsTool(t *testing.T) {
	ix := newIndex(t)
	schema := json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"}}}`)
	set(t, ix, "fs", []Tool{{Server: "ignored", Name: "read_file", Description: "Read a file", InputSchema: schema}})
	hits := search(t, ix, "read", 1)
	if len(hits) != 1 {
		t.Fatalf("hits %v", names(hits))
	}
	h := hits[0]
	if h.Server != "fs" || h.Name != "read_file" || h.Description != "Read a file" || string(h.InputSchema) != string(schema) {
		t.Errorf("hit %+v", h)
	}
	if h.Score <= 0 {
		t.Errorf("score %v", h.Score)
	}
}

func TestSearchLimitAndTieOrder(t *testing.T) {
	ix := newIndex(t)
	// Identical tools score identically; ties go by server, then name.
	for _, s := range []string{"b", "a", "c"} {
		set(t, ix, s, []Tool{{Name: "tool_two", Description: "identical"}, {Name: "tool_one", Description: "identical"}})
	}
	want := []string{"a:tool_one", "a:tool_two", "b:tool_one", "b:tool_two", "c:tool_one", "c:tool_two"}
	for i := 0; i < 20; i++ {
		got := names(search(t, ix, "identical", 0))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
	if got := names(search(t, ix, "identical", 3)); fmt.Sprint(got) != fmt.Sprint(want[:3]) {
		t.Errorf("limit 3: %v", got)
	}
}

func TestSearchEmptyQuery(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "fs", fsTools)
	for _, q := range []string{"", "   ", "\t\n"} {
		if _, err := ix.Search(q, 10); err == nil {
			t.Errorf("Search(%q): no error", q)
		}
	}
	// Only stop words: valid, nothing matches.
	if hits := search(t, ix, "the", 10); len(hits) != 0 {
		t.Errorf("stop words matched %v", names(hits))
	}
}

func TestReplaceServerTools(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "fs", fsTools)
	set(t, ix, "memory", memoryTools)
	if got, want := ix.Count(), len(fsTools)+len(memoryTools); got != want {
		t.Fatalf("Count = %d, want %d", got, want)
	}
	set(t, ix, "fs", []Tool{{Name: "read_file", Description: "new description mentions zebra"}, {Name: "brand_new"}})
	if got, want := ix.Count(), 2+len(memoryTools); got != want {
		t.Fatalf("Count after replace = %d, want %d", got, want)
	}
	if hits := search(t, ix, "write", 10); len(hits) != 0 {
		t.Errorf("replaced tool still found: %v", names(hits))
	}
	if hits := search(t, ix, "complete contents", 10); len(hits) != 0 {
		t.Errorf("old description still found: %v", names(hits))
	}
	if hits := search(t, ix, "zebra", 10); len(hits) != 1 || hits[0].Name != "read_file" {
		t.Errorf("new description: %v", names(hits))
	}
	if hits := search(t, ix, "brand", 10); len(hits) != 1 {
		t.Errorf("new tool: %v", names(hits))
	}
	// An empty list removes the server.
	set(t, ix, "fs", nil)
	if got := ix.Count(); got != len(memoryTools) {
		t.Errorf("Count after empty replace = %d", got)
	}
}

func TestRemoveServer(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "fs", fsTools)
	set(t, ix, "memory", memoryTools)
	if err := ix.Apply(map[string][]Tool{"fs": nil}); err != nil {
		t.Fatal(err)
	}
	if got := ix.Count(); got != len(memoryTools) {
		t.Errorf("Count = %d", got)
	}
	if hits := search(t, ix, "file", 10); len(hits) != 0 {
		t.Errorf("removed tools found: %v", names(hits))
	}
	if hits := search(t, ix, "graph", 10); len(hits) == 0 {
		t.Error("other server's tools gone")
	}
	if err := ix.Apply(map[string][]Tool{"unknown": nil}); err != nil {
		t.Errorf("removing an unknown server: %v", err)
	}
}

func TestApplyRejects(t *testing.T) {
	ix := newIndex(t)
	if err := ix.Apply(map[string][]Tool{"fs": []Tool{{Name: ""}}}); err == nil {
		t.Error("empty tool name accepted")
	}
	if err := ix.Apply(map[string][]Tool{"a\x00b": []Tool{{Name: "x"}}}); err == nil {
		t.Error("NUL in server name accepted")
	}
	if ix.Count() != 0 {
		t.Errorf("Count = %d after rejected calls", ix.Count())
	}
}

func TestClosed(t *testing.T) {
	ix, err := New()
	if err != nil {
		t.Fatal(err)
	}
	set(t, ix, "fs", fsTools)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ix.Search("file", 1); err == nil {
		t.Error("Search after Close: no error")
	}
	if err := ix.Apply(map[string][]Tool{"fs": fsTools}); err == nil {
		t.Error("Apply after Close: no error")
	}
}

// TestRepeatedReplaceStaysCorrect drives the index through many rebuilds.
func TestRepeatedReplaceStaysCorrect(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "memory", memoryTools)
	for i := 0; i < 3*rebuildAfter+5; i++ {
		set(t, ix, "fs", []Tool{{Name: fmt.Sprintf("tool_v%d", i), Description: "versioned"}})
	}
	hits := search(t, ix, "versioned", 10)
	if len(hits) != 1 || hits[0].Name != fmt.Sprintf("tool_v%d", 3*rebuildAfter+4) {
		t.Errorf("hits %v", names(hits))
	}
	if got := ix.Count(); got != 1+len(memoryTools) {
		t.Errorf("Count = %d", got)
	}
	if hits := search(t, ix, "graph", 10); len(hits) == 0 {
		t.Error("other server lost in rebuild")
	}
}

func TestConcurrentUse(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "memory", memoryTools)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := ix.Apply(map[string][]Tool{fmt.Sprintf("fs%d", w): fsTools[:1+i%len(fsTools)]}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				hits, err := ix.Search("read file graph", 20)
				if err != nil {
					t.Error(err)
					return
				}
				for _, h := range hits {
					if h.Name == "" || h.Server == "" {
						t.Errorf("bad hit %+v", h)
					}
				}
			}
		}()
	}
	wg.Wait()
	if got, want := ix.Count(), 4*len(fsTools)+len(memoryTools); got != want {
		t.Errorf("Count = %d, want %d", got, want)
	}
}

// syntheticTools returns n tools for server s with realistic name, description
// and schema sizes (descriptions ~200 bytes, schemas ~300 bytes).
func syntheticTools(s, n int) []Tool {
	verbs := []string{"read", "write", "list", "search", "create", "delete", "update", "get"}
	nouns := []string{"file", "issue", "pull_request", "entity", "page", "record", "message", "branch"}
	out := make([]Tool, n)
	for i := range out {
		v, o := verbs[(s+i)%len(verbs)], nouns[(i/len(verbs))%len(nouns)]
		out[i] = Tool{
			Name: fmt.Sprintf("%s_%s_%d", v, o, i),
			Description: fmt.Sprintf("%s a %s on upstream %d. Accepts an identifier and optional filters, "+
				"returns the matching %s objects as JSON with their metadata, timestamps and owners; "+
				"fails when the caller lacks permission.", v, o, s, o),
			InputSchema: json.RawMessage(fmt.Sprintf(`{"type":"object","properties":{"id":{"type":"string","description":"The %s identifier"},`+
				`"filter":{"type":"string","description":"Optional filter expression"},"limit":{"type":"integer","minimum":1,"maximum":100}},"required":["id"]}`, o)),
		}
	}
	return out
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemory500Tools measures the heap held by an index of 500 tools from 20
// servers, as Apply builds it at proxy start. It logs the figure (go
// test -v -run Memory) and fails only on a gross regression.
func TestMemory500Tools(t *testing.T) {
	const servers, perServer = 20, 25
	before := heapInUse()
	ix, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < servers; s++ {
		set(t, ix, fmt.Sprintf("server%d", s), syntheticTools(s, perServer))
	}
	if _, err := ix.Search("read file", 10); err != nil {
		t.Fatal(err)
	}
	held := int64(heapInUse()) - int64(before)
	t.Logf("index of %d tools holds %d KiB of heap (tool names, descriptions and schemas included)", ix.Count(), held/1024)

	// Replacing tool lists over and over leaves bounded garbage: the
	// in-memory index is rebuilt every rebuildAfter batches.
	const replacements = 10 * rebuildAfter
	for i := 0; i < replacements; i++ {
		set(t, ix, fmt.Sprintf("server%d", i%servers), syntheticTools(i%servers, perServer))
	}
	churned := int64(heapInUse()) - int64(before)
	t.Logf("after %d more replacements it holds %d KiB", replacements, churned/1024)
	runtime.KeepAlive(ix)
	ix.Close()

	const limit = 4 << 20
	if held > limit || churned > limit {
		t.Errorf("index heap %d / %d bytes, want ≤ %d", held, churned, limit)
	}
}

func BenchmarkApply25(b *testing.B) {
	ix := newIndex(b)
	tools := syntheticTools(0, 25)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := ix.Apply(map[string][]Tool{fmt.Sprintf("s%d", i%20): tools}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSearch500(b *testing.B) {
	ix := newIndex(b)
	for s := 0; s < 20; s++ {
		set(b, ix, fmt.Sprintf("server%d", s), syntheticTools(s, 25))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ix.Search("read file", 10); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScoringIsBM25 guards against bleve silently falling back to TF-IDF
// (which it does, for instance, for bleve.NewMemOnly indexes).
func TestScoringIsBM25(t *testing.T) {
	ix := newIndex(t)
	set(t, ix, "fs", fsTools)
	e := ix.engine
	r, err := e.idx.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q := query.NewMatchQuery("file")
	q.SetField("name")
	ctx := context.WithValue(context.Background(), blevesearch.GetScoringModelCallbackKey, bm25)
	s, err := q.Searcher(ctx, r, e.mapping, blevesearch.SearcherOptions{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collector.NewTopNCollector(1, 0, sortOrder)
	if err := c.Collect(ctx, s, r); err != nil {
		t.Fatal(err)
	}
	res := c.Results()
	if len(res) == 0 {
		t.Fatal("no hits")
	}
	if expl := res[0].Expl.String(); !strings.Contains(expl, "bm25") {
		t.Errorf("score is not BM25:\n%s", expl)
	}
}

// Tools of many servers applied together are one segment of the index:
// the proxy's indexer applies every server's list at once after start-up,
// where one batch per server kept two to four times the heap. The batch
// count is the property; the heap is only required to be smaller, since a
// heap reading moves with the race detector and with the collector's timing.
func TestApplyManyServersAtOnce(t *testing.T) {
	tools := func() []Tool {
		var out []Tool
		for i := range 12 {
			out = append(out, Tool{Name: fmt.Sprintf("tool_%d", i), Description: fmt.Sprintf("Does thing number %d with the text it is given.", i)})
		}
		return out
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	one, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	all := map[string][]Tool{}
	for i := range 20 {
		all[fmt.Sprintf("s%d", i)] = tools()
	}
	if err := one.Apply(all); err != nil {
		t.Fatal(err)
	}
	together := heap() - base
	if one.batches != 1 || one.Count() != 240 {
		t.Fatalf("%d batches, %d tools", one.batches, one.Count())
	}
	base = heap()
	each, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer each.Close()
	for i := range 20 {
		if err := each.Apply(map[string][]Tool{fmt.Sprintf("s%d", i): tools()}); err != nil {
			t.Fatal(err)
		}
	}
	apart := heap() - base
	t.Logf("heap of 20 servers' tools: %d KB applied together, %d KB one server at a time", together>>10, apart>>10)
	if each.batches != 20 {
		t.Fatalf("one server at a time made %d batches, want 20", each.batches)
	}
	if together >= apart {
		t.Errorf("applied together the index keeps %d bytes, one at a time %d: want less", together, apart)
	}
	if hits, err := one.Search("thing number 3", 1); err != nil || len(hits) != 1 || hits[0].Name != "tool_3" {
		t.Fatalf("search: %v, %v", hits, err)
	}
}
