package feed

import "strings"

// Scrape says how to read the items of a source that has no feed from its
// HTML page: one CSS selector per field, each written as in feeds.yaml
// ("h3 a", "h3 a@href": "@name" takes an attribute). Item, Title and Link
// are required; the others may be empty. A nil *Scrape on a Source means
// the source is a feed.
type Scrape struct {
	Item       string // one match per item
	Title      string // text of the first match inside the item
	Link       string // the item's URL, usually "…@href"; relative URLs are resolved
	Date       string // optional; read in the usual date formats, or with DateFormat
	DateFormat string // optional Go layout ("January 2, 2006") for Date
	Summary    string // optional; the first match's markup, sanitised
	Author     string // optional; the text of every match is one author
}

// Fields returns the settings by their feeds.yaml names, in the order the
// documentation gives them.
func (s Scrape) Fields() []ScrapeField {
	return []ScrapeField{
		{"item", s.Item}, {"title", s.Title}, {"link", s.Link}, {"date", s.Date},
		{"date_format", s.DateFormat}, {"summary", s.Summary}, {"author", s.Author},
	}
}

// ScrapeField is one setting of a Scrape: its feeds.yaml name and value.
type ScrapeField struct {
	Name, Value string
}

// ParseSettings returns what besides the fetched body decides what a poll
// of s parses to: its scrape settings, in a fixed form; "" for a feed. The
// poller mixes it into the hash by which it skips an unchanged body, so that
// edited selectors take effect on a page that did not change.
func (s Source) ParseSettings() string {
	if s.Scrape == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("scrape")
	for _, f := range s.Scrape.Fields() {
		b.WriteByte(0)
		b.WriteString(f.Name)
		b.WriteByte('=')
		b.WriteString(f.Value)
	}
	return b.String()
}
