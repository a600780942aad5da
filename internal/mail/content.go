package mail

import (
	"html/template"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Bounds on what one item puts in a mail.
const (
	// maxTitle is the most runes of an item or channel title shown; a
	// longer one is cut and ends in "…".
	maxTitle = 300
	// maxSubject is the most runes of a subject.
	maxSubject = 150
	// maxMeta bounds a source name or byline.
	maxMeta = 200
	// maxItemHTML is the largest summary kept as HTML; a longer one is
	// shown as a text excerpt instead, so that one item cannot make the
	// mail too big to read (Gmail cuts mail over about 100 KB).
	maxItemHTML = 16 << 10
	// maxExcerpt is the most runes of an item's text.
	maxExcerpt = 1500
	// maxItems is the most items one mail lists; the rest are counted and
	// linked to the channel page.
	maxItems = 100
)

// oneLine makes s fit a single line of a header or heading: control and
// format characters (line breaks, NUL, bidi overrides, zero-width
// characters) are dropped or made spaces, runs of white space become one
// space, and it is cut to at most max runes, ending in "…" when cut.
func oneLine(s string, max int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s { // an invalid byte reads as U+FFFD
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = n > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space {
			b.WriteByte(' ')
			n, space = n+1, false
		}
		b.WriteRune(r)
		if n++; n > max {
			break // enough to know it must be cut; the rest is not read
		}
	}
	if n <= max {
		return b.String()
	}
	cut := []rune(b.String())[:max-1]
	return strings.TrimRightFunc(string(cut), unicode.IsSpace) + "…"
}

// content is an item's summary made fit for mail.
type content struct {
	HTML template.HTML // sanitised, images made links, balanced tags
	Text string        // the same as plain text, paragraphs kept
}

// itemContent sanitises fragment with policy (the pages' policy), then
// replaces every image by a link to it (mail must not load remote
// images: they tell the sender who opened the mail) and drops media
// elements. The HTML is re-serialised through the HTML5 parser, so an
// unclosed tag cannot spill into the rest of the mail. A fragment longer
// than maxItemHTML becomes a text excerpt.
func itemContent(policy *bluemonday.Policy, fragment string) content {
	fragment = strings.ToValidUTF8(strings.TrimSpace(fragment), "\uFFFD")
	if fragment == "" {
		return content{}
	}
	long := len(fragment) > maxItemHTML
	if long {
		// Only the start is read: the excerpt needs a few thousand runes.
		fragment = fragment[:maxItemHTML]
	}
	nodes, err := html.ParseFragment(strings.NewReader(policy.Sanitize(fragment)), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return content{}
	}
	var text strings.Builder
	for _, n := range nodes {
		writeText(&text, n)
	}
	c := content{Text: excerpt(text.String(), maxExcerpt)}
	if long {
		if c.Text != "" {
			c.HTML = template.HTML("<p>" + template.HTMLEscapeString(c.Text) + "</p>")
		}
		return c
	}
	// Under one parent, so that mailSafe sees the top-level nodes too.
	box := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	for _, n := range nodes {
		box.AppendChild(n)
	}
	mailSafe(box)
	var b strings.Builder
	for n := box.FirstChild; n != nil; n = n.NextSibling {
		if err := html.Render(&b, n); err != nil {
			return content{Text: c.Text}
		}
	}
	c.HTML = template.HTML(b.String()) // sanitised by policy, then rebuilt by the parser
	return c
}

// mailSafe rewrites the tree under n for mail: an image becomes a link to
// it, named by its alt text; audio, video and their sources go (the policy
// keeps none today, but the mail must not depend on that); links keep only
// their http(s) or mailto href.
func mailSafe(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode {
			switch c.DataAtom {
			case atom.Img:
				n.InsertBefore(imageLink(c), c)
				n.RemoveChild(c)
			case atom.Audio, atom.Video, atom.Source, atom.Track, atom.Picture, atom.Iframe, atom.Object, atom.Embed:
				n.RemoveChild(c)
			default:
				mailSafe(c)
			}
		}
		c = next
	}
	if n.Type == html.ElementNode && n.DataAtom == atom.A {
		var attrs []html.Attribute
		for _, a := range n.Attr {
			if a.Namespace == "" && a.Key == "href" && linkable(a.Val) {
				attrs = append(attrs, html.Attribute{Key: "href", Val: a.Val})
			}
		}
		n.Attr = attrs
	}
}

// imageLink is what stands in for img: "[image: alt]" linked to its src,
// or the text alone when src is not an http(s) URL.
func imageLink(img *html.Node) *html.Node {
	var src, alt string
	for _, a := range img.Attr {
		switch a.Key {
		case "src":
			src = a.Val
		case "alt":
			alt = oneLine(a.Val, maxMeta)
		}
	}
	label := "[image]"
	if alt != "" {
		label = "[image: " + alt + "]"
	}
	text := &html.Node{Type: html.TextNode, Data: label}
	if !linkable(src) || strings.HasPrefix(src, "mailto:") {
		return text
	}
	a := &html.Node{Type: html.ElementNode, Data: "a", DataAtom: atom.A, Attr: []html.Attribute{{Key: "href", Val: src}}}
	a.AppendChild(text)
	return a
}

// linkable reports whether u may be a link in mail: an absolute http,
// https or mailto URL.
func linkable(u string) bool {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return false
	}
	switch p.Scheme {
	case "http", "https":
		return p.Host != ""
	case "mailto":
		return p.Opaque != ""
	}
	return false
}

// writeText appends the text under n: block elements start a new
// paragraph (a blank line), <br> a new line, list items "• "; images give
// their alt text; runs of white space inside a paragraph become one space.
func writeText(b *strings.Builder, n *html.Node) {
	switch n.Type {
	case html.TextNode:
		// A line break in HTML source is a space; only <br> breaks lines.
		b.WriteString(strings.ReplaceAll(n.Data, "\n", " "))
		return
	case html.ElementNode:
		switch n.DataAtom {
		case atom.Br:
			b.WriteString("\n")
			return
		case atom.Img:
			for _, a := range n.Attr {
				if a.Key == "alt" && strings.TrimSpace(a.Val) != "" {
					b.WriteString(" [image: " + a.Val + "] ")
				}
			}
			return
		case atom.Script, atom.Style:
			return
		case atom.Li:
			b.WriteString("\n\n• ")
		default:
			if isBlock(n.DataAtom) {
				b.WriteString("\n\n")
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeText(b, c)
	}
	if n.Type == html.ElementNode && isBlock(n.DataAtom) {
		b.WriteString("\n\n")
	}
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Blockquote, atom.Ul, atom.Ol, atom.Li, atom.Dl, atom.Dt, atom.Dd,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Table, atom.Tr,
		atom.Figure, atom.Figcaption, atom.Hr, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Aside:
		return true
	}
	return false
}

// excerpt tidies text from writeText into paragraphs (each one line,
// separated by a blank line, at most one blank line in a row), drops
// control and format characters, and cuts it to at most max runes at a
// word boundary when it can, ending in "…".
func excerpt(text string, max int) string {
	var paras []string
	for _, p := range strings.Split(text, "\n\n") {
		lines := strings.Split(p, "\n")
		for i, l := range lines {
			lines[i] = oneLine(l, max+1)
		}
		p = strings.TrimSpace(strings.Join(lines, "\n"))
		if p != "" && strings.Trim(p, "\n• ") != "" {
			paras = append(paras, p)
		}
	}
	s := strings.Join(paras, "\n\n")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max]
	cut := string(r)
	if i := strings.LastIndexAny(cut, " \n"); i > len(cut)/2 {
		cut = cut[:i]
	}
	return strings.TrimSpace(cut) + "…"
}
