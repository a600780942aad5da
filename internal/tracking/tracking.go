// Package tracking removes from the HTML of items what tells a third party
// that a reader opened them, or how the reader got there: tracking pixels
// (FeedBurner's, any 1×1 or hidden image) and tracking parameters (utm_*,
// fbclid, gclid, mc_cid, mc_eid, ...: the list of [feed.IsTrackingParam]) in
// every URL of the markup.
//
// StripHTML is the one function that does it. The parser applies it to
// every item at ingest, and the outputs (published documents, HTML pages)
// apply it again at render, so that items stored before a rule existed come
// out clean too. It is pure: no I/O, no state. It only removes; making the
// HTML safe is the sanitiser's job, not this package's.
package tracking

import (
	"bytes"
	"io"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/html"

	"github.com/kpolicy/aggregator/internal/feed"
)

// urlAttrs are the attributes whose value is one URL.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "cite": true, "poster": true, "longdesc": true,
	"action": true, "formaction": true, "background": true, "data": true,
	"usemap": true, "manifest": true,
}

// srcsetAttrs are the attributes whose value is a list of image candidates.
var srcsetAttrs = map[string]bool{"srcset": true, "imagesrcset": true}

// StripHTML returns the HTML fragment s without its tracking:
//
//   - an image whose width and height are both at
//     most 1 pixel, or either of them 0, by attribute or inline CSS; one that
//     is hidden (the hidden attribute, CSS display:none or
//     visibility:hidden); and one served by FeedBurner's click and view
//     counter (feeds.feedburner.com/~r/…, feedproxy.google.com/~r/…), is
//     removed, with the end tag some feeds write after it;
//   - tracking parameters are removed from every URL attribute (href, src,
//     cite, poster, …) and from every candidate of a srcset, keeping the rest
//     of each URL as it was ([feed.StripTracking]).
//
// Everything else is copied byte for byte, and markup with nothing to
// remove is returned as it is, so that applying StripHTML to an item that
// is already clean never changes it.
func StripHTML(s string) string {
	if !mayTrack(s) {
		return s
	}
	// Nothing is copied until something changes: out stays nil, and
	// s[copied:] is what has not been copied to it yet. Tokens are located
	// in s by their raw lengths, which add up to s.
	var out []byte
	copied, pos := 0, 0
	replace := func(from, to int, with string) {
		if out == nil {
			out = make([]byte, 0, len(s))
		}
		out = append(append(out, s[copied:from]...), with...)
		copied = to
	}
	dropEnd := false // drop the img end tag, if it comes next
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				return s // a strings.Reader does not fail; keep s rather than guess
			}
			break
		}
		from := pos
		if pos += len(z.Raw()); pos > len(s) {
			return s // cannot happen (see FuzzStripHTML); keep s rather than guess
		}
		raw := s[from:pos] // as written: TagName lower-cases the tokenizer's copy
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			dropEnd = false
			if !isImg(raw) && strings.IndexByte(raw, '?') < 0 {
				continue // the common case, decided without the tokenizer's allocations
			}
			switch look(z) {
			case drop:
				replace(from, pos, "")
				dropEnd = tt == html.StartTagToken
			case rewrite:
				if tok := retokenize(raw); stripURLs(&tok) {
					replace(from, pos, tok.String())
				}
			}
		case html.EndTagToken:
			if dropEnd && isImg(raw[1:]) {
				replace(from, pos, "")
			}
			dropEnd = false
		case html.TextToken:
			if strings.TrimSpace(raw) != "" {
				dropEnd = false
			}
		default:
			dropEnd = false
		}
	}
	if out == nil {
		return s
	}
	return string(append(out, s[copied:]...))
}

// What look makes of a start tag.
const (
	keep    = iota
	drop    // a pixel
	rewrite // a URL attribute may hold tracking parameters
)

// look reads the start tag z is at, without allocating, and tells what to
// do with it.
func look(z *html.Tokenizer) int {
	name, more := z.TagName()
	img := bytes.EqualFold(localName(name), []byte("img"))
	var im image
	out := keep
	for more {
		var k, v []byte
		k, v, more = z.TagAttr()
		if (urlAttrs[string(k)] || srcsetAttrs[string(k)]) && bytes.IndexByte(v, '?') >= 0 {
			out = rewrite
		}
		if img {
			im.set(string(k), v)
		}
	}
	if img && im.isPixel() {
		return drop
	}
	return out
}

// isImg reports whether raw, a start tag as written ("<img …"; an end tag
// without its "<"), is an img's.
func isImg(raw string) bool {
	end := 1
	for end < len(raw) && !isSpace(raw[end]) && raw[end] != '/' && raw[end] != '>' {
		end++
	}
	name := raw[1:end]
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return strings.EqualFold(name, "img")
}

// retokenize reads the one tag raw holds.
func retokenize(raw string) html.Token {
	z := html.NewTokenizer(strings.NewReader(raw))
	z.Next()
	return z.Token()
}

// mayTrack is a cheap test that s has something StripHTML could remove:
// an image, or a query parameter whose name is a tracking parameter's
// (after a "?" or an "&", escaped or not, percent-encoded or not; any
// character reference counts). It may say yes for text that only looks so,
// never no for markup that has either.
func mayTrack(s string) bool {
	for i := 0; i+3 <= len(s); i++ {
		switch c := s[i]; {
		case c == 'i' || c == 'I':
			if strings.EqualFold(s[i:i+3], "img") {
				return true
			}
		case c == '?' || c == '&':
			name := s[i+1:]
			if c == '&' {
				name = strings.TrimPrefix(name, "amp;")
			}
			if c == '&' && strings.HasPrefix(name, "#") {
				return true // a character reference: what it spells is not known here
			}
			if end := strings.IndexAny(name, "=&#\"' >"); end >= 0 {
				name = name[:end]
			}
			if u, err := url.QueryUnescape(name); err == nil {
				name = u
			}
			if len(name) <= 64 && feed.IsTrackingParam(name) {
				return true
			}
		}
	}
	return false
}

// localName is a tag name without its namespace prefix ("xhtml:img" is an
// img: Atom XHTML content sometimes keeps its prefix).
func localName(tag []byte) []byte {
	if i := bytes.LastIndexByte(tag, ':'); i >= 0 {
		return tag[i+1:]
	}
	return tag
}

// image is what tells a pixel: the attributes of an img that matter.
type image struct {
	hidden                    bool
	src, width, height, style string
}

// set records attribute key (lower case, as the tokenizer gives it).
func (im *image) set(key string, v []byte) {
	switch key {
	case "hidden":
		im.hidden = true
	case "src":
		im.src = string(v)
	case "width":
		im.width = string(v)
	case "height":
		im.height = string(v)
	case "style":
		im.style = string(v)
	}
}

// isPixel reports whether the image exists only to be fetched.
func (im image) isPixel() bool {
	if im.hidden || isCounter(im.src) {
		return true
	}
	w, wok := pixels(im.width)
	h, hok := pixels(im.height)
	for decl := range strings.SplitSeq(im.style, ";") {
		prop, val, _ := strings.Cut(decl, ":")
		prop = strings.ToLower(strings.TrimSpace(prop))
		val = strings.TrimSpace(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(val)), "!important"))
		switch prop {
		case "display":
			if val == "none" {
				return true
			}
		case "visibility":
			if val == "hidden" || val == "collapse" {
				return true
			}
		case "width", "max-width":
			if n, ok := pixels(val); ok {
				w, wok = n, true
			}
		case "height", "max-height":
			if n, ok := pixels(val); ok {
				h, hok = n, true
			}
		}
	}
	return wok && hok && w <= 1 && h <= 1 || wok && w == 0 || hok && h == 0
}

// pixels reads a length in CSS pixels: "1", "1px", " 0 ", "1.0px". Other
// units and percentages are not pixels.
func pixels(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "px")
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// isCounter reports whether src is FeedBurner's per-item view counter.
func isCounter(src string) bool {
	if !strings.Contains(src, "/~r/") {
		return false
	}
	u, err := url.Parse(strings.TrimSpace(src))
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "feeds.feedburner.com", "feedproxy.google.com", "feeds2.feedburner.com":
		return strings.HasPrefix(u.Path, "/~r/")
	}
	return false
}

// stripURLs removes tracking parameters from the URL attributes of tok and
// reports whether it changed any.
func stripURLs(tok *html.Token) bool {
	changed := false
	for i, a := range tok.Attr {
		key := strings.ToLower(a.Key)
		var v string
		switch {
		case urlAttrs[key]:
			v = feed.StripTracking(strings.TrimSpace(a.Val))
			if v == strings.TrimSpace(a.Val) {
				continue
			}
		case srcsetAttrs[key]:
			v = stripSrcset(a.Val)
			if v == a.Val {
				continue
			}
		default:
			continue
		}
		tok.Attr[i].Val = v
		changed = true
	}
	return changed
}

// stripSrcset removes tracking parameters from the URL of every image
// candidate of a srcset ("a.jpg?utm_source=x 1x, b.jpg 2x"), leaving
// descriptors, commas and spacing as they were. Candidates are split as the
// HTML standard splits them: a URL is a run of non-space characters, a comma
// that ends it ends the candidate, and otherwise the descriptors run to the
// next comma outside parentheses.
func stripSrcset(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		j := i
		for j < len(v) && (isSpace(v[j]) || v[j] == ',') {
			j++
		}
		b.WriteString(v[i:j])
		k := j
		for k < len(v) && !isSpace(v[k]) {
			k++
		}
		u := strings.TrimRight(v[j:k], ",")
		b.WriteString(feed.StripTracking(u))
		m := j + len(u)
		if m < k {
			i = m // the URL's own trailing comma ends the candidate
			continue
		}
		for depth := 0; m < len(v); m++ {
			if c := v[m]; c == '(' {
				depth++
			} else if c == ')' && depth > 0 {
				depth--
			} else if c == ',' && depth == 0 {
				break
			}
		}
		b.WriteString(v[k:m])
		i = m
	}
	return b.String()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
