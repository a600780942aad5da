package feed

// Parsed is what the parser makes of one feed document.
type Parsed struct {
	Title    string // the feed's own title, plain text
	Link     string // the feed's home page, absolute
	Language string
	TTL      int    // RSS <ttl> in minutes; 0 when absent
	Type     string // "rss", "atom" or "json"
	Items    []Item // normalised; SourceID, Key and dates filled in (FirstSeen left zero)
}

// PollCounts is what storing one poll changed.
type PollCounts struct {
	New       int
	Updated   int
	Unchanged int
}

// Changed reports whether a channel showing the source must be re-rendered.
func (c PollCounts) Changed() bool { return c.New > 0 || c.Updated > 0 }
