package store

import (
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// Limits every backend accepts, and refuses beyond with feed.EINVALID.
const (
	// MaxSourceID is the longest source id.
	MaxSourceID = 32 << 10
	// MaxKey is the longest item key.
	MaxKey = 32<<10 - 8
)

const (
	// PruneBatch is the most items one transaction of Prune deletes, so a
	// prune never holds writers up for long.
	PruneBatch = 500
	// MaxTombstones is how many tombstones a source keeps; past that the
	// ones pruned longest ago go (their items are long out of any feed).
	MaxTombstones = 10000
)

// PruneResult is what one Prune removed.
type PruneResult struct {
	Items      int // items deleted (each leaves a tombstone)
	Tombstones int // old tombstones dropped over MaxTombstones
	Batches    int // write transactions used
}

// Found is a stored story that a query named, and how.
type Found struct {
	// Story is the story, attributed to its first origin, with Origins.
	Story feed.Item
	// SourceID and Key name the copy the query matched: the story's own
	// item, or another source's copy of it.
	SourceID, Key string
	// Match is how the query matched: "key" (SOURCE/KEY), "id" (an upstream
	// GUID/id) or "link" (a link, compared by its canonical form).
	Match string
	// Alias is how the matched copy's key is recorded when it is not the
	// story's own key: merged by link or title, or the same source's item
	// under a new key; nil otherwise.
	Alias *story.Alias
}

// CheckSourceID checks the id a write is for, and that a state passed
// along with it, when it names a source, names the same one: a
// feed.EINVALID error otherwise.
func CheckSourceID(sourceID, stateID string) error {
	if sourceID == "" || len(sourceID) > MaxSourceID {
		return feed.Errorf(feed.EINVALID, "source id must be 1 to %d bytes (got %d)", MaxSourceID, len(sourceID))
	}
	if stateID != "" && stateID != sourceID {
		return feed.Errorf(feed.EINVALID, "state of source %q saved as %q", stateID, sourceID)
	}
	return nil
}

// CheckPoll returns the feed.EINVALID error SavePoll gives for a poll that
// breaks the contract: an empty or over-long source id, a state of another
// source, an item of another source, an empty or over-long item key.
func CheckPoll(sourceID string, items []feed.Item, state feed.SourceState) error {
	if err := CheckSourceID(sourceID, state.SourceID); err != nil {
		return err
	}
	for _, it := range items {
		if it.SourceID != "" && it.SourceID != sourceID {
			return feed.Errorf(feed.EINVALID, "item %q belongs to source %q", it.Key, it.SourceID)
		}
		if it.Key == "" || len(it.Key) > MaxKey {
			return feed.Errorf(feed.EINVALID, "item key must be 1 to %d bytes (got %d)", MaxKey, len(it.Key))
		}
	}
	return nil
}
