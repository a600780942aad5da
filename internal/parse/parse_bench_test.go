package parse

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParseCorpus parses and normalises every real feed of the corpus
// once per iteration and reports items/s: the parse share of ingest
// (issue 7; bench/run compares ingest with gofeed alone on the same bytes).
func BenchmarkParseCorpus(b *testing.B) {
	type doc struct {
		name string
		body []byte
	}
	var docs []doc
	root := corpusDir(b, "real")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		docs = append(docs, doc{path, body})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	p := New()
	var size int64
	for _, d := range docs {
		size += int64(len(d.body))
	}
	b.SetBytes(size)
	b.ReportAllocs()
	items := 0
	for b.Loop() {
		for _, d := range docs {
			parsed, err := p.Parse(d.body, "", "https://example.org/feed", "src")
			if err == nil {
				items += len(parsed.Items)
			}
		}
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
}
