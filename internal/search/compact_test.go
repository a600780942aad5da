package search

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/kpolicy/aggregator/internal/feed"
)

// segments returns the number of segments in the index's current root.
func (ix *Index) segments() (int, error) {
	b, done, err := ix.read()
	if err != nil {
		return 0, err
	}
	defer done()
	adv, err := b.Advanced()
	if err != nil {
		return 0, err
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return 0, errors.New("not a scorch index")
	}
	r, err := s.Reader()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return len(r.(*scorch.IndexSnapshot).Segments()), nil
}

// TestSyncCompactsABacklog: a Sync that indexes compactAfter items or
// more leaves the index in one segment, every item still found; a smaller
// one leaves bleve's segments as they are.
func TestSyncCompactsABacklog(t *testing.T) {
	defer func(n int) { compactAfter = n }(compactAfter)
	db := openStore(t)
	for s := range 10 {
		src := fmt.Sprintf("s%d", s)
		var items []feed.Item
		for i := range syncBatch {
			items = append(items, item(src, fmt.Sprintf("%s-%d", src, i), fmt.Sprintf("뉴스 %s %d", src, i), "<p>missile</p>", day0.Add(time.Duration(i)*time.Minute)))
		}
		save(t, db, src, items...)
	}
	for _, tc := range []struct {
		after   int
		compact bool
	}{{10 * syncBatch, true}, {10*syncBatch + 1, false}} {
		compactAfter = tc.after
		ix := openIndex(t, filepath.Join(t.TempDir(), "idx"))
		if n, err := ix.Sync(context.Background(), db); err != nil || n != 10*syncBatch {
			t.Fatalf("Sync = %d, %v", n, err)
		}
		segs, err := ix.segments()
		if err != nil {
			t.Fatal(err)
		}
		if tc.compact && segs != 1 || !tc.compact && segs < 2 {
			t.Errorf("compactAfter %d: %d segments after indexing %d items", tc.after, segs, 10*syncBatch)
		}
		if res, err := ix.Search(context.Background(), Query{Text: "missile"}); err != nil || res.Total != 10*syncBatch {
			t.Errorf("compactAfter %d: search found %d, %v; want every item", tc.after, res.Total, err)
		}
	}
}
