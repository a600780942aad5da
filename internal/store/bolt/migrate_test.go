package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
)

// post is a scripting.com post: one page per day, one anchor per post, the
// anchored URL as GUID and link.
func post(day, anchor int) feed.Item {
	u := "http://scripting.com/2017/06/" + string(rune('0'+day/10)) + string(rune('0'+day%10)) + ".html#a" + string(rune('0'+anchor))
	it := guidItem(u, u, "", epoch.AddDate(0, 0, day).Add(-time.Duration(anchor)*time.Hour))
	it.Link = feed.PermaLink(u, u)
	it.Summary = "<p>post " + u + "</p>"
	return it
}

// TestUpgradeFragmentKeys opens a store written when GUID keys folded their
// fragment, as that version left it (one item per day page, the first
// post of each day, its link without the anchor, no key_rules mark), and
// polls the feed under today's keys: every post is stored once, and the
// posts the store had keep their first-seen date and sequence number.
func TestUpgradeFragmentKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	clk := newClock()
	db, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var now []feed.Item // the feed as today's parser delivers it: 3 days of 3 posts
	for d := 24; d <= 26; d++ {
		for a := 1; a <= 3; a++ {
			now = append(now, post(d, a))
		}
	}
	var old []feed.Item // what the older parser made of it
	for _, it := range now {
		o := it
		o.Key = "id:" + feed.LinkKey(it.ID)
		o.Link = feed.CanonicalURL(it.Link)
		if len(old) == 0 || old[len(old)-1].Key != o.Key {
			old = append(old, o)
		}
	}
	st := state("scripting")
	st.ETag, st.BodyHash = `"v1"`, "f00d"
	if c, err := db.SavePoll(ctx, "scripting", old, st); err != nil || c.New != 3 {
		t.Fatalf("old poll: %+v %v", c, err)
	}
	before := map[string]feed.Item{}
	for _, o := range old {
		before[o.ID] = mustItem(t, db, "scripting", o.Key)
	}
	if err := db.bolt.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyRules) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	clk.Advance(time.Hour)
	db = openTestAt(t, path, Options{Now: clk.Now})
	if st, err := db.State(ctx, "scripting"); err != nil || st.ETag != "" || st.BodyHash != "" {
		t.Errorf("after the upgrade the state keeps ETag %q, body hash %q (%v): the next poll would not parse the feed", st.ETag, st.BodyHash, err)
	}
	c := mustSave(t, db, "scripting", now...)
	if want := (feed.PollCounts{New: 6, Updated: 3}); c != want {
		t.Errorf("first poll after the upgrade = %+v, want %+v (the 3 known posts get their anchors back)", c, want)
	}
	if n := sourceCountOf(t, db, "scripting"); n != 9 {
		t.Errorf("%d items stored, want 9", n)
	}
	got := mustItems(t, db, 100, "scripting")
	if len(got) != 9 {
		t.Fatalf("Items = %d, want 9", len(got))
	}
	for _, it := range got {
		if b, ok := before[it.ID]; ok {
			if it.Key != b.Key || !it.FirstSeen.Equal(b.FirstSeen) || it.Seq != b.Seq || it.Link != it.ID {
				t.Errorf("known post %s: key %q first seen %v seq %d link %q; want %q %v %d and its anchor",
					it.ID, it.Key, it.FirstSeen, it.Seq, it.Link, b.Key, b.FirstSeen, b.Seq)
			}
		} else if !it.FirstSeen.Equal(clk.Now()) {
			t.Errorf("new post %s first seen %v", it.ID, it.FirstSeen)
		}
	}
	if c := mustSave(t, db, "scripting", now...); c != (feed.PollCounts{Unchanged: 9}) {
		t.Errorf("second poll = %+v, want all unchanged", c)
	}
}
