package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"github.com/kpolicy/aggregator/internal/feed"
)

// A query is one search, with where it came from: "corpus" (the 200 of
// internal/search's TestCorpusSearch, the same seed and the same picks),
// "pair" (two words in a row of one title) or "hand" (what readers of a
// North Korea policy site ask).
type query struct {
	text string
	kind string
}

// hand is the hand list: real policy queries, Korean and English.
var hand = []string{
	"북한", "통일", "핵", "김정은", "미사일", "한미", "대북", "선거", "경제", "정부", "대통령", "남북",
	"국회", "중국", "일본", "외교", "안보", "인권", "제재", "평양",
	"North Korea", "sanctions", "missile", "Seoul", "Pyongyang", "nuclear", "Kim Jong Un", "China",
	"election", "economy", "human rights", "Korean Peninsula", "unification", "Trump",
	"북한 핵", "남북 관계", "한미 동맹", "김정은 위원장",
}

// queries returns the fixed query set: the corpus queries, pairs from
// titles, the hand list. items are in write order, as the test reads them.
func queries(items []feed.Item, pairs int) []query {
	var out []query
	// TestCorpusSearch's probes, picked the same way with the same seed.
	rng := rand.New(rand.NewPCG(1, 2))
	var korean, other []string
	for _, it := range items {
		for _, w := range strings.Fields(it.Title) {
			rs := []rune(w)
			if slices.ContainsFunc(rs, func(r rune) bool { return !unicode.IsLetter(r) }) {
				continue
			}
			switch {
			case unicode.Is(unicode.Hangul, rs[0]) && len(rs) >= 2:
				korean = append(korean, string(rs[:2]))
			case len(rs) >= 5:
				other = append(other, w)
			}
		}
	}
	if len(korean) == 0 || len(other) == 0 {
		return nil
	}
	for i := range 200 {
		if i%3 == 0 {
			out = append(out, query{korean[rng.IntN(len(korean))], "corpus"})
		} else {
			out = append(out, query{other[rng.IntN(len(other))], "corpus"})
		}
	}
	// Two words in a row of one title, whole (a Korean pair keeps its
	// words' first two syllables, as the corpus queries do).
	var kpairs, opairs []string
	for _, it := range items {
		ws := strings.Fields(it.Title)
		for i := 0; i+1 < len(ws); i++ {
			a, b := []rune(ws[i]), []rune(ws[i+1])
			if slices.ContainsFunc(a, notLetter) || slices.ContainsFunc(b, notLetter) {
				continue
			}
			switch {
			case unicode.Is(unicode.Hangul, a[0]) && unicode.Is(unicode.Hangul, b[0]) && len(a) >= 2 && len(b) >= 2:
				kpairs = append(kpairs, string(a[:2])+" "+string(b[:2]))
			case !isHangul(a[0]) && !isHangul(b[0]) && len(a) >= 4 && len(b) >= 4:
				opairs = append(opairs, ws[i]+" "+ws[i+1])
			}
		}
	}
	rng = rand.New(rand.NewPCG(3, 4))
	for i := range pairs {
		if i%3 == 0 && len(kpairs) > 0 {
			out = append(out, query{kpairs[rng.IntN(len(kpairs))], "pair"})
		} else if len(opairs) > 0 {
			out = append(out, query{opairs[rng.IntN(len(opairs))], "pair"})
		}
	}
	for _, h := range hand {
		out = append(out, query{h, "hand"})
	}
	return out
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func isHangul(r rune) bool { return unicode.Is(unicode.Hangul, r) }

// korean reports whether a query has Hangul in it.
func korean(q string) bool { return strings.ContainsFunc(q, isHangul) }
