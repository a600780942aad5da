package bolt

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// seqOrder lists the byseq index: source/key@seq, in order.
func seqOrder(t *testing.T, db *DB) []string {
	t.Helper()
	var out []string
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBySeq).ForEach(func(k, v []byte) error {
			src, key, _ := cutRef(v)
			out = append(out, fmt.Sprintf("%s/%s@%d", src, key, binary.BigEndian.Uint64(k)))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSeqOrder(t *testing.T) {
	db := openTest(t, Options{})
	// Two sources interleaved over three polls; an update keeps its Seq.
	mustSave(t, db, "a", newItem("a1", "A1", day(5)), newItem("a2", "A2", day(1)))
	mustSave(t, db, "b", newItem("b1", "B1", day(9)))
	edited := newItem("a1", "A1 edited", day(5))
	mustSave(t, db, "a", edited, newItem("a3", "A3", day(2)))
	mustSave(t, db, "c", newItem("c1", "C1", day(3))) // not in the channel

	if got := mustItem(t, db, "a", "a1").Seq; got != 1 {
		t.Errorf("edited item Seq = %d, want 1 (kept)", got)
	}
	if got, want := seqOrder(t, db), "[a/a1@1 a/a2@2 b/b1@3 a/a3@4 c/c1@5]"; fmt.Sprint(got) != want {
		t.Errorf("first-stored order = %v, want %s", got, want)
	}
	if n, err := lastSeq(db); err != nil || n != 5 {
		t.Errorf("LastSeq = %d %v, want 5", n, err)
	}
}

// TestSeqBackfill opens a file written before byseq existed and checks that
// its items are numbered by first sighting.
func TestSeqBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	clk := newClock()
	db, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, "b", newItem("b1", "B1", day(1)))
	clk.Advance(time.Hour)
	mustSave(t, db, "a", newItem("a1", "A1", day(2)))
	// Make it an old file: no byseq, no Seq in the records.
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, k := range []struct{ src, key string }{{"a", "a1"}, {"b", "b1"}} {
			b := tx.Bucket(bucketItems).Bucket([]byte(k.src))
			it, err := decodeItem(k.src, k.key, b.Get([]byte(k.key)))
			if err != nil {
				return err
			}
			it.Seq = 0
			v, _ := encodeItem(it)
			if err := b.Put([]byte(k.key), v); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketBySeq)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openTestAt(t, path, Options{})
	if got, want := seqOrder(t, db), "[b/b1@1 a/a1@2]"; fmt.Sprint(got) != want {
		t.Errorf("after backfill: %v, want %s", got, want)
	}
	if got := mustItem(t, db, "a", "a1").Seq; got != 2 {
		t.Errorf("stored Seq = %d, want 2", got)
	}
}

func TestSubscriptionsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subs.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, cb := range []string{"https://b.example/cb", "https://a.example/cb"} {
		if err := db.PutSubscription(ctx, feed.Subscription{Topic: "https://agg/feeds/x.atom", Callback: cb, Secret: "s", Lease: time.Hour, Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutSubscription(ctx, feed.Subscription{Topic: "https://agg/feeds/x.atom.other", Callback: "https://c.example/"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutSubscription(ctx, feed.Subscription{Topic: "t", Callback: ""}); feed.ErrorCode(err) != feed.EINVALID {
		t.Errorf("empty callback: %v, want invalid", err)
	}
	db.Close()
	db = openTestAt(t, path, Options{})
	subs, err := db.Subscriptions(ctx, "https://agg/feeds/x.atom")
	if err != nil || len(subs) != 2 || subs[0].Callback != "https://a.example/cb" || subs[0].Secret != "s" || !subs[0].Expires.Equal(exp) || subs[0].Lease != time.Hour {
		t.Fatalf("after reopen: %+v %v", subs, err)
	}
	if err := db.DeleteSubscription(ctx, "https://agg/feeds/x.atom", "https://a.example/cb"); err != nil {
		t.Fatal(err)
	}
	if all, _ := db.Subscriptions(ctx, ""); len(all) != 2 {
		t.Errorf("all subscriptions after a delete: %d, want 2", len(all))
	}
}
