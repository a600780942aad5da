package mail

import (
	"net/url"
	"strings"
)

// linkPrefix is where every mail link lives under server.base_url.
const linkPrefix = "/mail/"

// LinkPath returns the path of the page a token opens: "/mail/confirm/T",
// "/mail/unsubscribe/T" or "/mail/manage/T". The server routes these with
// Pattern; the token is URL-safe and needs no escaping.
func LinkPath(p Purpose, token string) string {
	return linkPrefix + p.String() + "/" + token
}

// Pattern returns the net/http pattern path of p's links, with the token
// as the wildcard {token}: "/mail/unsubscribe/{token}".
func Pattern(p Purpose) string {
	return linkPrefix + p.String() + "/{token}"
}

// LinkURL returns base (server.base_url, without a trailing slash)
// followed by LinkPath.
func LinkURL(base string, p Purpose, token string) string {
	return strings.TrimRight(base, "/") + LinkPath(p, token)
}

// isHTTPS reports whether u is an absolute https URL with a host, the only
// kind RFC 8058 lets a mail offer for one-click unsubscribe.
func isHTTPS(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Scheme == "https" && p.Host != ""
}
