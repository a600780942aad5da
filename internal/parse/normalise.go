package parse

import (
	stdhtml "html"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	gfjson "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
)

// entry is one item as gofeed's universal model gives it, with what that
// model drops read back from the format's own: RSS isPermaLink and category
// domains, Atom author URIs and category schemes and labels, the type of
// Atom and JSON Feed content.
type entry struct {
	u           *gofeed.Item
	idPermaLink bool
	authors     []feed.Person
	categories  []feed.Category
	language    string
	summaryText bool // Summary is plain text, not HTML
	contentText bool // Content is plain text, not HTML
	noContent   bool // Content is not text at all (Atom out-of-line or binary)
	plainTitle  bool // Title is plain text already (JSON Feed)
}

// rssEntries pairs the translated items of an RSS feed with the originals;
// the translator keeps their order one for one.
func rssEntries(rf *rss.Feed, uf *gofeed.Feed) []entry {
	out := make([]entry, len(uf.Items))
	for i, u := range uf.Items {
		e := entry{u: u}
		if i < len(rf.Items) {
			it := rf.Items[i]
			if it.GUID != nil && strings.TrimSpace(it.GUID.Value) != "" {
				e.idPermaLink = !strings.EqualFold(strings.TrimSpace(it.GUID.IsPermalink), "false")
			}
			e.authors = rssAuthors(it)
			for _, c := range it.Categories {
				e.categories = append(e.categories, feed.Category{Term: plainText(c.Value), Scheme: strings.TrimSpace(c.Domain)})
			}
			if dc := it.DublinCoreExt; dc != nil {
				for _, s := range dc.Subject {
					e.categories = append(e.categories, feed.Category{Term: plainText(s)})
				}
				if len(dc.Language) > 0 {
					e.language = dc.Language[0]
				}
			}
		}
		out[i] = e
	}
	return out
}

// rssAuthors reads an item's author from <author> ("email (Name)"), else
// Dublin Core creators, else iTunes.
func rssAuthors(it *rss.Item) []feed.Person {
	var texts []string
	switch dc := it.DublinCoreExt; {
	case strings.TrimSpace(it.Author) != "":
		texts = []string{it.Author}
	case dc != nil && len(dc.Author) > 0:
		texts = dc.Author
	case dc != nil && len(dc.Creator) > 0:
		texts = dc.Creator
	case it.ITunesExt != nil && it.ITunesExt.Author != "":
		texts = []string{it.ITunesExt.Author}
	}
	var out []feed.Person
	for _, t := range texts {
		if p := splitPerson(t); p != (feed.Person{}) {
			out = append(out, p)
		}
	}
	return out
}

var (
	emailThenName = regexp.MustCompile(`^(\S+@\S+)\s*\((.+)\)$`)                 // "a@b.c (Name)"
	nameThenEmail = regexp.MustCompile(`^(.+?)\s*[(<]\s*(\S+@[^\s)>]+)\s*[)>]$`) // "Name (a@b.c)", "Name <a@b.c>"
	emailOnly     = regexp.MustCompile(`^[^\s@()<>]+@[^\s@()<>]+$`)
)

// jsonTitle is a JSON Feed title as text. The format says titles are plain
// text, so tags stay as they are; but publishers often HTML-escape them
// anyway ("Hitchhiker&#039;s"), and no reader shows "&#039;" to anyone, so
// character references are decoded.
func jsonTitle(s string) string {
	if strings.Contains(s, "&") {
		s = stdhtml.UnescapeString(s)
	}
	return collapseSpace(s)
}

// splitPerson splits the free-form RSS author forms into name and email.
func splitPerson(s string) feed.Person {
	// Split before reducing to text: "Name <a@b.c>" would lose the address
	// to the tag stripper.
	s = collapseSpace(s)
	if m := emailThenName.FindStringSubmatch(s); m != nil {
		return feed.Person{Name: plainText(m[2]), Email: m[1]}
	}
	if m := nameThenEmail.FindStringSubmatch(s); m != nil {
		return feed.Person{Name: plainText(m[1]), Email: m[2]}
	}
	if emailOnly.MatchString(s) {
		return feed.Person{Email: strings.TrimPrefix(s, "mailto:")}
	}
	return feed.Person{Name: plainText(s)}
}

func atomEntries(af *atom.Feed, uf *gofeed.Feed) []entry {
	out := make([]entry, len(uf.Items))
	for i, u := range uf.Items {
		e := entry{u: u}
		if i < len(af.Entries) {
			en := af.Entries[i]
			persons := en.Authors
			if len(persons) == 0 && en.Source != nil {
				persons = en.Source.Authors
			}
			if len(persons) == 0 {
				persons = af.Authors // RFC 4287: entries inherit the feed's authors
			}
			for _, p := range persons {
				if p == nil {
					continue
				}
				if ap := (feed.Person{Name: plainText(p.Name), Email: strings.TrimSpace(p.Email), URI: strings.TrimSpace(p.URI)}); ap != (feed.Person{}) {
					e.authors = append(e.authors, ap)
				}
			}
			for _, c := range en.Categories {
				if c == nil || strings.TrimSpace(c.Term) == "" {
					continue
				}
				e.categories = append(e.categories, feed.Category{
					Term: strings.TrimSpace(c.Term), Scheme: strings.TrimSpace(c.Scheme), Label: plainText(c.Label)})
			}
			if c := en.Content; c != nil {
				switch t := strings.ToLower(strings.TrimSpace(c.Type)); {
				case t == "" || t == "text" || t == "text/plain":
					e.contentText = true
				case t == "html" || t == "xhtml" || strings.Contains(t, "html"):
				case strings.HasPrefix(t, "text/"):
					e.contentText = true
				default: // out-of-line, XML or binary media: nothing to show
					e.noContent = true
				}
			}
		}
		out[i] = e
	}
	return out
}

func jsonEntries(jf *gfjson.Feed, uf *gofeed.Feed) []entry {
	out := make([]entry, len(uf.Items))
	for i, u := range uf.Items {
		e := entry{u: u, summaryText: true, plainTitle: true}
		if i < len(jf.Items) {
			it := jf.Items[i]
			authors := it.Authors
			if len(authors) == 0 && it.Author != nil {
				authors = []*gfjson.Author{it.Author}
			}
			if len(authors) == 0 {
				authors = jf.Authors
			}
			if len(authors) == 0 && jf.Author != nil {
				authors = []*gfjson.Author{jf.Author}
			}
			for _, a := range authors {
				if a == nil {
					continue
				}
				if p := (feed.Person{Name: collapseSpace(a.Name), URI: strings.TrimSpace(a.URL)}); p != (feed.Person{}) {
					e.authors = append(e.authors, p)
				}
			}
			for _, t := range it.Tags {
				if t = collapseSpace(t); t != "" {
					e.categories = append(e.categories, feed.Category{Term: t})
				}
			}
			e.language = it.Language
			e.contentText = it.ContentHTML == "" && it.ContentText != ""
		}
		out[i] = e
	}
	return out
}

// itemIdentity returns the auto-policy Key of a translated item on its own
// (without the document's repeated-GUID check; see keyEntries) and whether
// the item is kept at all: an item with no title, link, text or enclosure
// says nothing and is dropped.
func itemIdentity(u *gofeed.Item, base *url.URL, plainTitle bool) (key string, keep bool) {
	ip, keep := identityParts(u, base, plainTitle)
	return ip.key(feed.IdentityAuto), keep
}

// normalise turns an entry into a feed.Item with the given key. base is
// the feed's URL.
func (p *Parser) normalise(e entry, base *url.URL, feedLang, sourceID, key string) feed.Item {
	u := e.u
	it := feed.Item{
		SourceID:      sourceID,
		Key:           key,
		ID:            strings.TrimSpace(u.GUID),
		IDIsPermaLink: e.idPermaLink,
		Link:          feed.PermaLink(absLink(base, u.Link), u.GUID),
		Title:         plainText(u.Title),
		Authors:       absPersons(base, e.authors),
		Categories:    dedupCategories(e.categories),
		Enclosures:    enclosures(base, u.Enclosures),
		Language:      strings.TrimSpace(e.language),
	}
	if e.plainTitle {
		it.Title = jsonTitle(u.Title)
	}
	if it.Link == "" && it.IDIsPermaLink {
		it.Link = feed.PermaLink(absLink(nil, it.ID), it.ID) // only a guid that is itself a URL
	}
	if it.Language == "" {
		it.Language = feedLang
	}
	if len(it.Authors) == 0 {
		for _, a := range u.Authors {
			if a == nil {
				continue
			}
			if p := (feed.Person{Name: plainText(a.Name), Email: strings.TrimSpace(a.Email)}); p != (feed.Person{}) {
				it.Authors = append(it.Authors, p)
			}
		}
	}

	// Relative URLs in the HTML resolve against the item's page if known.
	htmlBase := base
	if l, err := url.Parse(it.Link); err == nil && it.Link != "" {
		htmlBase = l
	}
	summary, content := u.Description, u.Content
	if e.summaryText {
		summary = textAsHTML(summary)
	}
	switch {
	case e.noContent:
		content = ""
	case e.contentText:
		content = textAsHTML(content)
	}
	it.Summary = sanitiseHTML(p.policy, summary, htmlBase)
	it.Content = sanitiseHTML(p.policy, content, htmlBase)

	it.Published = feedTime(u.Published, u.PublishedParsed)
	it.Updated = feedTime(u.Updated, u.UpdatedParsed)
	if it.Published.IsZero() {
		it.Published = it.Updated
	}
	if it.Updated.IsZero() {
		it.Updated = it.Published
	}
	it.Dated = !it.Published.IsZero()
	capItem(&it)
	return it
}

// absLink resolves a link against base and keeps it only if it is an
// absolute http(s) URL: anything else (javascript:, data:, a bare word)
// would be unsafe or useless as the link of a story.
func absLink(base *url.URL, s string) string {
	return absURL(base, s, "http", "https")
}

func absURL(base *url.URL, s string, schemes ...string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "http" || scheme == "https" || scheme == "ftp") && u.Host == "" {
		return ""
	}
	for _, sc := range schemes {
		if scheme == sc {
			return u.String()
		}
	}
	return ""
}

func absPersons(base *url.URL, ps []feed.Person) []feed.Person {
	for i := range ps {
		ps[i].URI = absURL(base, ps[i].URI, "http", "https", "mailto")
		ps[i].Email = strings.TrimPrefix(ps[i].Email, "mailto:")
	}
	return ps
}

func dedupCategories(cs []feed.Category) []feed.Category {
	var out []feed.Category
	seen := make(map[feed.Category]bool, len(cs))
	for _, c := range cs {
		if c.Term == "" || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

func enclosures(base *url.URL, es []*gofeed.Enclosure) []feed.Enclosure {
	var out []feed.Enclosure
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		if e == nil {
			continue
		}
		u := absURL(base, e.URL, "http", "https", "ftp", "magnet")
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		n, err := strconv.ParseInt(strings.TrimSpace(e.Length), 10, 64)
		if err != nil || n < 0 {
			n = 0
		}
		out = append(out, feed.Enclosure{URL: u, Type: strings.TrimSpace(e.Type), Length: n})
	}
	return out
}
