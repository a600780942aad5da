package publish

import "github.com/kpolicy/aggregator/internal/feed"

// A story carried by several sources is published once, under its first
// origin (Atom <source>, RSS <source>, JSON Feed "_source"), and names the
// other sources that carried it: Atom <link rel="via"> (RFC 4287 §4.2.7.2:
// the source of the information) with the carrying source's title, the same
// element as atom:link in RSS items, and "also" in JSON Feed's "_source".

// via is another source's copy of an item, as published.
type via struct {
	Source SourceInfo
	Href   string // the copy's link, else the source's home page or feed
	Rule   string // what merged it: "link" or "title"
}

// sourceOf returns what is known of the source id: from the channel's
// sources, else from every configured source (a story a channel shows
// through a later source is attributed to its first one).
func (in Input) sourceOf(id string) (SourceInfo, bool) {
	if si, ok := in.Sources[id]; ok {
		return si, true
	}
	si, ok := in.AllSources[id]
	return si, ok
}

// vias returns the other origins of it that can be linked to, in order,
// one per source (a source may have listed two copies of a story).
func (in Input) vias(it feed.Item) []via {
	var out []via
	seen := map[string]bool{it.SourceID: true}
	for _, o := range it.Origins {
		if seen[o.SourceID] {
			continue
		}
		seen[o.SourceID] = true
		si, ok := in.sourceOf(o.SourceID)
		if !ok {
			si = SourceInfo{ID: o.SourceID, Title: o.SourceID}
		}
		href := o.Link
		if !isHTTPURL(href) {
			href = si.Link
		}
		if !isHTTPURL(href) {
			href = si.FeedURL
		}
		if !isHTTPURL(href) {
			continue
		}
		out = append(out, via{Source: si, Href: href, Rule: o.Rule})
	}
	return out
}
