// Package canon folds text into the form that two copies of one story share,
// so that the store can tell the same story carried by several sources.
// Title is the fold of a story's title.
//
// It owns the Unicode folding that needs golang.org/x/text (width folding,
// compatibility normalisation, full case folding), which internal/feed, held
// to the standard library, cannot do. It is pure: no I/O, no state.
package canon

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// MinTitle is the fewest letters and digits a folded title must have for
// Title to return it: shorter titles ("사설", "오늘의 운세", "Photos") are
// shared by unrelated stories.
const MinTitle = 10

// Title returns the folded form of a story's title, or "" when what is
// left is shorter than MinTitle letters and digits. Two titles that differ
// only in the following fold to the same string:
//
//   - full-width and half-width forms (ＡＢＣ, ｱ, ﾡ) and other compatibility
//     characters (①, ﬁ): width folding, then NFKC, which also composes
//     decomposed Hangul jamo into syllables;
//   - letter case, by full Unicode case folding;
//   - punctuation, symbols and white space of any kind, all dropped: quotes
//     ‘’“”, the middle dots · ㆍ ∙, ellipses, brackets, dashes, spaces
//     (Korean outlets space compounds differently: 대선 후보, 대선후보);
//   - a leading bracketed label of up to 10 characters, such as [속보],
//     [단독], 【포토】 or <사설>, with which outlets mark the same story
//     differently.
func Title(s string) string {
	s = norm.NFKC.String(width.Fold.String(s))
	s = stripLabel(strings.TrimSpace(s))
	s = cases.Fold().String(s)
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	for _, r := range s {
		if r == 'ㆍ' || r == '\u119e' { // HANGUL (JUNGSEONG) ARAEA, written as a middle dot; NFKC maps the first to the second
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || unicode.IsMark(r) && n > 0 {
			b.WriteRune(r)
			if !unicode.IsMark(r) {
				n++
			}
		}
	}
	if n < MinTitle {
		return ""
	}
	return b.String()
}

// labelBrackets pairs the brackets a title's leading label may be in, after
// width folding and NFKC.
var labelBrackets = map[rune]rune{'[': ']', '<': '>', '【': '】', '〈': '〉', '《': '》', '〔': '〕', '「': '」'}

// stripLabel removes leading bracketed labels of up to 10 characters
// ("[속보] ", "【포토】"), as long as something follows them.
func stripLabel(s string) string {
	for {
		open, size := utf8.DecodeRuneInString(s)
		closing, ok := labelBrackets[open]
		if !ok {
			return s
		}
		end := -1
		for i, n := size, 0; i < len(s) && n < 11; n++ {
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == closing {
				end = i + w
				break
			}
			i += w
		}
		if end < 0 {
			return s
		}
		rest := strings.TrimSpace(s[end:])
		if rest == "" {
			return s
		}
		s = rest
	}
}
