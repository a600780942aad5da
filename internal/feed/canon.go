package feed

import (
	"net/url"
	"slices"
	"strings"
)

// trackingParams are query parameters that say how a reader reached a
// story, never which story it is. CanonicalURL removes them. Names are
// compared in lower case; a name ending in "_" stands for every parameter
// it begins (utm_source, utm_medium, ...).
var trackingParams = []string{
	// Campaign parameters: Google Analytics, Matomo, Piwik, comScore.
	"utm_", "mtm_", "pk_", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",
	// Click ids of ad and social networks: Facebook, Google Ads, Microsoft,
	// Yandex, X/Twitter, TikTok, Instagram.
	"fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
	// Mailchimp campaign and member ids; HubSpot; Google's cross-domain
	// linker; X/Twitter's share source.
	"mc_cid", "mc_eid", "_hsenc", "_hsmi", "_ga", "_gl", "ref_src",
	// JoongAng Ilbo: which RSS feed or page section a click came from.
	"cloc",
}

// isTrackingParam reports whether the query parameter named name (as
// written, percent-decoded) is a tracking parameter.
func isTrackingParam(name string) bool {
	name = strings.ToLower(name)
	for _, p := range trackingParams {
		if strings.HasSuffix(p, "_") && strings.HasPrefix(name, p) || name == p {
			return true
		}
	}
	return false
}

// CanonicalURL returns the form of an absolute http(s) URL that the
// aggregator stores and publishes:
//
//   - the scheme and host in lower case, the scheme's default port (:80,
//     :443) and an empty port removed;
//   - an empty path written "/";
//   - the fragment removed, except a "#!" one (old single-page sites put the
//     story there);
//   - tracking parameters (see trackingParams: utm_*, fbclid, gclid, mc_cid,
//     mc_eid, mtm_*, ...) and empty parameters removed, the rest sorted by
//     name (parameters of the same name keep their order);
//   - percent escapes in upper case.
//
// It keeps the scheme (a feed that links over https keeps https) and a
// trailing slash: both can change what a server answers, so they are left
// to the identity, not the link (see LinkKey). Anything that is not an
// absolute http(s) URL with a host is returned trimmed, unchanged.
func CanonicalURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return s
	}
	u.Host = strings.ToLower(u.Host)
	if port := u.Port(); port == "" || u.Scheme == "http" && port == "80" || u.Scheme == "https" && port == "443" {
		u.Host = strings.TrimSuffix(u.Host, ":"+port)
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	u.RawPath = upperEscapes(u.RawPath)
	if !strings.HasPrefix(u.Fragment, "!") {
		u.Fragment, u.RawFragment = "", ""
	}
	u.RawQuery = canonicalQuery(u.RawQuery)
	u.ForceQuery = false
	return u.String()
}

// LinkKey returns the identity of a link: its CanonicalURL with the scheme
// left out, so that http and https name the same story, and a trailing
// slash on the path removed ("example.org/a/" and "example.org/a" are one
// story; the root stays "example.org/"). Anything that is not an absolute
// http(s) URL is returned trimmed, unchanged; "" stays "".
func LinkKey(s string) string {
	c := CanonicalURL(s)
	u, err := url.Parse(c)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return c
	}
	rest := strings.TrimPrefix(c, u.Scheme+"://")
	// Split off the query and fragment to trim the path alone.
	path, tail := rest, ""
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		path, tail = rest[:i], rest[i:]
	}
	if i := strings.IndexByte(path, '/'); i >= 0 {
		host, p := path[:i], strings.TrimRight(path[i:], "/")
		if p == "" {
			p = "/"
		}
		path = host + p
	}
	return path + tail
}

// GUIDKey returns the form of an upstream GUID/id that identifies an item:
// an absolute http(s) URL is compared as a link ([LinkKey]: feeds that use
// the article URL as GUID add tracking parameters that change with the
// section or feed the item was listed in) but keeps its fragment, anything
// else is kept as given, trimmed.
//
// A GUID is an identifier, and its fragment is part of it: scripting.com
// gives each post of a day the day's page with the post's anchor
// (".../2017/06/26.html#a080605"), so the posts of one day differ only
// there. A link's fragment, by contrast, usually says where a reader came
// from (IDG's "#tk.rss_all") and is dropped from links (see [PermaLink]).
// Keys made before GUIDs kept their fragment are upgraded by
// [UpgradedKey].
func GUIDKey(id string) string {
	id = strings.TrimSpace(id)
	u, err := url.Parse(id)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return id
	}
	k := LinkKey(id)
	if frag := u.EscapedFragment(); frag != "" && !strings.HasPrefix(frag, "!") {
		k += "#" + upperEscapes(frag)
	}
	return k
}

// PermaLink returns the canonical form of an item's link ([CanonicalURL]),
// keeping the link's fragment when guid is the same URL with the same
// fragment: the fragment then tells the item apart from the others on one
// page (see [GUIDKey]) rather than saying where a reader came from.
func PermaLink(link, guid string) string {
	c := CanonicalURL(link)
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || strings.Contains(c, "#") {
		return c // not an http(s) URL, or its fragment is kept anyway ("#!")
	}
	frag := u.EscapedFragment()
	if frag == "" || GUIDKey(link) != GUIDKey(guid) {
		return c
	}
	return c + "#" + upperEscapes(frag)
}

// UpgradedKey returns the key that the current identity rules give an item
// stored under key with upstream id id, and true, when key was made by an
// older rule that gives a different one; "", false otherwise. The store
// calls it on items written before a rule changed, and records the new key
// as an alias of the old one, so that the next poll finds the item and
// stores no duplicate.
//
// The one change so far: [GUIDKey] keeps a URL GUID's fragment, which it
// used to fold away.
func UpgradedKey(key, id string) (string, bool) {
	if KeyRule(key) != "id" || strings.TrimSpace(id) == "" {
		return "", false
	}
	now := "id:" + GUIDKey(id)
	if now == key || key != "id:"+LinkKey(id) {
		return "", false
	}
	return now, true
}

// IsTrackingParam reports whether the query parameter named name (as
// written, percent-decoded) says how a reader reached a story rather than
// which story it is: utm_*, fbclid, gclid, mc_cid, mc_eid and the rest of
// trackingParams. CanonicalURL drops these from links, StripTracking from
// any URL.
func IsTrackingParam(name string) bool { return isTrackingParam(name) }

// StripTracking returns u with its tracking parameters ([IsTrackingParam])
// removed from the query, and nothing else changed: not the order of the
// other parameters, their escaping, the fragment, nor a relative form. It is
// for URLs that are not links of stories (images, links inside an item's
// HTML), which must reach the same resource as before. A URL without
// tracking parameters is returned as it is; a query left empty goes with
// its "?".
func StripTracking(u string) string {
	q := strings.IndexByte(u, '?')
	if q < 0 || strings.IndexByte(u[:q], '#') >= 0 {
		return u // no query (a "?" after "#" is the fragment's)
	}
	end := len(u)
	if h := strings.IndexByte(u[q:], '#'); h >= 0 {
		end = q + h
	}
	var kept []string
	dropped := false
	for part := range strings.SplitSeq(u[q+1:end], "&") {
		if part == "" {
			continue // only written back when something is dropped
		}
		rawName, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			name = rawName
		}
		if name != "" && isTrackingParam(name) {
			dropped = true
			continue
		}
		kept = append(kept, part)
	}
	if !dropped {
		return u
	}
	if len(kept) > 0 {
		return u[:q+1] + strings.Join(kept, "&") + u[end:]
	}
	return u[:q] + u[end:]
}

// canonicalQuery drops tracking and empty parameters from a raw query and
// sorts the rest by name, stably.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type param struct{ name, raw string }
	var ps []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		rawName, _, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			name = rawName
		}
		if strings.TrimSpace(name) == "" || isTrackingParam(name) {
			continue
		}
		// White space is escaped, so that the URL survives being trimmed.
		part = spaceEscaper.Replace(part)
		ps = append(ps, param{name, upperEscapes(part)})
	}
	slices.SortStableFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.raw
	}
	return strings.Join(parts, "&")
}

// upperEscapes writes the hex digits of percent escapes in upper case, as
// RFC 3986 §6.2.2.1 recommends.
func upperEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' && isHex(b[i+1]) && isHex(b[i+2]) {
			b[i+1], b[i+2] = upperHex(b[i+1]), upperHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// spaceEscaper percent-encodes white space in a query part. It is built
// once: building a Replacer per URL showed as 7% of all allocation while
// ingesting the corpus (bench/run's heap profile).
var spaceEscaper = strings.NewReplacer(" ", "%20", "\t", "%09", "\n", "%0A", "\r", "%0D")
