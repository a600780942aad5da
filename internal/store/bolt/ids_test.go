package bolt

import (
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// seminar is an item of a CMS that writes its home page as every item's
// GUID: keyed by link, as the parser keys such a poll.
func seminar(n int) feed.Item {
	it := guidItem("", "https://institute.example/events/"+string(rune('a'+n)), "Seminar "+string(rune('A'+n)), day(n))
	it.ID = "https://institute.example/"
	return it
}

func sharedOf(t *testing.T, db *DB, src, key string) bool {
	t.Helper()
	return mustItem(t, db, src, key).IDShared
}

// TestUpstreamIDClaims: the first item stored with an upstream id keeps it;
// every later one that carries it, of the same source or another, is
// marked IDShared, and the mark never moves: not on edits, restarts, nor
// when the first is pruned.
func TestUpstreamIDClaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := Open(path, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := seminar(1), seminar(2), seminar(3)
	mustSave(t, db, "seminars", a, b, c)
	news := guidItem("", "https://institute.example/news/fellows", "New fellows", day(4))
	news.ID = "https://institute.example/"
	mustSave(t, db, "news", news)
	other := guidItem("https://institute.example/other", "https://institute.example/other", "Other", day(5))
	mustSave(t, db, "news", other)
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			src    string
			it     feed.Item
			shared bool
		}{{"seminars", a, false}, {"seminars", b, true}, {"seminars", c, true}, {"news", news, true}, {"news", other, false}} {
			if got := sharedOf(t, db, tc.src, tc.it.Key); got != tc.shared {
				t.Errorf("%s: %s/%s IDShared = %v, want %v", when, tc.src, tc.it.Key, got, tc.shared)
			}
		}
	}
	check("first poll")

	// An edit keeps the mark; so does a restart.
	b.Title = "Seminar B (moved to Friday)"
	if got := mustSave(t, db, "seminars", a, b, c); got.Updated != 1 {
		t.Fatalf("edit: %+v", got)
	}
	check("after an edit")
	db.Close()
	db = openTestAt(t, path, Options{Now: newClock().Now})
	check("after a restart")

	// Pruning the first item frees the id for an item stored later; the
	// items already marked stay marked.
	if _, err := db.Prune(ctx, "seminars", feed.Retention{Items: 2}, day(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Item(ctx, "seminars", a.Key); err == nil {
		t.Fatalf("item a was not pruned")
	}
	if sharedOf(t, db, "seminars", b.Key) != true {
		t.Errorf("b lost its mark when a was pruned")
	}
	later := guidItem("", "https://institute.example/events/z", "Seminar Z", day(9))
	later.ID = "https://institute.example/"
	mustSave(t, db, "later", later)
	if sharedOf(t, db, "later", later.Key) {
		t.Errorf("an item stored after the first one was pruned is marked shared")
	}
}

// TestInitIDsOnOldFile: a file written before the ids index existed gets
// the claims its items would have made, in the order they were stored.
func TestInitIDsOnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(path, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	a, b := seminar(1), seminar(2)
	mustSave(t, db, "seminars", a)
	mustSave(t, db, "seminars", b)
	// As an older version left it: no ids bucket, no mark on any item.
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		ib := tx.Bucket(bucketItems).Bucket([]byte("seminars"))
		for _, k := range []string{a.Key, b.Key} {
			it, err := decodeItem("seminars", k, ib.Get([]byte(k)))
			if err != nil {
				return err
			}
			it.IDShared = false
			v, err := encodeItem(it)
			if err != nil {
				return err
			}
			if err := ib.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketIDs)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openTestAt(t, path, Options{Now: newClock().Now})
	if sharedOf(t, db, "seminars", a.Key) || !sharedOf(t, db, "seminars", b.Key) {
		t.Errorf("after the upgrade: a shared %v, b shared %v; want the first stored to keep the id",
			sharedOf(t, db, "seminars", a.Key), sharedOf(t, db, "seminars", b.Key))
	}
	c := seminar(3)
	mustSave(t, db, "seminars", a, b, c)
	if !sharedOf(t, db, "seminars", c.Key) {
		t.Errorf("an item stored after the upgrade is not marked shared")
	}
}
