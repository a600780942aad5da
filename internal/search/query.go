package search

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	bquery "github.com/blevesearch/bleve/v2/search/query"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Bounds of one query's text: longer or wordier queries are refused with
// ErrQueryTooLong before the index sees them. A word is a run of letters
// and digits; repeats count once (and are searched once).
const (
	MaxQueryBytes = 512
	MaxQueryWords = 32
)

// ErrQueryTooLong is returned by Search for a query over MaxQueryBytes or
// MaxQueryWords distinct words; it is a feed.EINVALID error.
var ErrQueryTooLong = &feed.Error{Code: feed.EINVALID,
	Message: fmt.Sprintf("the search is too long: at most %d characters and %d different words", MaxQueryBytes, MaxQueryWords)}

// ErrBusy is returned by Search when no search slot came free within
// maxQueueTime, or the search ran past maxQueryTime: the caller should ask
// again later.
var ErrBusy = errors.New("search is busy")

// maxQueueTime bounds the wait for a search slot, maxQueryTime the work
// of one search; concurrentSearches is the number of searches run at once
// (the others wait), so that searches cannot take every core from the
// feeds.
var (
	maxQueueTime       = 5 * time.Second
	maxQueryTime       = 10 * time.Second
	concurrentSearches = max(1, runtime.GOMAXPROCS(0)-1)
)

// queryWords returns the distinct words of text, lower-cased, in order of
// first appearance, or ErrQueryTooLong.
func queryWords(text string) ([]string, error) {
	if len(text) > MaxQueryBytes {
		return nil, ErrQueryTooLong
	}
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if seen[w] {
			continue
		}
		if len(out) == MaxQueryWords {
			return nil, ErrQueryTooLong
		}
		seen[w] = true
		out = append(out, w)
	}
	return out, nil
}

// analysed is what the index is asked for the words: Hangul cut into
// bigrams as documents are (hangulBigrams), each term once.
func analysed(words []string) string {
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.Fields(hangulBigrams(strings.Join(words, " "))) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// minPrefix is the shortest Latin word also searched as the start of
// longer words ("sanction" finds "sanctions", "build" "building"):
// shorter ones ("the", "un") would expand to too many terms.
const minPrefix = 4

// textQuery asks the text field for every word (all must match). A word
// of two or more Hangul syllables is its bigrams, all of them; a single
// syllable is itself or the start of a bigram ("핵" finds "핵무기" and
// "핵실험", which the index holds as "핵무 무기" and "핵실 실험"); a
// letter word of minPrefix or more is itself or the start of a longer
// word, the word itself scoring higher.
func textQuery(words []string) bquery.Query {
	var all []bquery.Query
	for _, w := range words {
		rs := []rune(w)
		switch {
		case len(rs) == 1 && unicode.Is(unicode.Hangul, rs[0]):
			all = append(all, wordOrStart(w))
		case len(rs) >= minPrefix && isLetters(rs) && !slices.ContainsFunc(rs, isCJK):
			all = append(all, wordOrStart(w))
		default:
			m := bquery.NewMatchQuery(analysed([]string{w}))
			m.SetField("text")
			m.SetOperator(bquery.MatchQueryOperatorAnd)
			all = append(all, m)
		}
	}
	return bquery.NewConjunctionQuery(all)
}

// wordOrStart matches word in the text field, or any term starting with
// it, the word itself scoring twice as high.
func wordOrStart(word string) bquery.Query {
	m := bquery.NewMatchQuery(word)
	m.SetField("text")
	m.SetBoost(2)
	p := bquery.NewPrefixQuery(word)
	p.SetField("text")
	return bquery.NewDisjunctionQuery([]bquery.Query{m, p})
}

func isLetters(rs []rune) bool {
	return !slices.ContainsFunc(rs, func(r rune) bool { return !unicode.IsLetter(r) })
}

// Dates the index can hold and compare (bleve keeps a date as nanoseconds
// since 1970 in an int64, and its date queries stay within these).
var (
	minDate = bquery.MinRFC3339CompatibleTime
	maxDate = bquery.MaxRFC3339CompatibleTime
)

// clampDates brings a query's From and To within what the index can
// compare: a bound beyond either end is no bound at all, since no item
// can be dated past it. It reports false when the range is empty (From
// after To, or entirely outside the index's dates).
func clampDates(from, to time.Time) (time.Time, time.Time, bool) {
	if !from.IsZero() && from.After(maxDate) || !to.IsZero() && to.Before(minDate) {
		return from, to, false
	}
	if from.Before(minDate) {
		from = time.Time{}
	}
	if to.After(maxDate) {
		to = time.Time{}
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return from, to, false
	}
	return from, to, true
}

// acquire takes a search slot, waiting at most maxQueueTime; release gives
// it back.
func (ix *Index) acquire(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(maxQueueTime)
	defer t.Stop()
	select {
	case ix.slots <- struct{}{}:
		return func() { <-ix.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, ErrBusy
	}
}
