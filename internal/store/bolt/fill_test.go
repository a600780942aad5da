package bolt

import (
	"context"
	"testing"

	"go.etcd.io/bbolt"
)

// TestPollPagesDense: the pages a poll writes in runs (a source's items,
// their links, the write order) are filled to denseFill, not to
// bbolt's default half: after 20 polls of 50 new items each, every one of
// those buckets uses at least 75% of its leaf pages (48–52% before).
func TestPollPagesDense(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	for p := range 20 {
		items := manyItems("src", 1000, day(0))[p*50 : (p+1)*50]
		if _, err := db.SavePoll(ctx, "src", items, state("src")); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.SourceItemCount(ctx, "src"); err != nil || n != 1000 {
		t.Fatalf("stored %d items (%v), want 1000", n, err)
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		for _, b := range []struct {
			name string
			b    *bbolt.Bucket
		}{
			{"items/src", tx.Bucket(bucketItems).Bucket([]byte("src"))},
			{"byrev", tx.Bucket(bucketByRev)},
			{"byseq", tx.Bucket(bucketBySeq)},
			{"links", tx.Bucket(bucketLinks)},
		} {
			s := b.b.Stats()
			used := float64(s.LeafInuse) / float64(s.LeafAlloc)
			t.Logf("%s: %d keys, leaf pages %d bytes, %.0f%% used", b.name, s.KeyN, s.LeafAlloc, 100*used)
			if used < 0.75 {
				t.Errorf("%s: leaf pages %.0f%% used, want at least 75%%", b.name, 100*used)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
