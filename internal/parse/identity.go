package parse

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/mmcdole/gofeed"
)

// idParts is what an item's identity is made of, as the feed gives it:
// the GUID/id, the absolute link, the plain-text title and the raw body.
type idParts struct {
	guid, link, title, body string
}

// identityParts returns the identity material of a translated item, and
// whether the item is kept at all: an item with no title, link, text or
// enclosure says nothing and is dropped.
func identityParts(u *gofeed.Item, base *url.URL, plainTitle bool) (idParts, bool) {
	ip := idParts{guid: strings.TrimSpace(u.GUID), link: absLink(base, u.Link)}
	ip.title = collapseSpace(u.Title)
	if !plainTitle {
		ip.title = plainText(u.Title)
	}
	ip.body = strings.TrimSpace(u.Content)
	if ip.body == "" {
		ip.body = strings.TrimSpace(u.Description)
	}
	keep := ip.title != "" || ip.link != "" || ip.body != "" || len(u.Enclosures) > 0
	return ip, keep
}

// key is the item's key under policy.
func (ip idParts) key(policy string) string {
	return feed.IdentityFor(policy, ip.guid, ip.link, ip.title, ip.body)
}

// keyEntries returns the key of every item of one document under policy.
//
// Under the auto policy (and ""), a document that gives one GUID to items
// with different canonical links is not trusted for this poll: all its items are keyed as under the link policy (canonical link,
// else title and content), and the returned warning says which GUID was
// repeated. The store still finds items it knew under their GUIDs, by
// their canonical links. Items that share a GUID and are the same are one
// item, as before. Under the guid policy repeated GUIDs are trusted: the
// first item of a GUID is kept.
func keyEntries(parts []idParts, policy string) ([]string, string) {
	keys := make([]string, len(parts))
	warning := ""
	if policy == "" || policy == feed.IdentityAuto {
		if guid, n := repeatedGUID(parts); n > 0 {
			policy = feed.IdentityLink
			warning = fmt.Sprintf("the feed gives %d different items the guid %q: its items were identified by link in this poll", n, clipText(guid, 80))
		}
	}
	for i, ip := range parts {
		keys[i] = ip.key(policy)
	}
	return keys, warning
}

// repeatedGUID returns the first GUID that the document gives to items
// with different canonical links, and how many different links share it;
// "", 0 when none. Items without a link do not count: one story listed
// twice, once without its link, is still one story.
func repeatedGUID(parts []idParts) (string, int) {
	byGUID := map[string]map[string]bool{}
	var order []string
	raw := map[string]string{} // the first GUID as written, by GUIDKey
	for _, ip := range parts {
		if ip.guid == "" || ip.link == "" {
			continue
		}
		g := feed.GUIDKey(ip.guid)
		m := byGUID[g]
		if m == nil {
			m = map[string]bool{}
			byGUID[g] = m
			order = append(order, g)
			raw[g] = ip.guid
		}
		m[feed.LinkKey(ip.link)] = true
	}
	for _, g := range order {
		if n := len(byGUID[g]); n > 1 {
			return raw[g], n
		}
	}
	return "", 0
}

// clipText cuts s to at most n runes, marking the cut with "…".
func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
