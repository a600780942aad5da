package search

import (
	"fmt"
	"slices"
	"sync"

	"github.com/blevesearch/bleve/v2"
)

// maxSources bounds the sources Sources looks at: a config holds far
// fewer (the largest tried, a thousand).
const maxSources = 10_000

// sourcesCache keeps the last answer of Sources and the write it saw.
type sourcesCache struct {
	mu     sync.Mutex
	valid  bool
	writes uint64
	ids    []string
}

// Sources returns the ids of the sources that have at least one item in
// the index, sorted: those a search filtered by source can find, and so
// the ones the search page offers. The answer is kept until the next
// write, so that pages ask the index once per change, not once per view.
func (ix *Index) Sources() ([]string, error) {
	c := &ix.sources
	c.mu.Lock()
	defer c.mu.Unlock()
	writes := ix.writes.Load()
	if c.valid && c.writes == writes {
		return slices.Clone(c.ids), nil
	}
	ids, err := ix.indexedSources()
	if err != nil {
		return nil, fmt.Errorf("search index sources: %w", err)
	}
	c.valid, c.writes, c.ids = true, writes, ids
	return slices.Clone(ids), nil
}

// indexedSources lists the terms of the source field and keeps those
// with a live item: a term's dictionary entry outlives the deletion of
// its last item until segments merge, so each is counted by a search.
func (ix *Index) indexedSources() ([]string, error) {
	b, done, err := ix.read()
	if err != nil {
		return nil, err
	}
	defer done()
	dict, err := b.FieldDict("source")
	if err != nil {
		return nil, err
	}
	var terms []string
	for len(terms) < maxSources {
		e, err := dict.Next()
		if err != nil {
			dict.Close()
			return nil, err
		}
		if e == nil {
			break
		}
		terms = append(terms, e.Term)
	}
	if err := dict.Close(); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range terms {
		q := bleve.NewTermQuery(t)
		q.SetField("source")
		res, err := b.Search(bleve.NewSearchRequestOptions(q, 0, 0, false))
		if err != nil {
			return nil, err
		}
		if res.Total > 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}
