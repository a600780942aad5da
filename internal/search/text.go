package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	xhtml "golang.org/x/net/html"
)

// Text returns the text of an HTML fragment, tags dropped, entities
// decoded, runs of white space made one space.
func Text(fragment string) string {
	if fragment == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(fragment) / 2)
	space := false // a run of white space or a tag since the last word
	z := xhtml.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return b.String()
		case xhtml.TextToken:
			// Words as strings.Fields has them: split at unicode.IsSpace,
			// other bytes (invalid UTF-8 too) kept as they are.
			t := z.Text()
			for i := 0; i < len(t); {
				r, n := rune(t[i]), 1
				if r >= utf8.RuneSelf {
					r, n = utf8.DecodeRune(t[i:])
				}
				if unicode.IsSpace(r) {
					space = true
				} else {
					if space && b.Len() > 0 {
						b.WriteByte(' ')
					}
					space = false
					b.Write(t[i : i+n])
				}
				i += n
			}
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			space = true // "<p>a</p><p>b</p>" is two words
		}
	}
}

// Snippet returns up to about width runes of text around the first place a
// word of q occurs, HTML-escaped, each occurrence of a word of q wrapped in
// <mark>. Words are matched without regard to case and inside longer words,
// as the index matches Hangul: "뉴스" marks the start of "뉴스를". A Hangul,
// Han or Kana word longer than two runes is also matched by its bigrams,
// as the index does. Without a match it is the start of text.
func Snippet(text, q string, width int) string {
	rs := []rune(text)
	low := make([]rune, len(rs))
	for i, r := range rs {
		low[i] = lower(r)
	}
	terms := terms(q)
	first := -1
	for _, t := range terms {
		if i := indexRunes(low, t); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	start, end := 0, min(len(rs), width)
	if first > width/3 {
		start = first - width/3
		end = min(len(rs), start+width)
	}
	// marks[i] is true where rune start+i is inside an occurrence of a
	// term, those that begin before start included.
	marks := make([]bool, end-start)
	for _, t := range terms {
		for i := max(0, start-len(t)+1); i < end && i+len(t) <= len(low); i++ {
			if equalRunes(low[i:i+len(t)], t) {
				for j := max(i, start); j < min(i+len(t), end); j++ {
					marks[j-start] = true
				}
			}
		}
	}
	var b strings.Builder
	b.Grow(4*(end-start) + 32)
	if start > 0 {
		b.WriteString("…")
	}
	in := false
	for i := start; i < end; i++ {
		if marks[i-start] != in {
			if in = marks[i-start]; in {
				b.WriteString("<mark>")
			} else {
				b.WriteString("</mark>")
			}
		}
		switch r := rs[i]; r { // as html.EscapeString
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&#39;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		default:
			b.WriteRune(r)
		}
	}
	if in {
		b.WriteString("</mark>")
	}
	if end < len(rs) {
		b.WriteString("…")
	}
	return b.String()
}

// lower is unicode.ToLower, without its table search for ASCII, Hangul
// syllables and the common Han ideographs, which have no case.
func lower(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	case 0xAC00 <= r && r <= 0xD7A3, 0x4E00 <= r && r <= 0x9FFF:
		return r
	}
	return unicode.ToLower(r)
}

// indexRunes is the first index of t in s, or -1.
func indexRunes(s, t []rune) int {
	for i := 0; i+len(t) <= len(s); i++ {
		if s[i] == t[0] && equalRunes(s[i:i+len(t)], t) {
			return i
		}
	}
	return -1
}

// terms splits q into lower-case words, adding the bigrams of CJK words
// longer than two runes.
func terms(q string) [][]rune {
	var out [][]rune
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		rs := []rune(strings.ToLower(w))
		if len(rs) == 0 {
			continue
		}
		out = append(out, rs)
		if len(rs) > 2 && isCJK(rs[0]) {
			for i := 0; i+2 <= len(rs); i++ {
				out = append(out, rs[i:i+2])
			}
		}
	}
	return out
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

func equalRunes(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hangulBigrams rewrites every run of two or more Hangul syllables in s as
// its overlapping bigrams, separated by spaces ("뉴스를" → "뉴스 스를"),
// leaving everything else alone. Documents and queries both go through it
// before bleve's analyzer: bleve's cjk analyzer makes bigrams only of what
// its Unicode tokenizer types as ideographic (Han and Kana, one character
// per token), while a Hangul word comes out whole, so on its own "뉴스"
// would not find "뉴스를".
func hangulBigrams(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(rs); {
		if !unicode.Is(unicode.Hangul, rs[i]) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && unicode.Is(unicode.Hangul, rs[j]) {
			j++
		}
		// Spaces around the run keep "3개월" from staying one token.
		if i > 0 {
			b.WriteByte(' ')
		}
		spaceAfter := j < len(rs)
		if j-i == 1 {
			b.WriteRune(rs[i])
		}
		for k := i; k+1 < j; k++ {
			if k > i {
				b.WriteByte(' ')
			}
			b.WriteRune(rs[k])
			b.WriteRune(rs[k+1])
		}
		if spaceAfter {
			b.WriteByte(' ')
		}
		i = j
	}
	return b.String()
}
