package parse

import (
	"html"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	nethtml "golang.org/x/net/html"
)

// newPolicy builds the policy every item's HTML goes through. It is built
// once per Parser: a bluemonday Policy is safe for concurrent Sanitize calls
// once it is no longer being configured.
//
// UGCPolicy keeps the markup of articles (paragraphs, links, images, lists,
// tables, quotes) and drops scripts, styles, event handlers, forms, frames and
// any URL whose scheme is not http, https or mailto. On top of it: links to
// other sites open in a new tab (with noopener), and audio/video elements
// keep their (URL-checked) src and controls, for podcasts and news clips.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("src").OnElements("audio", "video")
	p.AllowAttrs("controls").Matching(regexp.MustCompile(`(?i)^(|controls)$`)).OnElements("audio", "video")
	p.AllowAttrs("width", "height").Matching(bluemonday.NumberOrPercent).OnElements("video")
	p.AllowAttrs("loading").Matching(regexp.MustCompile(`^(lazy|eager)$`)).OnElements("img")
	return p
}

// PagePolicy returns the policy item HTML is sanitised with again each time
// it is shown to a reader (the HTML pages, list mail): the store is not
// trusted to hold only what parsing wrote. It is bluemonday's UGCPolicy:
// article markup, links and images with checked URLs; no scripts, styles,
// event handlers, forms or frames. A Policy is safe for concurrent use.
func PagePolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AddTargetBlankToFullyQualifiedLinks(false)
	return p
}

// sanitiseHTML makes relative URLs in s absolute against base (when base is
// not nil) and then passes it through policy. The result is trimmed; markup
// with nothing left to show (only a script, say) becomes "".
func sanitiseHTML(policy *bluemonday.Policy, s string, base *url.URL) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	s = absoluteURLs(s, base)
	out := strings.TrimSpace(policy.Sanitize(s))
	if !strings.Contains(out, "<") && strings.TrimSpace(html.UnescapeString(out)) == "" {
		return ""
	}
	return out
}

// textAsHTML turns plain text into HTML that shows it as it is.
func textAsHTML(s string) string {
	return html.EscapeString(strings.TrimSpace(s))
}

// urlAttrs are the attributes whose values are URLs that absoluteURLs
// resolves; they cover every URL attribute the policy lets through.
var urlAttrs = map[string]bool{"href": true, "src": true, "cite": true, "poster": true}

// absoluteURLs rewrites relative URLs in the URL attributes of s against
// base. Tokens it does not change are copied byte for byte. References to a
// fragment alone ("#note1") are left as they are: they point inside s.
func absoluteURLs(s string, base *url.URL) string {
	if base == nil || !strings.Contains(s, "=") || !mayHaveRelativeURL(s) {
		return s
	}
	return resolveAll(s, base)
}

// resolveAll is absoluteURLs without its shortcuts: the tokenizer pass.
func resolveAll(s string, base *url.URL) string {
	var b strings.Builder
	b.Grow(len(s) + 64)
	z := nethtml.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if tt == nethtml.ErrorToken {
			if z.Err() != io.EOF {
				// The tokenizer only fails on read errors, which a
				// strings.Reader does not have; keep s rather than guess.
				return s
			}
			return b.String()
		}
		raw := z.Raw()
		if tt != nethtml.StartTagToken && tt != nethtml.SelfClosingTagToken {
			b.Write(raw)
			continue
		}
		// Raw must be copied before Token, which may reuse the buffer.
		rawCopy := string(raw)
		tok := z.Token()
		changed := false
		for i, a := range tok.Attr {
			if !urlAttrs[a.Key] {
				continue
			}
			if abs, ok := resolveRef(base, a.Val); ok && abs != a.Val {
				tok.Attr[i].Val = abs
				changed = true
			}
		}
		if changed {
			b.WriteString(tok.String())
		} else {
			b.WriteString(rawCopy)
		}
	}
}

// resolveRef resolves a relative reference ref against base. It reports
// false, leaving ref to the caller, for absolute URLs, fragment-only
// references and anything net/url cannot parse.
func resolveRef(base *url.URL, ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") {
		return ref, false
	}
	u, err := url.Parse(ref)
	if err != nil || u.IsAbs() {
		return ref, false
	}
	return base.ResolveReference(u).String(), true
}

// PlainText is the plain text a reader sees of s, which may hold HTML,
// as the parser makes titles of it (see plainText): for commands that show
// an item's HTML as text.
func PlainText(s string) string { return plainText(s) }

// plainText reduces s, which may hold HTML, to the plain text a reader sees:
// tags dropped (with the contents of script and style), entities decoded
// once, runs of white space collapsed to one space, trimmed.
func plainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapseSpace(s)
	}
	var b strings.Builder
	z := nethtml.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside script/style
	for {
		switch z.Next() {
		case nethtml.ErrorToken:
			return collapseSpace(b.String())
		case nethtml.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case nethtml.StartTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				skip++
			case "br", "p", "div", "li":
				b.WriteByte(' ')
			}
		case nethtml.EndTagToken:
			name, _ := z.TagName()
			if n := string(name); (n == "script" || n == "style") && skip > 0 {
				skip--
			}
		}
	}
}

// collapseSpace replaces each run of white space in s by one space and trims.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
