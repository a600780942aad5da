package publish

// A story carried by several sources is published once, under its first
// origin (Atom <source>, RSS <source>, JSON Feed "_source"), and names the
// other sources that carried it: Atom <link rel="via"> (RFC 4287 §4.2.7.2:
// the source of the information) with the carrying source's title, the same
// element as atom:link in RSS items, and "also" in JSON Feed's "_source"
// (viaLinks in archive.go).

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

// names returns every source the documents may name, by id: all configured
// sources, with the channel's own taking precedence.
func (in Input) names() map[string]SourceInfo {
	if len(in.AllSources) == 0 {
		return in.Sources
	}
	out := make(map[string]SourceInfo, len(in.AllSources)+len(in.Sources))
	for id, si := range in.AllSources {
		out[id] = si
	}
	for id, si := range in.Sources {
		out[id] = si
	}
	return out
}
