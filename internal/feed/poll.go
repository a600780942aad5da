package feed

// Parsed is what the parser makes of one feed document.
type Parsed struct {
	Title    string // the feed's own title, plain text
	Link     string // the feed's home page, absolute
	Language string
	TTL      int    // RSS <ttl> in minutes; 0 when absent
	Type     string // "rss", "atom" or "json"
	Items    []Item // normalised; SourceID, Key and dates filled in (FirstSeen left zero)
	// Warning says what was wrong with the feed's identities in this
	// document, when anything was (a GUID repeated across different items).
	Warning string
	// Hub and Self are the feed's WebSub hub (rel="hub", the first) and
	// its own URL (rel="self"), absolute; empty when it names none.
	Hub, Self string
}

// PollCounts is what storing one poll changed.
type PollCounts struct {
	New       int
	Updated   int
	Unchanged int
	// Merged counts the items found to be another source's story (same
	// canonical link, or same normalised title within the window) and
	// stored as one more origin of it. A merge changes channels that show
	// the other source too.
	Merged int
}

// Changed reports whether a channel showing the source must be re-rendered.
func (c PollCounts) Changed() bool { return c.New > 0 || c.Updated > 0 || c.Merged > 0 }
