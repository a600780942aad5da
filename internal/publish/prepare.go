package publish

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/kpolicy/aggregator/internal/feed"
)

// prepare readies in's items for rendering, once for every format:
//
//   - a document must not list an id twice (RSS 2.0 guid, RFC 4287
//     §4.1.1), and every item is published: the store marks the items whose
//     upstream id an earlier item carries (feed.Item.IDShared), so ids are
//     unique already; should two still meet (two upstream ids that map to
//     one URI), the later item gets its generated id, and only an item whose
//     generated id is taken too (which two stored items cannot have) is
//     left out;
//   - characters XML forbids are removed from Title, Summary and Content;
//   - tracking pixels and parameters are removed from Summary and Content
//     (tracking.StripHTML): the parser removes them at ingest, and this
//     cleans items stored before a rule existed;
//   - Summary and Content are re-serialised through the HTML5 parser, so
//     that readers (and the W3C validator's strict HTML5 parse) get
//     well-formed markup, and every relative URL in href, src and the like
//     is resolved against the item's link, else its source's home page,
//     else its source's feed: a reader has no other base to resolve it by.
//
// memo, when set, remembers the cleaned HTML between calls.
func prepare(in Input, memo *cleanedMemo) Input {
	seen := make(map[string]bool, len(in.Items))
	items := make([]feed.Item, 0, len(in.Items))
	for _, it := range in.Items {
		id := entryID(it)
		if seen[id] {
			it.IDShared = true
			if id = entryID(it); seen[id] {
				continue
			}
		}
		seen[id] = true
		base := it.Link
		if src, ok := in.Sources[it.SourceID]; ok && base == "" {
			base = src.Link
			if base == "" {
				base = src.FeedURL
			}
		}
		it.Title = xmlChars(it.Title)
		it.Summary = memo.clean(it.Summary, base)
		it.Content = memo.clean(it.Content, base)
		items = append(items, it)
	}
	in.Items = items
	return in
}

// urlAttrs are the HTML attributes that hold one URL.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "cite": true, "poster": true, "longdesc": true,
	"action": true, "background": true, "data": true, "usemap": true,
}

// cleanHTML parses fragment as the body of an HTML5 document and renders it
// back, resolving relative URLs against base. A URL that cannot be parsed
// or resolved to an absolute one is dropped, attribute and all. srcset,
// which lists URLs with sizes, is dropped too: bluemonday keeps it only
// for images that also have a src.
func cleanHTML(fragment, base string) string {
	if strings.TrimSpace(fragment) == "" {
		return ""
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(fragment), ctx)
	if err != nil {
		return fragment
	}
	baseURL, _ := url.Parse(base)
	var b strings.Builder
	for _, n := range nodes {
		resolveURLs(n, baseURL)
		if err := html.Render(&b, n); err != nil {
			return fragment
		}
	}
	return b.String()
}

func resolveURLs(n *html.Node, base *url.URL) {
	if n.Type == html.ElementNode {
		attrs := n.Attr[:0]
		for _, a := range n.Attr {
			if a.Namespace == "" && a.Key == "srcset" {
				continue
			}
			if a.Namespace == "" && urlAttrs[a.Key] {
				v, ok := absoluteURL(a.Val, base)
				if !ok {
					continue
				}
				a.Val = v
			}
			attrs = append(attrs, a)
		}
		n.Attr = attrs
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		resolveURLs(c, base)
	}
}

// schemeRE is what an absolute URL starts with.
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// absoluteURL returns ref resolved against base, and false when that does
// not give an absolute URL.
func absoluteURL(ref string, base *url.URL) (string, bool) {
	ref = strings.TrimSpace(ref)
	if schemeRE.MatchString(ref) {
		return ref, true
	}
	if base == nil || !base.IsAbs() {
		return "", false
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", false
	}
	return base.ResolveReference(u).String(), true
}

// Entry ids. RFC 4287 wants an IRI; the W3C validator also wants it in
// canonical form (RFC 3986 §6.2.2), plain ASCII and of a registered scheme,
// since readers compare ids character by character. An upstream id that is
// all of that is kept; any other gets the generated urn:uuid.

var (
	uriCharsRE = regexp.MustCompile(`^[A-Za-z][0-9A-Za-z+.-]*:(//)?[0-9A-Za-z;/?:@&=+$.\-_!~*'()%,#]+$`)
	urnRE      = regexp.MustCompile(`^urn:[a-zA-Z0-9][a-zA-Z0-9-]{1,31}:([a-zA-Z0-9()+,.:=@;$_!*'\-]|%[0-9A-F]{2})+$`)
	uuidURNRE  = regexp.MustCompile(`^urn:uuid:[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$`)
	tagRE      = regexp.MustCompile(`^tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?$`)
)

// canonicalID reports whether s can be published as an entry id as it is.
func canonicalID(s string) bool {
	if !uriCharsRE.MatchString(s) {
		return false
	}
	scheme, rest, _ := strings.Cut(s, ":")
	switch scheme {
	case "tag":
		return tagRE.MatchString(s)
	case "urn":
		if strings.HasPrefix(s, "urn:uuid:") {
			return uuidURNRE.MatchString(s)
		}
		return urnRE.MatchString(s)
	case "http", "https":
		return canonicalHTTP(scheme, rest)
	}
	return false
}

// canonicalHTTP reports whether an http(s) URL is in the normal form of
// RFC 3986 §6.2.2: lower-case host without a default or empty port, no dot
// segments, upper-case percent-encodings, none of them encoding an
// unreserved character.
func canonicalHTTP(scheme, rest string) bool {
	if !strings.HasPrefix(rest, "//") {
		return false
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		return false // no path: the canonical form adds "/"
	}
	host, path := rest[:end], rest[end:]
	if host == "" || host != strings.ToLower(host) || strings.Contains(host, "@") || strings.HasSuffix(host, ".") {
		return false
	}
	if h, port, ok := strings.Cut(host, ":"); ok {
		if h == "" || port == "" || strings.HasPrefix(port, "0") ||
			scheme == "http" && port == "80" || scheme == "https" && port == "443" {
			return false
		}
		for _, c := range port {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	p, _, _ := strings.Cut(path, "?")
	p, _, _ = strings.Cut(p, "#")
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 >= len(path) {
			return false
		}
		hex := path[i+1 : i+3]
		if hex != strings.ToUpper(hex) {
			return false
		}
		var c byte
		if _, err := fmt.Sscanf(hex, "%02X", &c); err != nil {
			return false
		}
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			return false
		}
	}
	return true
}

// atomEntryTime is an entry's atom:updated: t to the second, plus a
// fraction of a second that is fixed for the item (from its Seq, else a
// hash of its id). Readers and the W3C validator take two entries of one
// document with the same atom:updated for a publisher stamping every entry
// with one time; items of an aggregated channel often share a second
// (everything first seen in one poll does), and this keeps their times
// distinct without moving any of them by a whole second, and without ever
// changing an entry's value from one render to the next.
func atomEntryTime(it feed.Item, t time.Time) time.Time {
	frac := it.Seq % 1e9
	if it.Seq == 0 {
		sum := sha256.Sum256([]byte(entryID(it)))
		frac = binary.BigEndian.Uint64(sum[:8]) % 1e9
	}
	return t.UTC().Truncate(time.Second).Add(time.Duration(frac))
}

// atomFracTime formats t for Atom with all nine fraction digits, so that
// equal-length values sort as times.
func atomFracTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }

// iriToURI maps an IRI to a URI (RFC 3987 §3.1): every byte of a non-ASCII
// character is percent-encoded. ASCII strings are returned as they are.
func iriToURI(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			var b strings.Builder
			for j := 0; j < len(s); j++ {
				if c := s[j]; c >= 0x80 {
					fmt.Fprintf(&b, "%%%02X", c)
				} else {
					b.WriteByte(c)
				}
			}
			return b.String()
		}
	}
	return s
}
