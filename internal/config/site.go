package config

import (
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html/atom"
	"golang.org/x/text/language"

	xhtml "golang.org/x/net/html"

	"github.com/goccy/go-yaml/ast"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// DefaultSiteLanguage is site.language when the file leaves it out.
const DefaultSiteLanguage = "en"

// Bounds of the site: keys. A description longer than OpenSearch's 1,024
// characters would make the description document invalid.
const (
	maxSiteTitle       = 200
	maxSiteDescription = 1024
	maxSiteFooter      = 8 << 10
)

func (d *decoder) site(s *feed.Site) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		d.mapping(n, path, []key{
			{"title", d.str(&s.Title)},
			{"description", d.str(&s.Description)},
			{"language", d.str(&s.Language)},
			{"footer", d.str(&s.Footer)},
		})
	}
}

// DefaultSiteTitle is site.title when the file leaves it out: the host
// (and path) of the site's public address, "news.example.org". It names
// this site, as a reader's tab, bookmark or feed reader should, where the
// program's own name would name every instance alike.
func DefaultSiteTitle(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "aggregator"
	}
	return strings.TrimPrefix(u.Host, "www.") + strings.TrimRight(u.EscapedPath(), "/")
}

// fillSite gives the site: keys the file left out their defaults and
// writes the language in its canonical form ("en_us" is "en-US"), before
// validation.
func (c *Config) fillSite(given func(path string) bool) {
	if !given("site.title") {
		c.Site.Title = DefaultSiteTitle(c.Server.BaseURL)
	}
	if !given("site.language") {
		c.Site.Language = DefaultSiteLanguage
	} else if tag, ok := siteLanguage(c.Site.Language); ok {
		c.Site.Language = tag
	}
}

// siteLanguage returns the canonical form of a BCP 47 tag with a known
// language ("und" and private-use tags name none).
func siteLanguage(s string) (string, bool) {
	if strings.TrimSpace(s) != s || s == "" {
		return "", false
	}
	tag, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	if base, _, _ := tag.Raw(); base.String() == "und" {
		return "", false
	}
	return tag.String(), true
}

func (v *validator) site(s feed.Site) {
	switch t := s.Title; {
	case strings.TrimSpace(t) == "":
		v.add("site.title", "must not be blank; leave the key out for the default (the host of server.base_url)")
	case utf8.RuneCountInString(t) > maxSiteTitle:
		v.add("site.title", "must be at most %d characters (got %d)", maxSiteTitle, utf8.RuneCountInString(t))
	case strings.ContainsFunc(t, unicode.IsControl):
		v.add("site.title", "must be one line of text, without control characters")
	}
	if n := utf8.RuneCountInString(s.Description); n > maxSiteDescription {
		v.add("site.description", "must be at most %d characters (got %d)", maxSiteDescription, n)
	} else if strings.ContainsFunc(s.Description, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		v.add("site.description", "must be text, without control characters")
	}
	if _, ok := siteLanguage(s.Language); !ok {
		v.add("site.language", `must be a BCP 47 language tag such as "en", "ko" or "en-GB" (got %q)`, s.Language)
	}
	if len(s.Footer) > maxSiteFooter {
		v.add("site.footer", "must be at most %s (got %s)", formatSize(maxSiteFooter), formatSize(int64(len(s.Footer))))
	} else if what := unsafeMarkup(s.Footer); what != "" {
		v.add("site.footer", "the pages' HTML policy would remove %s; scripts, styles, classes, event handlers, forms and frames are not allowed (use p, a, b, i, em, strong, small, br, img, ul, li…)", what)
	}
}

// SanitizedFooter is f as pages show it: passed through the pages' HTML
// policy (parse.PagePolicy), which Validate checks removes nothing from it.
func SanitizedFooter(f string) string {
	return strings.TrimSpace(parse.PagePolicy().Sanitize(f))
}

// unsafeMarkup returns what the pages' policy would remove from the
// HTML s, as markup ("<script>", `the attribute style="…" of <p>`), or ""
// when it keeps everything. The policy's own additions (rel="nofollow" on
// links) and how it writes text and entities do not count.
func unsafeMarkup(s string) string {
	in, out := markupTokens(s), markupTokens(SanitizedFooter(s))
	for i, t := range in {
		if i >= len(out) || !t.same(out[i]) {
			return t.describe(out, i)
		}
	}
	if len(out) > len(in) {
		return "nothing" // the policy only added: cannot happen, but say so rather than refuse
	}
	return ""
}

// markupToken is one token of an HTML fragment, as compared by
// unsafeMarkup: text unescaped, attributes sorted, comments dropped,
// adjacent text joined.
type markupToken struct {
	kind  xhtml.TokenType
	name  string // tag name, or the text
	attrs []xhtml.Attribute
}

func markupTokens(s string) []markupToken {
	var out []markupToken
	z := xhtml.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case xhtml.ErrorToken:
			// White space between tags is not content.
			return slices.DeleteFunc(out, func(t markupToken) bool {
				return t.kind == xhtml.TextToken && strings.TrimSpace(t.name) == ""
			})
		case xhtml.CommentToken, xhtml.DoctypeToken:
			continue
		case xhtml.TextToken:
			text := html.UnescapeString(string(z.Text()))
			if n := len(out); n > 0 && out[n-1].kind == xhtml.TextToken {
				out[n-1].name += text
				continue
			}
			out = append(out, markupToken{kind: tt, name: text})
		default:
			t := z.Token()
			if tt == xhtml.SelfClosingTagToken {
				tt = xhtml.StartTagToken // <br/> is <br>
			}
			attrs := slices.Clone(t.Attr)
			slices.SortFunc(attrs, func(a, b xhtml.Attribute) int { return strings.Compare(a.Key, b.Key) })
			out = append(out, markupToken{kind: tt, name: t.Data, attrs: attrs})
		}
	}
}

// same reports whether out, the policy's token, keeps everything t has.
func (t markupToken) same(out markupToken) bool {
	if t.kind != out.kind || t.name != out.name && (t.kind != xhtml.TextToken || strings.TrimSpace(t.name) != strings.TrimSpace(out.name)) {
		return false
	}
	added := func(a xhtml.Attribute) bool { return a.Key == "rel" && t.name == atom.A.String() }
	got := slices.DeleteFunc(slices.Clone(out.attrs), added)
	want := slices.DeleteFunc(slices.Clone(t.attrs), added)
	return slices.Equal(got, want)
}

// describe names what the policy removed at t.
func (t markupToken) describe(out []markupToken, i int) string {
	switch t.kind {
	case xhtml.TextToken:
		return fmt.Sprintf("the text %q", strings.TrimSpace(t.name))
	case xhtml.EndTagToken:
		return "</" + t.name + ">"
	}
	if i < len(out) && out[i].kind == t.kind && out[i].name == t.name {
		for _, a := range t.attrs {
			if !slices.Contains(out[i].attrs, a) {
				return fmt.Sprintf("the attribute %s=%q of <%s>", a.Key, a.Val, t.name)
			}
		}
	}
	var b strings.Builder
	b.WriteString("<" + t.name)
	for _, a := range t.attrs {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Val)
	}
	return b.String() + ">"
}
