package parse

import (
	"unicode/utf8"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Caps on what one item may carry. A feed within fetch.max_body can still
// hold a title of megabytes or thousands of categories; these keep one item
// from filling pages, feeds and the database. Text is cut at a character
// boundary and ends in "…"; lists keep their first entries.
const (
	MaxTitleBytes    = 2048 // about 680 Hangul syllables or 2,000 Latin letters
	MaxNameBytes     = 256  // author names, category terms and labels
	MaxCategories    = 100
	MaxAuthors       = 50
	MaxEnclosures    = 50
	MaxItemsPerFeed  = 10000 // items kept from one document, in document order
	maxURLBytes      = 4096  // links, enclosure and author URLs; longer ones are dropped
	truncationSuffix = "…"
)

// capItem applies the caps to it.
func capItem(it *feed.Item) {
	it.Title = capText(it.Title, MaxTitleBytes)
	if len(it.Link) > maxURLBytes {
		it.Link = ""
	}
	it.Categories = it.Categories[:min(len(it.Categories), MaxCategories)]
	for i := range it.Categories {
		c := &it.Categories[i]
		c.Term, c.Label = capText(c.Term, MaxNameBytes), capText(c.Label, MaxNameBytes)
		if len(c.Scheme) > maxURLBytes {
			c.Scheme = ""
		}
	}
	it.Authors = it.Authors[:min(len(it.Authors), MaxAuthors)]
	for i := range it.Authors {
		a := &it.Authors[i]
		a.Name, a.Email = capText(a.Name, MaxNameBytes), capText(a.Email, MaxNameBytes)
		if len(a.URI) > maxURLBytes {
			a.URI = ""
		}
	}
	encs := it.Enclosures[:0]
	for _, e := range it.Enclosures {
		if len(e.URL) <= maxURLBytes && len(encs) < MaxEnclosures {
			e.Type = capText(e.Type, MaxNameBytes)
			encs = append(encs, e)
		}
	}
	it.Enclosures = encs
}

// capText cuts s to at most n bytes, the last of them "…", without
// splitting a UTF-8 sequence.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len(truncationSuffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncationSuffix
}
