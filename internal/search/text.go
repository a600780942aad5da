package search

import (
	"html"
	"strings"
	"unicode"

	xhtml "golang.org/x/net/html"
)

// Text returns the text of an HTML fragment, tags dropped, entities
// decoded, runs of white space made one space.
func Text(fragment string) string {
	if fragment == "" {
		return ""
	}
	var b strings.Builder
	z := xhtml.NewTokenizer(strings.NewReader(fragment))
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case xhtml.TextToken:
			b.Write(z.Text())
		case xhtml.StartTagToken, xhtml.EndTagToken, xhtml.SelfClosingTagToken:
			b.WriteByte(' ') // "<p>a</p><p>b</p>" is two words
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
		low[i] = unicode.ToLower(r)
	}
	terms := terms(q)
	// marks[i] is true where rune i is inside an occurrence of a term.
	marks := make([]bool, len(rs))
	first := -1
	for _, t := range terms {
		for i := 0; i+len(t) <= len(low); i++ {
			if equalRunes(low[i:i+len(t)], t) {
				for j := i; j < i+len(t); j++ {
					marks[j] = true
				}
				if first < 0 || i < first {
					first = i
				}
			}
		}
	}
	start, end := 0, min(len(rs), width)
	if first > width/3 {
		start = first - width/3
		end = min(len(rs), start+width)
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	in := false
	for i := start; i < end; i++ {
		if marks[i] != in {
			if in = marks[i]; in {
				b.WriteString("<mark>")
			} else {
				b.WriteString("</mark>")
			}
		}
		b.WriteString(html.EscapeString(string(rs[i])))
	}
	if in {
		b.WriteString("</mark>")
	}
	if end < len(rs) {
		b.WriteString("…")
	}
	return b.String()
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
