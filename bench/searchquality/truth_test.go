package main

import (
	"math"
	"slices"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestMatches(t *testing.T) {
	decomposed := norm.NFD.String("북한의 핵") // jamo, as some feeds write Hangul
	for _, tc := range []struct {
		text, q       string
		sub, starting bool
	}{
		{"북한의 미사일 발사", "북한", true, true},           // a word start inside a longer word
		{"남북한 관계", "북한", true, false},              // inside, not at a start
		{"북한은 오늘", "북한 오늘", true, true},            // every word, any order
		{"북한은 오늘", "북한 내일", false, false},          // not every word
		{decomposed, "북한", true, true},             // NFKC composes the jamo
		{"ＮＯＲＴＨ Ｋｏｒｅａ", "north korea", true, true}, // full-width and case
		{"Straße", "STRASSE", true, true},          // case folding, not lower case
		{"a fresh start", "art", true, false},      // substring, not a word start
		{"Koreans", "korea", true, true},           // a prefix is a word start
		{"(Seoul)", "seoul", true, true},           // punctuation before is a word boundary
		{"x북한 북한", "북한", true, true},               // a later occurrence that starts a word
		{"anything", "", false, false},             // no words, no matches
		{"anything", "!!", false, false},
	} {
		words := queryWords(tc.q)
		text := fold(tc.text)
		if got := matches(text, words, false); got != tc.sub {
			t.Errorf("%q in %q: substring %v, want %v", tc.q, tc.text, got, tc.sub)
		}
		if got := matches(text, words, true); got != tc.starting {
			t.Errorf("%q in %q: word start %v, want %v", tc.q, tc.text, got, tc.starting)
		}
	}
}

func TestQueryWords(t *testing.T) {
	if got, want := queryWords("North  korea, NORTH 북한!"), []string{"north", "korea", "북한"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestScore(t *testing.T) {
	var s score
	s.add(map[string]bool{"a": true, "b": true}, []string{"a", "c", "a"}) // 1 of 2 found, 1 of 2 right (a counted once)
	s.add(map[string]bool{"d": true}, nil)                                // nothing returned: no precision
	s.add(map[string]bool{"e": true}, []string{"e"})                      // exact
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"micro recall", s.microRecall(), 2.0 / 4},
		{"micro precision", s.microPrecision(), 2.0 / 3},
		{"macro recall", s.macroRecall(), (0.5 + 0 + 1) / 3},
		{"macro precision", s.macroPrecision(), (0.5 + 1) / 2},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if s.exact != 1 {
		t.Errorf("exact = %d, want 1", s.exact)
	}
	var empty score
	if !math.IsNaN(empty.microPrecision()) {
		t.Errorf("precision of nothing = %v, want NaN", empty.microPrecision())
	}
}
