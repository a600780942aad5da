package parse

import (
	"net/url"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/mmcdole/gofeed/atom"
	ext "github.com/mmcdole/gofeed/extensions"
)

// link is one feed-level <link rel=… href=…> (Atom's, or atom:link in RSS).
type link struct{ rel, href string }

// hubLinks sets out's Hub and Self from a feed's links (WebSub §4): the
// first rel="hub" and the first rel="self", each made absolute; neither is
// set unless both are, since a subscription needs the two.
func hubLinks(out *feed.Parsed, links []link, base *url.URL) {
	var hub, self string
	for _, l := range links {
		for _, rel := range strings.Fields(strings.ToLower(l.rel)) {
			switch {
			case rel == "hub" && hub == "":
				hub = absLink(base, l.href)
			case rel == "self" && self == "":
				self = absLink(base, l.href)
			}
		}
	}
	if hub != "" && self != "" {
		out.Hub, out.Self = hub, self
	}
}

// atomLinks are an Atom feed's own links.
func atomLinks(af *atom.Feed) []link {
	var out []link
	for _, l := range af.Links {
		if l != nil {
			out = append(out, link{l.Rel, l.Href})
		}
	}
	return out
}

// rssLinks are the atom:link elements of an RSS channel.
func rssLinks(e ext.Extensions) []link {
	var out []link
	for _, x := range e["atom"]["link"] {
		out = append(out, link{x.Attrs["rel"], x.Attrs["href"]})
	}
	return out
}
