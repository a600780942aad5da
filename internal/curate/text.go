package curate

import (
	"html"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/kpolicy/aggregator/internal/feed"
)

// fold makes s comparable for keyword matching: NFKC (full-width and
// compatibility forms become plain ones; Hangul stays composed, so a
// keyword never matches half a syllable), then Unicode case folding, then
// the dot that folding leaves on a Turkish capital İ is dropped so that
// "istanbul" finds "İstanbul".
func fold(s string) string {
	s = cases.Fold().String(norm.NFKC.String(s))
	return strings.ReplaceAll(s, "i\u0307", "i")
}

// texts holds an item's fields as rules see them, raw for regexps and
// folded for keywords, computed on first use.
type texts struct {
	it     feed.Item
	raw    map[string]string
	folded map[string]string
}

func newTexts(it feed.Item) *texts {
	return &texts{it: it, raw: map[string]string{}, folded: map[string]string{}}
}

// get returns the text of field: HTML reduced to its text, authors and
// categories one per line, FieldText all of them joined by newlines.
func (t *texts) get(field string) string {
	if s, ok := t.raw[field]; ok {
		return s
	}
	var s string
	switch field {
	case feed.FieldTitle:
		s = t.it.Title
	case feed.FieldSummary:
		s = htmlText(t.it.Summary)
	case feed.FieldContent:
		s = htmlText(t.it.Content)
	case feed.FieldAuthor:
		var b []string
		for _, p := range t.it.Authors {
			b = append(b, strings.TrimSpace(p.Name+" "+p.Email))
		}
		s = strings.Join(b, "\n")
	case feed.FieldCategory:
		var b []string
		for _, c := range t.it.Categories {
			b = append(b, c.Term)
			if c.Label != "" && c.Label != c.Term {
				b = append(b, c.Label)
			}
		}
		s = strings.Join(b, "\n")
	case feed.FieldURL:
		s = t.it.Link
	default: // FieldText
		s = strings.Join([]string{t.get(feed.FieldTitle), t.get(feed.FieldSummary), t.get(feed.FieldContent),
			t.get(feed.FieldAuthor), t.get(feed.FieldCategory)}, "\n")
	}
	t.raw[field] = s
	return s
}

func (t *texts) getFolded(field string) string {
	if s, ok := t.folded[field]; ok {
		return s
	}
	s := fold(t.get(field))
	t.folded[field] = s
	return s
}

func (r *rule) match(t *texts) bool {
	field := r.src.Field
	if field == "" {
		field = feed.FieldText
	}
	if r.re != nil {
		return r.re.MatchString(t.get(field))
	}
	return strings.Contains(t.getFolded(field), r.keyword)
}

// htmlText returns the text of an HTML fragment, entities decoded, with a
// space where a tag was, so "<p>a</p><p>b</p>" does not read "ab".
func htmlText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	z := xhtml.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return strings.TrimSpace(b.String())
		case xhtml.TextToken:
			b.WriteString(html.UnescapeString(string(z.Text())))
		default:
			b.WriteByte(' ')
		}
	}
}
