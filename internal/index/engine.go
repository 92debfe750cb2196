package index

import (
	"context"
	"fmt"
	"sync"

	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	blevesearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	"github.com/blevesearch/bleve/v2/search/query"
	bleveindex "github.com/blevesearch/bleve_index_api"
)

// engine is one in-memory bleve index: a scorch index with no path (no
// files, no persister, no merger) and the mapping that analyzes its fields.
//
// It deliberately avoids the top-level bleve package. bleve.NewMemOnly uses
// the upsidedown index type, which cannot report field lengths, so bleve
// silently scores with TF-IDF there even when the mapping asks for BM25; and
// importing package bleve links every index type, KV store, highlighter and
// geo helper, which measured about 6 MB more RSS at start and 16 MB more
// binary than the scorch, mapping, query and collector packages used here.
type engine struct {
	mapping *mapping.IndexMappingImpl
	idx     bleveindex.Index
}

// analysisQueue analyzes documents for every engine. Tool lists are small,
// so two workers are plenty; the queue lives as long as the process.
var analysisQueue = sync.OnceValue(func() *bleveindex.AnalysisQueue {
	return bleveindex.NewAnalysisQueue(2)
})

// bm25 tells bleve's searchers which scoring model to use; package bleve
// would derive it from mapping.ScoringModel.
var bm25 = blevesearch.GetScoringModelCallbackFn(func() string { return bleveindex.BM25Scoring })

// sortOrder is best score first, then document ID (server, then tool name).
var sortOrder = blevesearch.SortOrder{&blevesearch.SortScore{Desc: true}, &blevesearch.SortDocID{}}

func newEngine() (*engine, error) {
	m, err := newMapping()
	if err != nil {
		return nil, err
	}
	idx, err := scorch.NewScorch(scorch.Name, map[string]interface{}{"path": ""}, analysisQueue())
	if err != nil {
		return nil, fmt.Errorf("create tool index: %w", err)
	}
	if err := idx.Open(); err != nil {
		return nil, fmt.Errorf("open tool index: %w", err)
	}
	return &engine{mapping: m, idx: idx}, nil
}

func newMapping() (*mapping.IndexMappingImpl, error) {
	m := mapping.NewIndexMapping()
	if err := addAnalyzer(m); err != nil {
		return nil, fmt.Errorf("tool index analyzer: %w", err)
	}
	m.ScoringModel = bleveindex.BM25Scoring
	m.DefaultAnalyzer = analyzerName
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false

	text := func() *mapping.FieldMapping {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = analyzerName
		f.Store = false
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	d := mapping.NewDocumentStaticMapping()
	d.AddFieldMappingsAt("name", text())
	d.AddFieldMappingsAt("desc", text())
	d.AddFieldMappingsAt("server", text())
	m.DefaultMapping = d
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("tool index mapping: %w", err)
	}
	return m, nil
}

// batch is a set of changes applied to an engine at once.
type batch struct {
	e *engine
	b *bleveindex.Batch
}

func (e *engine) newBatch() batch { return batch{e: e, b: bleveindex.NewBatch()} }

func (b batch) index(id string, t Tool) error {
	d := document.NewDocument(id)
	if err := b.e.mapping.MapDocument(d, doc{Name: t.Name, Desc: t.Description, Server: t.Server}); err != nil {
		return err
	}
	b.b.Update(d)
	return nil
}

func (b batch) delete(id string) { b.b.Delete(id) }

// apply makes the batch visible to searches, all of it or none.
func (b batch) apply() error { return b.e.idx.Batch(b.b) }

// search returns the best size documents matching q, in sortOrder.
func (e *engine) search(ctx context.Context, q query.Query, size int) (blevesearch.DocumentMatchCollection, error) {
	r, err := e.idx.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ctx = context.WithValue(ctx, blevesearch.GetScoringModelCallbackKey, bm25)
	s, err := q.Searcher(ctx, r, e.mapping, blevesearch.SearcherOptions{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c := collector.NewTopNCollector(size, 0, sortOrder)
	if err := c.Collect(ctx, s, r); err != nil {
		return nil, err
	}
	return c.Results(), nil
}

func (e *engine) close() error { return e.idx.Close() }
