package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/store/bolt"
	"github.com/kpolicy/aggregator/internal/story"
)

// TestCorpusKnewsDedupe ingests every feed of corpus/real/knews-rss, where
// the per-outlet feeds (publishers/) and the category feeds (categories/)
// carry the same stories, and shows the cross-source rules at work: it logs
// the merges by rule and sample merged pairs for a person to check, and
// asserts that a channel of all the feeds shows no canonical link twice.
func TestCorpusKnewsDedupe(t *testing.T) {
	dir := filepath.Join(apptest.CorpusDir(t), "real", "knews-rss")
	var files []string
	for _, sub := range []string{"publishers", "categories"} { // outlets first: they are the first origins
		matches, err := filepath.Glob(filepath.Join(dir, sub, "*.xml"))
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(matches)
		files = append(files, matches...)
	}
	if len(files) == 0 {
		t.Fatalf("no feeds under %s", dir)
	}
	clk := time.Date(2022, 8, 1, 12, 0, 0, 0, time.UTC) // the corpus was fetched on 2022-08-01
	db, err := bolt.Open(filepath.Join(t.TempDir(), "knews.db"), bolt.Options{
		Now:         func() time.Time { return clk },
		TitleWindow: 48 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
		db.Close()
	})

	p := parse.New()
	polls := map[string][]feed.Item{}
	var ids []string
	titles := map[[2]string]string{} // source id and key → the title that source gave
	var total feed.PollCounts
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		id := strings.TrimSuffix(strings.ReplaceAll(rel, string(filepath.Separator), "-"), ".xml")
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := p.ParseSource(body, "application/rss+xml", "https://knews.example/"+rel, feed.Source{ID: id})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, it := range parsed.Items {
			titles[[2]string{id, it.Key}] = it.Title
		}
		c, err := db.SavePoll(context.Background(), id, parsed.Items, feed.SourceState{SourceID: id, Title: parsed.Title, Warning: parsed.Warning})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		t.Logf("%-28s %4d items: %4d new, %4d merged, %3d unchanged", rel, len(parsed.Items), c.New, c.Merged, c.Unchanged)
		total.New += c.New
		total.Merged += c.Merged
		total.Unchanged += c.Unchanged
		ids = append(ids, id)
		polls[id] = parsed.Items
		clk = clk.Add(time.Minute)
	}
	// A second round of polls finds every item, merged or not, again.
	clk = clk.Add(time.Hour)
	for _, id := range ids {
		c, err := db.SavePoll(context.Background(), id, polls[id], feed.SourceState{SourceID: id})
		if err != nil {
			t.Fatal(err)
		}
		if c.New != 0 || c.Merged != 0 || c.Updated != 0 {
			t.Errorf("%s polled again: %+v, want every item unchanged", id, c)
		}
	}

	stories, err := db.ItemsAfter(context.Background(), ids, nil, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]int{}
	type pair struct{ rule, a, b string }
	samples := map[string][]pair{}
	links := map[string]string{}
	for _, s := range stories {
		ref := s.SourceID + "/" + s.Key
		if s.Link != "" {
			lk := feed.LinkKey(s.Link)
			if other, dup := links[lk]; dup {
				t.Errorf("the channel shows %s twice: %s and %s", lk, other, ref)
			}
			links[lk] = ref
		}
		for _, o := range s.Origins {
			byRule[o.Rule]++
			if len(samples[o.Rule]) < 5 {
				samples[o.Rule] = append(samples[o.Rule], pair{o.Rule,
					fmt.Sprintf("%s %q %s", s.SourceID, s.Title, s.Link),
					fmt.Sprintf("%s %q %s", o.SourceID, titles[[2]string{o.SourceID, o.Key}], o.Link)})
			}
		}
	}
	n, err := db.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("knews-rss: %d feeds, %d items delivered, %d stories stored; %d merged (by link %d, by title %d)",
		len(files), total.New+total.Merged+total.Unchanged, n, total.Merged, byRule[story.RuleLink], byRule[story.RuleTitle])
	for _, rule := range []string{story.RuleLink, story.RuleTitle} {
		for _, p := range samples[rule] {
			t.Logf("merged by %s:\n    first: %s\n    copy:  %s", p.rule, p.a, p.b)
		}
	}
	if total.Merged == 0 || byRule[story.RuleLink] == 0 {
		t.Errorf("no merges across %d overlapping feeds", len(files))
	}
	if got := byRule[story.RuleLink] + byRule[story.RuleTitle]; got != total.Merged {
		t.Errorf("origins by rule = %d, merges counted = %d", got, total.Merged)
	}
	if len(stories) != n {
		t.Errorf("the channel of every feed shows %d stories, the store has %d", len(stories), n)
	}
}
