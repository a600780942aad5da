package parse

import (
	"bytes"
	"cmp"
	"mime"
	"net"
	"net/url"
	"slices"
	"strings"

	nethtml "golang.org/x/net/html"
	"golang.org/x/net/publicsuffix"
)

// FeedLink is one feed an HTML page announces in its head with
// <link rel="alternate" type="…" href="…" title="…">.
type FeedLink struct {
	URL   string // absolute, resolved against the page (and its <base>)
	Type  string // the media type, lower case, without parameters
	Title string
}

// feedLinkTypes are the media types of <link rel="alternate"> that announce
// a feed. Other alternates are not feeds: a WordPress page's REST
// representation (application/json), oEmbed (application/json+oembed,
// text/xml+oembed), translations (hreflang, no type).
var feedLinkTypes = map[string]bool{
	"application/rss+xml":   true,
	"application/atom+xml":  true,
	"application/feed+json": true,
	"application/rdf+xml":   true,
}

// RankFeeds orders the feeds a page at pageURL announces, best first: the
// site's own feeds before other sites' (a feed on another registrable
// domain, such as a FeedBurner copy or a partner's), and any feed before a
// comments feed (a title or URL naming comments: WordPress's "Comments
// Feed", Blogger's /feeds/comments/, a Korean blog's 댓글 or 덧글 RSS).
// Within a rank the page's order stands: a site lists its main feed first.
// links is not modified. `aggregator discover` prints this order and the
// poller follows its first entry.
func RankFeeds(pageURL string, links []FeedLink) []FeedLink {
	page := site(pageURL)
	rank := func(l FeedLink) int {
		r := 0
		if isComments(l) {
			r += 2
		}
		if page != "" && site(l.URL) != page {
			r++
		}
		return r
	}
	out := slices.Clone(links)
	slices.SortStableFunc(out, func(a, b FeedLink) int { return cmp.Compare(rank(a), rank(b)) })
	return out
}

// commentWords name a comments feed in a title or URL, lower case.
var commentWords = []string{"comment", "댓글", "덧글", "코멘트"}

func isComments(l FeedLink) bool {
	title, u := strings.ToLower(l.Title), strings.ToLower(l.URL)
	for _, w := range commentWords {
		if strings.Contains(title, w) || strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// site is what "the same site" compares: the registrable domain of the
// URL's host (example.co.kr for blog.example.co.kr), or the host and port
// of an address literal; "" when the URL has no host.
func site(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return strings.ToLower(u.Host)
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return d
	}
	return host
}

// htmlPage returns the not-a-feed error for an HTML page, naming the feeds
// the page announces in its head, best first.
func htmlPage(text []byte, base *url.URL) error {
	links := announcedFeeds(text, base)
	page := ""
	if base != nil {
		page = base.String()
	}
	var urls []string
	for _, l := range RankFeeds(page, links) {
		urls = append(urls, l.URL)
	}
	return &NotFeedError{Reason: reasonHTML, FeedLinks: urls}
}

// maxFeedLinks bounds the feed links read from one page: a real page
// announces a few; a hostile one may repeat the tag for its whole length.
const maxFeedLinks = 32

// announcedFeeds reads the feed links of an HTML page's head, in page
// order, each once, at most maxFeedLinks. text is UTF-8.
func announcedFeeds(text []byte, base *url.URL) []FeedLink {
	var links []FeedLink
	seen := map[string]bool{}
	z := nethtml.NewTokenizer(bytes.NewReader(text))
	for len(links) < maxFeedLinks {
		tt := z.Next()
		if tt == nethtml.ErrorToken {
			break
		}
		if tt != nethtml.StartTagToken && tt != nethtml.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if tok.Data == "body" {
			break
		}
		var rel, typ, href, title string
		for _, a := range tok.Attr {
			switch a.Key {
			case "rel":
				rel = strings.ToLower(a.Val)
			case "type":
				typ = strings.ToLower(strings.TrimSpace(a.Val))
				if t, _, err := mime.ParseMediaType(typ); err == nil {
					typ = t
				}
			case "href":
				href = a.Val
			case "title":
				title = strings.TrimSpace(a.Val)
			}
		}
		switch tok.Data {
		case "base":
			if u, err := url.Parse(strings.TrimSpace(href)); err == nil && href != "" {
				if base != nil {
					u = base.ResolveReference(u)
				}
				if u.IsAbs() {
					base = u
				}
			}
		case "link":
			if !hasToken(rel, "alternate") || !feedLinkTypes[typ] {
				continue
			}
			if l := absLink(base, href); l != "" && !seen[l] {
				seen[l] = true
				links = append(links, FeedLink{URL: l, Type: typ, Title: title})
			}
		}
	}
	return links
}
