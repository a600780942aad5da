package record

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mmcdole/gofeed"
)

// corpusItems are the items of the corpus's real feeds (AGGREGATOR_CORPUS),
// as the store would encode them: what the bench kit ingests.
func corpusItems(b *testing.B) []corpusItem {
	b.Helper()
	dir := os.Getenv("AGGREGATOR_CORPUS")
	if dir == "" {
		b.Skip("AGGREGATOR_CORPUS is unset: set it to the absolute path of ../shared/corpus")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "real", "*", "*"))
	var out []corpusItem
	p := gofeed.NewParser()
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		doc, err := p.Parse(fh)
		fh.Close()
		if err != nil {
			continue
		}
		for _, it := range doc.Items {
			out = append(out, corpusItem{it.Title, it.Description, it.Content, it.Link})
		}
	}
	if len(out) == 0 {
		b.Skip("no feed in the corpus parsed")
	}
	return out
}

type corpusItem struct{ title, summary, content, link string }

// BenchmarkItemRecord encodes and decodes the corpus's items one after
// the other, as a poll stores and a page reads them.
func BenchmarkItemRecord(b *testing.B) {
	items := corpusItems(b)
	recs := make([][]byte, len(items))
	var in, out int64
	for i, c := range items {
		it := sample(c.content)
		it.Title, it.Summary, it.Link = c.title, c.summary, c.link
		rec, err := EncodeItem(it)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = rec
		out += int64(len(rec))
		in += int64(len(c.title) + len(c.summary) + len(c.content) + len(c.link))
	}
	b.Logf("%d items, %d bytes of text, %d bytes of records", len(items), in, out)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c := items[i%len(items)]
			it := sample(c.content)
			it.Title, it.Summary, it.Link = c.title, c.summary, c.link
			if _, err := EncodeItem(it); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := DecodeItem("yonhap", "id:1", recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
