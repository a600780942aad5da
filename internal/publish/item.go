package publish

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/net/html"

	"github.com/kpolicy/aggregator/internal/feed"
)

// itemNamespace is the name space of the urn:uuid ids given to items whose
// upstream id is not an absolute IRI. It must never change: every such id
// readers have seen would change with it.
var itemNamespace = uuid.UUID{
	0x83, 0x44, 0x8e, 0x49, 0x95, 0xd1, 0x46, 0x16,
	0x96, 0xe2, 0xe7, 0x2d, 0x82, 0x83, 0x95, 0x8e,
}

// entryID is the id an item is published under in Atom, RSS and JSON
// Feed: the upstream id when it is a canonical URI of a registered scheme
// ([canonicalID]) and names this item alone (not [feed.Item.IDShared]),
// else a name-based (SHA-1) UUID of the source id and the item key. Both
// are stable across renders, restarts and instances: neither depends on
// which other items a document holds.
func entryID(it feed.Item) string {
	if id := iriToURI(it.ID); !it.IDShared && canonicalID(id) {
		return id
	}
	return generatedID(it)
}

// generatedID is the urn:uuid of an item, derived from its identity alone.
func generatedID(it feed.Item) string {
	return "urn:uuid:" + uuid.NewSHA1(itemNamespace, []byte(it.SourceID+"\x00"+it.Key)).String()
}

// isAbsoluteIRI reports whether s starts with a URI scheme (RFC 3986 §3.1)
// followed by something, and holds no character an IRI cannot (spaces,
// C0 and C1 controls, <>"{}|\^`).
func isAbsoluteIRI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	for _, r := range s {
		if r <= ' ' || 0x7f <= r && r <= 0x9f || strings.ContainsRune("<>\"{}|\\^`", r) {
			return false
		}
	}
	return true
}

// isHTTPURL reports whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	if !isAbsoluteIRI(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// people returns the persons that say anything, skipping empty ones.
func people(ps []feed.Person) []feed.Person {
	var out []feed.Person
	for _, p := range ps {
		if p != (feed.Person{}) {
			out = append(out, p)
		}
	}
	return out
}

// displayName is the name a person is shown under: the name, else the
// email address, else the URI (Atom requires a name).
func displayName(p feed.Person) string {
	switch {
	case p.Name != "":
		return p.Name
	case p.Email != "":
		return p.Email
	}
	return p.URI
}

// atomTime formats t for Atom and JSON Feed: RFC 3339 in UTC, whole seconds.
func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rssTime formats t for RSS 2.0: RFC 822 with a four-digit year, in UTC.
func rssTime(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

// xmlChars removes the characters XML 1.0 forbids (C0 controls but tab
// and line breaks, surrogates, U+FFFE and U+FFFF): they carry no text, and
// the U+FFFD that encoding/xml would write instead is itself flagged by
// feed validators. Bytes that are not UTF-8 become U+FFFD. CDATA sections
// are written verbatim, so their text must go through here first.
func xmlChars(s string) string {
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' ||
			r >= 0x20 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
	}
	for _, r := range s {
		if !ok(r) || r == utf8.RuneError {
			return strings.Map(func(r rune) rune {
				if ok(r) || r == utf8.RuneError {
					return r
				}
				return -1
			}, s)
		}
	}
	return s
}

// isBlock reports whether the element named tag separates words when HTML
// becomes text.
func isBlock(tag string) bool {
	switch tag {
	case "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
		"figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
		"hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul":
		return true
	}
	return false
}

// plainText returns the text of an HTML fragment, entities decoded and
// white space collapsed, for fields that must be plain text.
func plainText(fragment string) string {
	if !strings.ContainsAny(fragment, "<&") {
		return strings.Join(strings.Fields(fragment), " ")
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			if name, _ := z.TagName(); isBlock(string(name)) {
				b.WriteByte(' ')
			}
		}
	}
}

// defaultMIMEType is the type of an enclosure whose feed did not say.
const defaultMIMEType = "application/octet-stream"

// langTag returns s as a language tag of the shape XML and RFC 4287 accept
// ("ko", "en-US"): trimmed, "_" read as "-". It returns "" for anything
// else, so a malformed tag is left out rather than invalidating the feed.
func langTag(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "-")
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return ""
		}
		for _, c := range []byte(sub) {
			letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return ""
			}
		}
	}
	return s
}

// email returns s when it has the shape of an email address (something,
// "@", something: RFC 4287's pattern), else "".
func email(s string) string {
	if len(s) >= 3 && strings.Contains(s[1:len(s)-1], "@") {
		return s
	}
	return ""
}
