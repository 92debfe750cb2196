// Package index is the ranked full-text search over every upstream tool that
// backs retrieve_tools: BM25 over tool names, descriptions and server names,
// held in memory only.
package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2/search/query"
)

// DefaultLimit is the number of hits Search returns when limit is not positive.
const DefaultLimit = 10

// Field boosts: a word in the tool's name says more about what the tool does
// than the same word in its description or in the server's name.
const (
	nameBoost   = 3.0
	descBoost   = 1.0
	serverBoost = 0.5
)

// rebuildAfter bounds the garbage an in-memory scorch index keeps: with no
// path it never merges segments, so every batch adds one and replaced tools
// stay in the old segments as deleted documents. After this many batches, or
// once deleted documents outnumber live ones, the index is rebuilt from the
// tool table.
const rebuildAfter = 32

// Tool is one upstream tool as the index stores and returns it.
type Tool struct {
	Server      string
	Name        string
	Description string
	InputSchema json.RawMessage
}

// Hit is a tool that matched a search, with its relevance score.
type Hit struct {
	Tool
	Score float64
}

// Index is a BM25 full-text index of upstream tools. It is safe for
// concurrent use; Search calls run in parallel with each other.
type Index struct {
	mu      sync.RWMutex
	engine  *engine
	tools   map[string]map[string]Tool // server → tool name → tool
	count   int
	batches int // batches applied since the bleve index was built
	deleted int // documents deleted since the bleve index was built
	closed  bool
}

// doc is what bleve indexes for a tool; the schema stays in the tool table.
type doc struct {
	Name   string `json:"name"`
	Desc   string `json:"desc"`
	Server string `json:"server"`
}

// New returns an empty index.
func New() (*Index, error) {
	e, err := newEngine()
	if err != nil {
		return nil, err
	}
	return &Index{engine: e, tools: map[string]map[string]Tool{}}, nil
}

// docID is the bleve document ID of a tool. NUL sorts before every other
// byte, so ordering IDs orders tools by server, then name.
func docID(server, name string) string { return server + "\x00" + name }

// newServerSlice is how many tools of new servers one index batch holds.
const newServerSlice = 1000

// Apply replaces the tools of each server in updates with its list (each
// tool's Server is set to it; of several tools with one name the last is
// kept); an empty list removes the server, and removing an unknown one is
// not an error. Every change goes into one batch — one segment of the
// index, not one per server (20 servers indexed one by one kept ~12 times
// the memory) — so a concurrent Search sees either the old tools or the
// new ones; only servers indexed for the first time (nothing of them to
// replace atomically) may appear a slice at a time.
func (ix *Index) Apply(updates map[string][]Tool) error {
	next := make(map[string]map[string]Tool, len(updates))
	for server, tools := range updates {
		if strings.IndexByte(server, 0) >= 0 {
			return fmt.Errorf("index server %q: name contains a NUL byte", server)
		}
		m := make(map[string]Tool, len(tools))
		for _, t := range tools {
			if t.Name == "" {
				return fmt.Errorf("index server %q: tool with empty name", server)
			}
			t.Server = server
			m[t.Name] = t
		}
		next[server] = m
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	b := ix.engine.newBatch()
	fresh, changed := 0, 0
	for server, tools := range next {
		old := ix.tools[server]
		if len(old) == 0 && len(tools) == 0 {
			delete(next, server)
			continue
		}
		changed++
		for name := range old {
			if _, kept := tools[name]; !kept {
				b.delete(docID(server, name))
			}
		}
		for name, t := range tools {
			if err := b.index(docID(server, name), t); err != nil {
				return fmt.Errorf("index tool %s:%s: %w", server, name, err)
			}
			// New servers' tools are indexed in slices: a batch's transient
			// memory grows with its size, and a server may list thousands
			// of tools.
			if len(old) == 0 {
				if fresh++; fresh%newServerSlice == 0 {
					if err := b.apply(); err != nil {
						return fmt.Errorf("index server %q: %w", server, err)
					}
					b = ix.engine.newBatch()
				}
			}
		}
	}
	if changed == 0 {
		return nil
	}
	if err := b.apply(); err != nil {
		return fmt.Errorf("index tools: %w", err)
	}
	for server, tools := range next {
		old := ix.tools[server]
		ix.count += len(tools) - len(old)
		ix.deleted += len(old) // replaced documents are deleted ones too
		if len(tools) == 0 {
			delete(ix.tools, server)
		} else {
			ix.tools[server] = tools
		}
	}
	return ix.compactLocked()
}

// compactLocked rebuilds the bleve index from the tool table when the
// garbage left by earlier batches is worth dropping. ix.mu must be held.
func (ix *Index) compactLocked() error {
	ix.batches++
	if ix.batches < rebuildAfter && (ix.deleted <= ix.count || ix.deleted < 64) {
		return nil
	}
	e, err := newEngine()
	if err != nil {
		return err
	}
	b := e.newBatch()
	for server, tools := range ix.tools {
		for name, t := range tools {
			if err := b.index(docID(server, name), t); err != nil {
				_ = e.close()
				return fmt.Errorf("rebuild tool index: %w", err)
			}
		}
	}
	if err := b.apply(); err != nil {
		_ = e.close()
		return fmt.Errorf("rebuild tool index: %w", err)
	}
	old := ix.engine
	ix.engine, ix.batches, ix.deleted = e, 1, 0
	return old.close()
}

// Search returns up to limit tools (DefaultLimit when limit is not positive)
// that match query, best first. A query matches a tool by the words of its
// name (read_file, readFile and read-file all hold "read" and "file"), its
// description and its server's name; words in the name weigh most. Tools
// with equal scores are ordered by server, then name. An empty query is an
// error.
func (ix *Index) Search(q string, limit int) ([]Hit, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, errors.New("search tools: empty query")
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	match := func(field string, boost float64) query.Query {
		m := query.NewMatchQuery(q)
		m.SetField(field)
		m.SetBoost(boost)
		return m
	}
	bq := query.NewDisjunctionQuery([]query.Query{
		match("name", nameBoost),
		match("desc", descBoost),
		match("server", serverBoost),
	})

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	res, err := ix.engine.search(context.Background(), bq, min(limit, max(ix.count, 1)))
	if err != nil {
		return nil, fmt.Errorf("search tools %q: %w", q, err)
	}
	hits := make([]Hit, 0, len(res))
	for _, h := range res {
		server, name, _ := strings.Cut(h.ID, "\x00")
		t, ok := ix.tools[server][name]
		if !ok {
			continue // cannot happen: the table and bleve change under one lock
		}
		hits = append(hits, Hit{Tool: t, Score: h.Score})
	}
	return hits, nil
}

// Count returns the number of tools in the index.
func (ix *Index) Count() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.count
}

// Close releases the index. Later calls fail; Close itself may be repeated.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	ix.tools = nil
	ix.count = 0
	return ix.engine.close()
}

// ErrClosed is returned by every call on a closed index.
var ErrClosed = errors.New("tool index is closed")
