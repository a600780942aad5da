package publish

import (
	"slices"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
)

// ItemsAfter pages fakeReader in the store's order: newest first, then
// source id, then key.
func (r *fakeReader) ItemsAfter(ids []string, after *feed.Item, limit int) ([]feed.Item, error) {
	if after == nil {
		return r.Items(ids, limit)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.itemCalls = append(r.itemCalls, slices.Clone(ids))
	if r.itemsErr != nil {
		return nil, r.itemsErr
	}
	var all []feed.Item
	for _, id := range ids {
		all = append(all, r.items[id]...)
	}
	slices.SortStableFunc(all, storeOrder)
	var out []feed.Item
	for _, it := range all {
		if storeOrder(it, *after) > 0 && len(out) < limit {
			out = append(out, it)
		}
	}
	return out, nil
}

func storeOrder(a, b feed.Item) int {
	if c := b.Sort().Compare(a.Sort()); c != 0 {
		return c
	}
	if c := strings.Compare(a.SourceID, b.SourceID); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

func (r *fakeReader) Lookup(ids, keys []string) ([]feed.Item, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []feed.Item
	for _, k := range keys {
		for _, id := range ids {
			for _, it := range r.items[id] {
				if it.Key == k {
					out = append(out, it)
				}
			}
		}
	}
	return out, nil
}
