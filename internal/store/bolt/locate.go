package bolt

import (
	"context"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// Locate returns the stories q names, in this order: q as "SOURCE/KEY" (a
// source id, a slash, an item key such as "id:urn:x" or "link:example.org/a"),
// q as an upstream GUID/id of any source's item (stored under "id:"+q), and
// q as an http(s) link, compared by [feed.LinkKey]. A story matched several
// ways is listed once per matched copy. It returns a feed.ENOTFOUND error
// when nothing matches and feed.EINVALID for an empty q.
func (db *DB) Locate(ctx context.Context, q string) ([]store.Found, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, fmt.Errorf("locate: %w", feed.Errorf(feed.EINVALID, "nothing to look for"))
	}
	var out []store.Found
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		l := locator{tx: tx, seen: map[[3]string]bool{}}
		if src, key, ok := strings.Cut(q, "/"); ok && key != "" {
			if err := l.copy(src, key, "key"); err != nil {
				return err
			}
		}
		var sources []string
		if err := tx.Bucket(bucketItems).ForEachBucket(func(id []byte) error {
			sources = append(sources, string(id))
			return nil
		}); err != nil {
			return err
		}
		for _, src := range sources {
			if err := l.copy(src, "id:"+q, "id"); err != nil {
				return err
			}
		}
		if err := l.link(q); err != nil {
			return err
		}
		out = l.found
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("locate %q: %w", q, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("locate %q: %w", q, feed.Errorf(feed.ENOTFOUND, "no stored item has the key, id or link %q", q))
	}
	return out, nil
}

// locator gathers Locate's results in one read transaction.
type locator struct {
	tx    *bbolt.Tx
	found []store.Found
	seen  map[[3]string]bool // story ref and matched copy
}

func (l *locator) add(st feed.Item, src, key, how string, a *story.Alias) {
	id := [3]string{st.SourceID + "\x00" + st.Key, src, key}
	if l.seen[id] {
		return
	}
	l.seen[id] = true
	l.found = append(l.found, store.Found{Story: st, SourceID: src, Key: key, Match: how, Alias: a})
}

// item returns the stored item src/key, if any.
func (l *locator) item(src, key string) (feed.Item, bool, error) {
	return loadStory(l.tx.Bucket(bucketItems), src, key)
}

// copy looks key up among src's items and aliases.
func (l *locator) copy(src, key, how string) error {
	it, ok, err := l.item(src, key)
	if err != nil {
		return err
	}
	if ok {
		l.add(it, src, key, how, nil)
		return nil
	}
	a, ok, err := newLookup(l.tx).Alias(src, key)
	if err != nil || !ok {
		return err
	}
	st, ok, err := l.item(a.SourceID, a.Key)
	if err != nil || !ok {
		return err
	}
	l.add(st, src, key, how, &a)
	return nil
}

// link looks q up in the links index as a link, and names the copy whose
// link it is.
func (l *locator) link(q string) error {
	lk := feed.LinkKey(q)
	if !strings.Contains(lk, "/") || strings.Contains(q, " ") {
		return nil // not an http(s) URL
	}
	v := l.tx.Bucket(bucketLinks).Get([]byte(lk))
	if v == nil {
		return nil
	}
	r, err := parseRef(v)
	if err != nil {
		return err
	}
	st, ok, err := l.item(r.SourceID, r.Key)
	if err != nil || !ok {
		return err
	}
	if feed.LinkKey(st.Link) == lk {
		l.add(st, st.SourceID, st.Key, "link", nil)
		return nil
	}
	for _, o := range st.Origins {
		if feed.LinkKey(o.Link) == lk {
			l.add(st, o.SourceID, o.Key, "link", &story.Alias{SourceID: st.SourceID, Key: st.Key, Rule: o.Rule, Seen: o.Seen})
			return nil
		}
	}
	l.add(st, st.SourceID, st.Key, "link", nil)
	return nil
}
