package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// fold makes text and queries comparable the way a reader compares them:
// NFKC (full-width letters, compatibility jamo and ligatures become their
// plain forms; decomposed Hangul is composed) and Unicode case folding.
// It is more than internal/search does (lower case and bleve's CJK width
// filter, no NFC): where the two differ, the ground truth is the reader's.
func fold(s string) string {
	return cases.Fold().String(norm.NFKC.String(s))
}

// queryWords splits a folded query into its distinct words, as
// internal/search's queryWords does: runs of letters and digits.
func queryWords(q string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(fold(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// matches reports whether the folded text contains every word: as a
// substring anywhere ("북한" in "남북한의", "art" in "start") or, with
// wordStart, only where a word begins ("북한" in "북한의", "korea" in
// "korean", not "art" in "start"). A query without words matches nothing.
func matches(text string, words []string, wordStart bool) bool {
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if !contains(text, w, wordStart) {
			return false
		}
	}
	return true
}

func contains(text, w string, wordStart bool) bool {
	for off := 0; ; {
		i := strings.Index(text[off:], w)
		if i < 0 {
			return false
		}
		i += off
		if prev, _ := utf8.DecodeLastRuneInString(text[:i]); !wordStart || i == 0 || !isWord(prev) {
			return true
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		off = i + n
	}
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// score is one method's answers to a set of queries, against the truth.
type score struct {
	queries            int
	truth, got, hits   int     // summed over the queries: relevant, returned, relevant returned
	recallSum, precSum float64 // per-query recall and precision, summed for the macro averages
	recallN, precN     int     // queries with a recall (some truth) and a precision (some answer)
	exact              int     // queries answered exactly the truth
}

// add scores one query: truth the relevant refs, got the returned ones.
func (s *score) add(truth map[string]bool, got []string) {
	s.queries++
	hits := 0
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r] {
			continue
		}
		seen[r] = true
		if truth[r] {
			hits++
		}
	}
	s.truth += len(truth)
	s.got += len(seen)
	s.hits += hits
	if len(truth) > 0 {
		s.recallN++
		s.recallSum += float64(hits) / float64(len(truth))
	}
	if len(seen) > 0 {
		s.precN++
		s.precSum += float64(hits) / float64(len(seen))
	}
	if hits == len(truth) && len(seen) == len(truth) {
		s.exact++
	}
}

// Micro averages weigh every relevant item (recall) or returned item
// (precision) alike; macro averages weigh every query alike. A method
// that returns nothing has no precision: NaN, printed as "-".
func (s score) microRecall() float64    { return ratio(s.hits, s.truth) }
func (s score) microPrecision() float64 { return ratio(s.hits, s.got) }
func (s score) macroRecall() float64    { return fratio(s.recallSum, s.recallN) }
func (s score) macroPrecision() float64 { return fratio(s.precSum, s.precN) }

func ratio(a, b int) float64 { return fratio(float64(a), b) }

func fratio(a float64, b int) float64 {
	if b == 0 {
		return nan
	}
	return a / float64(b)
}

// midWords prints, for each one-word Korean query of the hand list, how
// many items have it only inside words, and the words it is most often
// inside: what the substring truth counts and the word-start truth does
// not ("평양" inside "태평양", the Pacific; "미사일" inside "탄도미사일").
func midWords(docs []document, qs []query) {
	fmt.Println("\nKorean hand queries inside words (items where every occurrence is inside a word; the commonest such words):")
	for _, q := range qs {
		if q.kind != "hand" || !korean(q.text) || len(queryWords(q.text)) != 1 {
			continue
		}
		w := queryWords(q.text)[0]
		inside := map[string]int{}
		items := 0
		for _, d := range docs {
			if !contains(d.folded, w, false) || contains(d.folded, w, true) {
				continue
			}
			items++
			for _, word := range strings.FieldsFunc(d.folded, func(r rune) bool { return !isWord(r) }) {
				if i := strings.Index(word, w); i > 0 {
					inside[word]++
				}
			}
		}
		type kv struct {
			word string
			n    int
		}
		var top []kv
		for k, v := range inside {
			top = append(top, kv{k, v})
		}
		slices.SortFunc(top, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.word, b.word)) })
		var parts []string
		for _, t := range top[:min(5, len(top))] {
			parts = append(parts, fmt.Sprintf("%s ×%d", t.word, t.n))
		}
		fmt.Printf("  %s: %d items; %s\n", q.text, items, strings.Join(parts, ", "))
	}
}
