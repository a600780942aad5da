package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// migrate1 brings a schema 1 file to schema 2, in Open's write
// transaction: every stored item's link becomes canonical (so the next
// poll, which delivers canonical links, does not count every item as
// edited), and the links and titles indexes are built from the items, the
// first item of each canonical link winning. Items that schema 1 stored
// twice under two sources stay two stories: only later copies are merged.
func migrate1(tx *bbolt.Tx) error {
	items := tx.Bucket(bucketItems)
	var sources [][]byte
	if err := items.ForEachBucket(func(id []byte) error {
		sources = append(sources, append([]byte(nil), id...))
		return nil
	}); err != nil {
		return err
	}
	for _, id := range sources {
		if err := migrateSource(tx, string(id)); err != nil {
			return fmt.Errorf("source %s: %w", clip(id), err)
		}
	}
	return nil
}

func migrateSource(tx *bbolt.Tx, src string) error {
	ib := tx.Bucket(bucketItems).Bucket([]byte(src))
	var (
		all      []feed.Item
		rewrites []feed.Item
	)
	err := ib.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil // a nested bucket: not an item
		}
		it, err := decodeItem(src, string(k), v)
		if err != nil {
			return fmt.Errorf("item %s: %w", clip(k), err)
		}
		all = append(all, it)
		if c := feed.CanonicalURL(it.Link); c != it.Link {
			it.Link = c
			rewrites = append(rewrites, it)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, it := range rewrites {
		v, err := encodeItem(it)
		if err != nil {
			return fmt.Errorf("item %s: %w", clip([]byte(it.Key)), err)
		}
		if err := ib.Put([]byte(it.Key), v); err != nil {
			return err
		}
	}
	if _, err := tx.Bucket(bucketAliases).CreateBucketIfNotExists([]byte(src)); err != nil {
		return err
	}
	p, l := &story.Poll{Source: src, TrustLinks: true}, newLookup(tx)
	for _, it := range all {
		e, err := p.Entries(it, l)
		if err != nil {
			return err
		}
		if err := index(tx, e, it); err != nil {
			return err
		}
	}
	return nil
}

// keyRules is the meta key that records which identity rules made the
// file's item keys (feed.UpgradedKey); currentKeyRules is this version's.
// "2": GUID keys keep their URL fragment.
var (
	keyRules        = []byte("key_rules")
	currentKeyRules = []byte("2")
)

// initKeys upgrades, once, a file whose keys were made by older identity
// rules: every item whose key feed.UpgradedKey changes gets its new key as
// an alias (rule rekey), so that the next poll, which delivers the new key,
// finds the item (its first-seen date, published id and archive place)
// instead of storing it again. Such a source's validators and body hash
// are forgotten, so that the next poll parses its feed even if it has not
// changed: the items the old rule folded together are then stored. Items are not renamed: their key is in every
// index, in the search index and in item pages' URLs. An item already
// stored, or an alias already recorded, under the new key is left alone.
// A read-only open changes nothing.
func (db *DB) initKeys(ctx context.Context) error {
	var done bool
	if err := db.view(ctx, func(tx *bbolt.Tx) error {
		done = string(tx.Bucket(bucketMeta).Get(keyRules)) == string(currentKeyRules)
		return nil
	}); err != nil || done || db.bolt.IsReadOnly() {
		return err
	}
	now := jsonTime(db.now())
	return db.update(ctx, func(tx *bbolt.Tx) error {
		items := tx.Bucket(bucketItems)
		err := items.ForEachBucket(func(id []byte) error {
			src := string(id)
			ib := items.Bucket(id)
			type upgrade struct{ old, new string }
			var ups []upgrade
			err := ib.ForEach(func(k, v []byte) error {
				if v == nil || !bytes.HasPrefix(k, []byte("id:")) || ((len(v) == 0 || v[0] == '{') && !bytes.Contains(v, []byte("#"))) {
					return nil // only a GUID with a fragment has another key now (a JSON record shows it; a compressed one is decoded)
				}
				it, err := decodeItem(src, string(k), v)
				if err != nil {
					return fmt.Errorf("item %s: %w", clip(k), err)
				}
				if nk, ok := feed.UpgradedKey(it.Key, it.ID); ok && len(nk) <= maxKeyLen {
					ups = append(ups, upgrade{it.Key, nk})
				}
				return nil
			})
			if err != nil || len(ups) == 0 {
				return err
			}
			ab, err := tx.Bucket(bucketAliases).CreateBucketIfNotExists(id)
			if err != nil {
				return err
			}
			for _, u := range ups {
				if ib.Get([]byte(u.new)) != nil || ab.Get([]byte(u.new)) != nil {
					continue
				}
				if err := putAlias(ab, u.new, story.Alias{SourceID: src, Key: u.old, Rule: story.RuleRekey, Seen: now}); err != nil {
					return err
				}
			}
			return forgetBody(tx, src)
		})
		if err != nil {
			return fmt.Errorf("upgrade item keys: %w", err)
		}
		return tx.Bucket(bucketMeta).Put(keyRules, currentKeyRules)
	})
}

// forgetBody clears the validators and body hash of src's state, so that
// its next poll fetches and parses the feed whatever the origin says.
func forgetBody(tx *bbolt.Tx, src string) error {
	v := tx.Bucket(bucketSources).Get([]byte(src))
	if v == nil {
		return nil
	}
	st, err := decodeState(src, v)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	st.ETag, st.LastModified, st.BodyHash = "", "", ""
	return putState(tx, st)
}
