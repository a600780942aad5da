package scrape

import (
	"bytes"
	"errors"
	"fmt"
	stdhtml "html"
	"io"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"

	"github.com/kpolicy/aggregator/internal/htmlguard"
)

// Bounds of Extract, beyond htmlguard's on the page as a whole.
const (
	// MaxFieldBytes bounds the markup kept of one field of one item: a
	// summary selector that matches the whole page does not copy the page
	// into every item. A longer field is cut (Record.Cut says which).
	MaxFieldBytes = 64 << 10
	// maxAuthors bounds the author matches read per item; internal/parse
	// keeps fewer.
	maxAuthors = 100
)

// Record is one item as the selectors found it. Every field is HTML: an
// element's content as markup, or an attribute's value escaped as text;
// "" when the selector matched nothing or was not set.
type Record struct {
	Title, Link, Date, Summary string
	Authors                    []string // one per match of the author selector
	// SummaryCut is set when Summary was longer than MaxFieldBytes and was
	// cut there, so its markup may be unbalanced.
	SummaryCut bool
}

// Page is what Extract read from a page.
type Page struct {
	Title   string // the <title>, as markup
	Lang    string // <html lang>
	Base    string // <base href>, as written; "" when none
	Matched int    // elements the item selector matched
	Records []Record
}

// Extract reads the items of page (HTML, in UTF-8), fetched from pageURL,
// with r: one Record for each of the first maxItems elements that the item
// selector matches, in page order.
//
// It returns an error wrapping htmlguard.ErrTooComplex for a page whose
// tree would be too costly to build, one from the HTML parser for a page it
// refuses, and "item selector %q matched nothing on URL", wrapping
// ErrNoMatch, when no element matches the item selector.
func (r *Rules) Extract(page []byte, pageURL string, maxItems int) (Page, error) {
	if err := htmlguard.Check(page); err != nil {
		return Page{}, fmt.Errorf("page %s: %w", pageURL, err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		return Page{}, fmt.Errorf("page %s: %w", pageURL, err)
	}
	items := doc.FindMatcher(r.Item.m)
	if items.Length() == 0 {
		return Page{}, fmt.Errorf("item selector %q %w on %s", r.Item.Raw, ErrNoMatch, pageURL)
	}
	out := Page{Matched: items.Length()}
	if t := doc.FindMatcher(goquery.Single("title")); t.Length() > 0 {
		out.Title, _ = inner(t.Nodes[0])
	}
	if h := doc.FindMatcher(goquery.Single("html")); h.Length() > 0 {
		out.Lang, _ = h.Attr("lang")
	}
	if b := doc.FindMatcher(goquery.Single("base[href]")); b.Length() > 0 {
		out.Base, _ = b.Attr("href")
	}
	items.Slice(0, min(items.Length(), maxItems)).Each(func(_ int, item *goquery.Selection) {
		out.Records = append(out.Records, r.record(item))
	})
	return out, nil
}

// record reads one item element.
func (r *Rules) record(item *goquery.Selection) Record {
	var rec Record
	rec.Title, _ = r.Title.first(item)
	rec.Link, _ = r.Link.first(item)
	rec.Date, _ = r.Date.first(item)
	rec.Summary, rec.SummaryCut = r.Summary.first(item)
	if !r.Author.IsZero() {
		ns := r.Author.nodes(item, false)
		for _, n := range ns[:min(len(ns), maxAuthors)] {
			if s, _ := r.Author.value(n); s != "" {
				rec.Authors = append(rec.Authors, s)
			}
		}
	}
	return rec
}

// nodes returns the elements s selects inside item, in document order (the
// item itself for a bare "@attr"); only the first when single is set.
func (s Selector) nodes(item *goquery.Selection, single bool) []*html.Node {
	if s.m == nil {
		return item.Nodes
	}
	var m goquery.Matcher = s.m
	if single {
		m = goquery.SingleMatcher(m)
	}
	return item.FindMatcher(m).Nodes
}

// first returns the value of the first element s selects inside item, ""
// when there is none or s is not set, and whether it was cut.
func (s Selector) first(item *goquery.Selection) (string, bool) {
	if s.IsZero() {
		return "", false
	}
	ns := s.nodes(item, true)
	if len(ns) == 0 {
		return "", false
	}
	return s.value(ns[0])
}

// value is an element's attribute s.Attr, escaped, or its content.
func (s Selector) value(n *html.Node) (string, bool) {
	if s.Attr == "" {
		return inner(n)
	}
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == s.Attr {
			v := stdhtml.EscapeString(a.Val)
			if len(v) > MaxFieldBytes {
				return v[:MaxFieldBytes], true
			}
			return v, false
		}
	}
	return "", false
}

// inner renders the content of n as HTML, at most MaxFieldBytes of it, and
// reports whether it was cut.
func inner(n *html.Node) (string, bool) {
	w := &capped{max: MaxFieldBytes}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(w, c); err != nil {
			break // errFull, or a tree Render refuses: keep what was written
		}
	}
	return w.b.String(), w.cut
}

var errFull = errors.New("field full")

// capped is a writer that keeps the first max bytes and then fails.
type capped struct {
	b   bytes.Buffer
	max int
	cut bool
}

func (w *capped) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); len(p) > room {
		w.b.Write(p[:room])
		w.cut = true
		return room, errFull
	}
	return w.b.Write(p)
}

var _ io.Writer = (*capped)(nil)
