package search

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func boundsIndex(t *testing.T) *Index {
	t.Helper()
	db := openStore(t)
	save(t, db, "s",
		item("s", "a", "The talks", "<p>The talks on the peninsula.</p>", day0),
		item("s", "b", "The summit", "<p>A summit in the year.</p>", day0.Add(24*time.Hour)),
	)
	ix := openIndex(t, filepath.Join(t.TempDir(), "idx"))
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestQueryBounds: the audit's "the " × 15,000 (60 KB) took 13.5 s of CPU
// on 2,000 items, six at once 97 s each; over the bounds a query is now
// refused before the index sees it, and repeated words are searched once.
func TestQueryBounds(t *testing.T) {
	ix := boundsIndex(t)
	words := func(n int) string {
		var w []string
		for i := range n {
			w = append(w, fmt.Sprintf("w%d", i))
		}
		return strings.Join(w, " ")
	}
	for name, tc := range map[string]struct {
		text string
		err  error
		want []string
	}{
		"the audit's query":           {strings.Repeat("the ", 15000), ErrQueryTooLong, nil},
		"one byte over":               {strings.Repeat("x", MaxQueryBytes+1), ErrQueryTooLong, nil},
		"one word over":               {words(MaxQueryWords + 1), ErrQueryTooLong, nil},
		"as many words as allowed":    {words(MaxQueryWords), nil, nil},
		"a word repeated counts once": {strings.Repeat("the ", 100) + "talks", nil, []string{"a"}},
		"repeats in another case":     {"THE the The summit", nil, []string{"b"}},
		"Hangul bigrams at the cap":   {strings.Repeat("뉴", MaxQueryBytes/3), nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := ix.Search(context.Background(), Query{Text: tc.text})
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				if feed.ErrorCode(err) != feed.EINVALID {
					t.Errorf("code %q, want invalid", feed.ErrorCode(err))
				}
				return
			}
			var got []string
			for _, h := range res.Hits {
				_, key, _ := feed.ParseItemRef(h.Ref)
				got = append(got, key)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("hits %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSearchSlots: searches past concurrentSearches wait for a slot, at
// most maxQueueTime, then get ErrBusy; a freed slot lets the next one run.
func TestSearchSlots(t *testing.T) {
	ix := boundsIndex(t)
	defer func(d time.Duration) { maxQueueTime = d }(maxQueueTime)
	maxQueueTime = 50 * time.Millisecond
	for range cap(ix.slots) {
		ix.slots <- struct{}{} // every slot held by a search in flight
	}
	if _, err := ix.Search(context.Background(), Query{Text: "talks"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("all slots taken: err = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ix.Search(ctx, Query{Text: "talks"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: err = %v", err)
	}
	<-ix.slots
	if res, err := ix.Search(context.Background(), Query{Text: "talks"}); err != nil || res.Total != 1 {
		t.Errorf("a slot free: %+v, %v", res, err)
	}
	if got, want := len(ix.slots), cap(ix.slots)-1; got != want {
		t.Errorf("slots held after the search: %d, want %d (released)", got, want)
	}
}

// TestSearchDatesOutsideTheIndex: bleve cannot compare dates outside
// 1677-12-01..2262-04-11; such a bound is open (or the range empty), never
// an error.
func TestSearchDatesOutsideTheIndex(t *testing.T) {
	ix := boundsIndex(t)
	y := func(year int) time.Time { return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC) }
	for name, tc := range map[string]struct {
		from, to time.Time
		want     int
	}{
		"from year 1":             {y(1), time.Time{}, 2},
		"from 1000 to 9999":       {y(1000), y(9999), 2},
		"to 9999":                 {time.Time{}, y(9999), 2},
		"from 1000 to 1500":       {y(1000), y(1500), 0},
		"from 3000":               {y(3000), time.Time{}, 0},
		"from 1000 to day0":       {y(1000), day0, 1},
		"from after to":           {day0.Add(48 * time.Hour), day0, 0},
		"from day0, to year 9999": {day0.Add(time.Hour), y(9999), 1},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := ix.Search(context.Background(), Query{From: tc.from, To: tc.to})
			if err != nil || int(res.Total) != tc.want {
				t.Errorf("Search(%v..%v) = %d, %v; want %d", tc.from, tc.to, res.Total, err, tc.want)
			}
		})
	}
}
