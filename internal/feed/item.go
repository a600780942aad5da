package feed

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Item is one entry of a source, normalised: absolute links, sanitised HTML,
// trimmed plain-text title, and a date even when the feed gave none.
type Item struct {
	SourceID string
	// Key identifies the item within its source; see [Identity]. It never
	// includes the fetch time, so re-polling finds the same item again.
	Key string
	// ID is the upstream entry id (RSS guid, Atom id, JSON Feed id), verbatim;
	// empty when the feed gave none. Republished entries keep it.
	ID string
	// IDIsPermaLink is true when ID is also the item's URL (RSS isPermaLink,
	// which defaults to true in RSS 2.0 when the attribute is absent).
	IDIsPermaLink bool
	// IDShared is true when another stored item had carried ID first: a
	// CMS that writes its home page as every item's GUID, or two sources
	// with one GUID for two stories. ID then names no one item, and an
	// output must publish the item under an id derived from SourceID and
	// Key instead, while the first item keeps ID (readers know it by it).
	// The store decides it when it first stores the item (or stores it
	// with another ID) and keeps it: it never changes afterwards.
	IDShared bool

	Link       string // absolute URL of the original story
	Title      string // plain text, never HTML
	Summary    string // sanitised HTML
	Content    string // sanitised HTML
	Authors    []Person
	Categories []Category
	Enclosures []Enclosure
	Language   string // BCP 47 tag, from the item or its feed; may be empty

	Published time.Time // as given by the feed, else FirstSeen
	Updated   time.Time // as given by the feed, else Published; bumped when content changes
	FirstSeen time.Time // when the aggregator first stored this item; never changes
	// Dated is false when the feed gave no date and Published is FirstSeen.
	Dated bool

	// Origins lists the other sources that carried the same story, in the
	// order they were found; the item's own SourceID is the first origin.
	// Empty when only one source carried it.
	Origins []Origin

	// Seq is the item's place in the order items were first stored, over
	// all sources: assigned by the store on first insert from one
	// increasing counter, never reused and never changed afterwards.
	// Zero for an item not stored yet.
	Seq uint64

	// Rev is the item's place in the store's global write order: the store
	// assigns the next number whenever it writes the item (new or changed),
	// so everything written after a known Rev (the search index keeps the
	// last one it saw) can be found again. 0 until stored.
	Rev uint64
}

// Origin is another source's copy of a story merged into an item.
type Origin struct {
	SourceID string
	Key      string    // the copy's identity within its source
	Link     string    // the copy's own link
	Rule     string    // why it was merged: "link" (same canonical link) or "title" (same normalised title within the window)
	Seen     time.Time // when the copy was found
}

// Person is an author or contributor.
type Person struct {
	Name  string
	Email string
	URI   string
}

// Category is a term with an optional scheme (Atom) or domain (RSS) and label.
type Category struct {
	Term   string
	Scheme string
	Label  string
}

// Enclosure is an attached media file (podcast audio, an image).
type Enclosure struct {
	URL    string
	Type   string // MIME type; may be empty
	Length int64  // bytes; 0 when unknown
}

// Sort is the time an item is ordered by: Published, else FirstSeen.
func (it Item) Sort() time.Time {
	if !it.Published.IsZero() {
		return it.Published
	}
	return it.FirstSeen
}

// Identity returns the key that identifies an item within its source under
// the auto policy: "id:" + the upstream id ([GUIDKey]: an id that is an
// http(s) URL is compared as a link) when there is one, else "link:" +
// the link's [LinkKey] (so http and https, tracking parameters and a
// trailing slash do not matter), else "hash:" + a SHA-256 of title and
// content. The result never depends on when the item was fetched.
func Identity(id, link, title, content string) string {
	if id = strings.TrimSpace(id); id != "" {
		return "id:" + GUIDKey(id)
	}
	if link = strings.TrimSpace(link); link != "" {
		return "link:" + LinkKey(link)
	}
	h := sha256.New()
	h.Write([]byte(strings.TrimSpace(title)))
	h.Write([]byte{0})
	h.Write([]byte(strings.TrimSpace(content)))
	return "hash:" + hex.EncodeToString(h.Sum(nil))
}

// SameContent reports whether a and b differ in nothing a reader would see;
// a changed Updated date alone does not count as a change.
func SameContent(a, b Item) bool {
	if a.Link != b.Link || a.Title != b.Title || a.Summary != b.Summary ||
		a.Content != b.Content || a.Language != b.Language ||
		len(a.Authors) != len(b.Authors) || len(a.Categories) != len(b.Categories) ||
		len(a.Enclosures) != len(b.Enclosures) {
		return false
	}
	for i := range a.Authors {
		if a.Authors[i] != b.Authors[i] {
			return false
		}
	}
	for i := range a.Categories {
		if a.Categories[i] != b.Categories[i] {
			return false
		}
	}
	for i := range a.Enclosures {
		if a.Enclosures[i] != b.Enclosures[i] {
			return false
		}
	}
	return true
}
