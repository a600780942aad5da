package feed

// Channel is a curated selection of sources that the aggregator republishes.
type Channel struct {
	ID          string
	Title       string
	Description string
	Sources     []string // source ids, selected explicitly
	Tags        []string // sources carrying any of these tags are selected too
	Limit       int      // newest items shown; never zero after config validation

	// Curation filters the channel's items, after each source's own.
	Curation Curation
	// Pin lists items (by link or upstream id) shown at the top of the
	// channel, in this order, however old they are.
	Pin []string
	// Mail is the channel's mailing list; the zero Digest means none.
	Mail Digest
}

// Selects reports whether src belongs to the channel, by id or by tag.
// A disabled source still belongs: its stored items stay published.
func (c Channel) Selects(src Source) bool {
	for _, id := range c.Sources {
		if id == src.ID {
			return true
		}
	}
	for _, t := range c.Tags {
		if src.HasTag(t) {
			return true
		}
	}
	return false
}

// SourceIDs returns, in the order of sources, the ids of those the channel selects.
func (c Channel) SourceIDs(sources []Source) []string {
	var ids []string
	for _, s := range sources {
		if c.Selects(s) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
