package story

import (
	"time"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
)

// Unrecord is what the indexes hold about a story that is being deleted
// (pruned), to be removed in the same transaction. The aliases of its
// copies stay: a re-poll of a copy then finds a story that is gone and
// stores nothing, as for the story itself behind its tombstone. Index
// entries left behind anyway (a copy's title entry) are ignored by the
// rules and replaced by later writes.
type Unrecord struct {
	// Links are canonical link keys (the story's and its origins'), each
	// to be removed from the link index where it names the story.
	Links []string
	// Title is the story's folded title, to be removed from the title index
	// at the story's sort time; "" for none.
	Title string
	// Copies are its origins: their entries in their sources' newest-first
	// orders, at the story's sort time, go.
	Copies []Ref
	// ID is the upstream id whose claim goes where the story holds it; ""
	// for none.
	ID string
}

// Forget returns what deleting story unrecords.
func Forget(story feed.Item) Unrecord {
	var u Unrecord
	for _, l := range append([]string{story.Link}, originLinks(story)...) {
		if l != "" {
			u.Links = append(u.Links, feed.LinkKey(l))
		}
	}
	u.Title = canon.Title(story.Title)
	for _, o := range story.Origins {
		u.Copies = append(u.Copies, Ref{o.SourceID, o.Key})
	}
	if story.ID != "" && len(story.ID) <= MaxClaimedID {
		u.ID = story.ID
	}
	return u
}

func originLinks(story feed.Item) []string {
	out := make([]string, len(story.Origins))
	for i, o := range story.Origins {
		out[i] = o.Link
	}
	return out
}

// Retention is which of one source's entries a prune deletes, walking
// them oldest first by sort time: its own items and its copies merged into
// other sources' stories (deleting a copy's entry deletes no story).
type Retention struct {
	excess int       // entries to delete however new they are
	cutoff time.Time // entries sorted before it go; zero: none by age
}

// Retain is the retention keep asks of a source that stores stored items
// of its own, at now: the entries beyond the newest keep.Items (when > 0)
// and those sorted more than keep.Days days before now (when > 0).
func Retain(keep feed.Retention, stored int, now time.Time) Retention {
	var r Retention
	if keep.Items > 0 && stored > keep.Items {
		r.excess = stored - keep.Items
	}
	if keep.Days > 0 {
		r.cutoff = now.AddDate(0, 0, -keep.Days)
	}
	return r
}

// Deletes reports whether the entry at position i of the walk (0: the
// oldest) sorted at t is deleted. The first entry it keeps ends the walk.
func (r Retention) Deletes(i int, t time.Time) bool {
	return i < r.excess || (!r.cutoff.IsZero() && t.Before(r.cutoff))
}

// Keeps reports whether keep retains everything: a prune has nothing to do.
func Keeps(keep feed.Retention) bool { return keep.Items <= 0 && keep.Days <= 0 }
