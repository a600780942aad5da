package bolt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// otherStory gives it a link of its own, so that the store does not take
// it for another source's copy of a story with the same key's link.
func otherStory(it feed.Item) feed.Item {
	it.Link = "https://other.example.org/" + it.Key
	return it
}

func seqKeys(items []feed.Item) (keys []string, seqs []uint64) {
	for _, it := range items {
		keys = append(keys, it.SourceID+"/"+it.Key)
		seqs = append(seqs, it.Rev)
	}
	return keys, seqs
}

func TestItemsSince(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	mustSave(t, db, "a", newItem("1", "one", day(1)), newItem("2", "two", day(2)))
	mustSave(t, db, "b", otherStory(newItem("1", "uno", day(3))))

	all, err := db.ItemsSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	keys, seqs := seqKeys(all)
	if got, want := len(all), 3; got != want {
		t.Fatalf("ItemsSince(0) = %v, want %d items", keys, want)
	}
	if keys[2] != "b/1" || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 3 {
		t.Errorf("ItemsSince(0) = %v %v, want write order a/1 a/2 b/1 numbered 1..3", keys, seqs)
	}
	if it := mustItem(t, db, "b", "1"); it.Rev != 3 {
		t.Errorf("stored Rev %d, want 3", it.Rev)
	}

	t.Run("a changed item moves to the end, an unchanged one does not", func(t *testing.T) {
		edited := newItem("1", "one, edited", day(1))
		mustSave(t, db, "a", edited, newItem("2", "two", day(2)))
		got, err := db.ItemsSince(ctx, 3, 10)
		if err != nil {
			t.Fatal(err)
		}
		keys, seqs := seqKeys(got)
		if len(got) != 1 || keys[0] != "a/1" || seqs[0] != 4 || got[0].Title != "one, edited" {
			t.Errorf("ItemsSince(3) = %v %v, want the edited a/1 as seq 4", keys, seqs)
		}
		all, _ := db.ItemsSince(ctx, 0, 10)
		if keys, _ := seqKeys(all); len(all) != 3 {
			t.Errorf("after the edit ItemsSince(0) = %v, want each item once", keys)
		}
		if n, err := db.LastRev(ctx); err != nil || n != 4 {
			t.Errorf("LastRev = %d, %v; want 4", n, err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		got, _ := db.ItemsSince(ctx, 0, 2)
		if len(got) != 2 {
			t.Errorf("ItemsSince(0, 2) gave %d items", len(got))
		}
		if got, _ := db.ItemsSince(ctx, 0, 0); got != nil {
			t.Errorf("limit 0 gave %d items", len(got))
		}
	})
	t.Run("indexed seq", func(t *testing.T) {
		if n, err := db.IndexedRev(ctx); err != nil || n != 0 {
			t.Errorf("IndexedRev = %d, %v; want 0 before any", n, err)
		}
		if err := db.SetIndexedRev(ctx, 4); err != nil {
			t.Fatal(err)
		}
		if n, err := db.IndexedRev(ctx); err != nil || n != 4 {
			t.Errorf("IndexedRev = %d, %v; want 4", n, err)
		}
	})
}

// TestSeqBackfill opens a file written before the byseq index existed:
// Open numbers the stored items.
func TestRevBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(path, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, "a", newItem("1", "one", day(1)), newItem("2", "two", day(2)))
	mustSave(t, db, "b", otherStory(newItem("1", "uno", day(3))))
	if err := db.bolt.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketByRev) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openTestAt(t, path, Options{})
	all, err := db.ItemsSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	keys, seqs := seqKeys(all)
	if len(all) != 3 || keys[0] != "a/1" || keys[1] != "a/2" || keys[2] != "b/1" || seqs[2] != 3 {
		t.Errorf("after backfill ItemsSince(0) = %v %v, want a/1 a/2 b/1 (oldest first per source) numbered 1..3", keys, seqs)
	}
	if it := mustItem(t, db, "a", "2"); it.Rev != 2 {
		t.Errorf("backfilled Rev %d, want 2", it.Rev)
	}
}

func TestBackupOpensAsStore(t *testing.T) {
	db := openTest(t, Options{Now: newClock().Now})
	mustSave(t, db, "a", manyItems("a", 50, day(1))...)
	var buf bytes.Buffer
	n, err := db.Backup(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := db.Size(ctx); n != int64(buf.Len()) || n != size {
		t.Errorf("Backup wrote %d bytes, buffer has %d, Size says %d", n, buf.Len(), size)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := openTestAt(t, path, Options{})
	if c, err := cp.Count(ctx); err != nil || c != 50 {
		t.Errorf("backup holds %d items (%v), want 50", c, err)
	}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.db")
	db, err := Open(src, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	items := manyItems("a", 300, day(1))
	mustSave(t, db, "a", items...)
	for i := range items {
		items[i].Title += " (edited)"
	}
	mustSave(t, db, "a", items...)
	db.Close()

	dst := filepath.Join(dir, "b.db")
	before, after, err := Compact(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Errorf("compacted %d → %d bytes, want smaller after rewriting every item", before, after)
	}
	cp := openTestAt(t, dst, Options{})
	if got, _ := cp.ItemsSince(ctx, 0, 1000); len(got) != 300 || got[0].Title == items[0].Title[:len(items[0].Title)-len(" (edited)")] {
		t.Errorf("compacted copy has %d items in its seq index, want 300 edited ones", len(got))
	}
	if _, _, err := Compact(src, dst); err == nil {
		t.Error("Compact overwrote an existing file")
	}
}

// TestSubscriberDaysBefore: a file written before subscriber parts held
// one record per channel and day, the four counts: it reads as that day's
// settled part, beside the parts written since.
func TestSubscriberDaysBefore(t *testing.T) {
	db := openTest(t, Options{})
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		sb, err := tx.CreateBucketIfNotExists(bucketStats)
		if err != nil {
			return err
		}
		cb, err := sb.CreateBucketIfNotExists([]byte("news"))
		if err != nil {
			return err
		}
		return cb.Put([]byte("2026-01-01"), []byte(`{"requests":10,"not_modified":4,"clients":3,"reported":120}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveSubscriberParts(ctx, []store.SubscriberPart{{Channel: "news", Day: "2026-01-01", Instance: "new", Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.SubscriberParts(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Instance != "" || got[0].Requests != 10 || got[0].NotModified != 4 || got[0].Clients != 3 || got[0].Reported != 120 {
		t.Fatalf("SubscriberParts = %+v", got)
	}
	days, err := store.MergeSubscriberParts(got)
	if err != nil || len(days) != 1 || days[0].Requests != 11 || days[0].Subscribers() != 123 {
		t.Errorf("merged = %+v, %v", days, err)
	}
}
