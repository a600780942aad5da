package parse

import (
	"bytes"
	"html"
	"net/url"
	"strings"
)

// fixXMLBase rewrites every xml:base attribute whose path does not end in a
// slash to the directory it stands for ("http://h/blog/post.html" becomes
// "http://h/blog/"). gofeed resolves a relative reference against such a base
// by first appending a slash (gofeed #358), giving "http://h/blog/post.html/x"
// instead of RFC 3986's "http://h/blog/x"; with the last segment already
// dropped both readings agree. Only references that are empty or pure
// query/fragment resolve differently against the directory, and feeds do not
// use those for links.
//
// The scan knows enough XML to leave comments, CDATA, processing
// instructions and text alone. It returns b itself when nothing changes.
func fixXMLBase(b []byte) []byte {
	if !bytes.Contains(b, []byte("xml:base")) {
		return b
	}
	var out []byte // nil until the first change
	last := 0      // b[last:] is not yet copied to out
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skipPast(b, i+4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			i = skipPast(b, i+9, "]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skipPast(b, i+2, "?>")
		case bytes.HasPrefix(rest, []byte("<!")), bytes.HasPrefix(rest, []byte("</")):
			i = skipPast(b, i+2, ">")
		default:
			// A start tag: walk its attributes up to the closing '>'.
			j := i + 1
			for j < len(b) && b[j] != '>' {
				c := b[j]
				if c == '"' || c == '\'' {
					j = skipPast(b, j+1, string(c))
					continue
				}
				if c == 'x' && bytes.HasPrefix(b[j:], []byte("xml:base")) && j > 0 && isXMLSpace(b[j-1]) {
					vs, ve, ok := attrValue(b, j+len("xml:base"))
					if ok {
						if fixed, changed := dirBase(string(b[vs:ve])); changed {
							out = append(out, b[last:vs]...)
							out = append(out, fixed...)
							last = ve
						}
						j = ve + 1
						continue
					}
				}
				j++
			}
			i = j + 1
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// skipPast returns the index just after the first end at or after from, or
// len(b) when there is none.
func skipPast(b []byte, from int, end string) int {
	if from >= len(b) {
		return len(b)
	}
	k := bytes.Index(b[from:], []byte(end))
	if k < 0 {
		return len(b)
	}
	return from + k + len(end)
}

// attrValue finds `\s*=\s*"value"` at b[i:] and returns the bounds of value.
func attrValue(b []byte, i int) (start, end int, ok bool) {
	for i < len(b) && isXMLSpace(b[i]) {
		i++
	}
	if i >= len(b) || b[i] != '=' {
		return 0, 0, false
	}
	i++
	for i < len(b) && isXMLSpace(b[i]) {
		i++
	}
	if i >= len(b) || (b[i] != '"' && b[i] != '\'') {
		return 0, 0, false
	}
	q := b[i]
	k := bytes.IndexByte(b[i+1:], q)
	if k < 0 {
		return 0, 0, false
	}
	return i + 1, i + 1 + k, true
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// dirBase returns the escaped attribute value for the directory of the base
// in the escaped attribute value v, and whether it differs from v.
func dirBase(v string) (string, bool) {
	raw := strings.TrimSpace(html.UnescapeString(v))
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Path == "" || strings.HasSuffix(u.Path, "/") {
		return v, false
	}
	u.Path = u.Path[:strings.LastIndexByte(u.Path, '/')+1]
	u.RawPath = ""
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	// A bare relative segment ("sub") leaves "": an empty xml:base counts as
	// absent, and the parent base then resolves references the same way.
	return escapeAttr(u.String()), true
}

// attrEscaper is built once: a Replacer builds its tables on first use, and
// building one per call cost more than the replacing.
var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;", "'", "&apos;")

func escapeAttr(s string) string { return attrEscaper.Replace(s) }
