package bolt

import (
	"encoding/binary"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// Items and states are stored as internal/store/record encodes them, Seq,
// Rev and Items inside the record; SourceID and Key are the bucket and key.
func encodeItem(it feed.Item) ([]byte, error) { return record.EncodeItem(it) }

func decodeItem(sourceID, key string, data []byte) (feed.Item, error) {
	return record.DecodeItem(sourceID, key, data)
}

func encodeState(s feed.SourceState) ([]byte, error) { return record.EncodeState(s) }

func decodeState(sourceID string, data []byte) (feed.SourceState, error) {
	return record.DecodeState(sourceID, data)
}

func marshal(v any) ([]byte, error) { return record.Marshal(v) }

// jsonTime is the time as stored (story.Time: clamped to what RFC 3339
// holds, without its monotonic reading).
func jsonTime(t time.Time) time.Time { return story.Time(t) }

// storableItem returns it with its times made storable (story.Storable).
func storableItem(it feed.Item) feed.Item { return story.Storable(it) }

// indexKey is the bytime key of an item: its sort stamp, then its key.
func indexKey(it feed.Item) []byte {
	k := make([]byte, 8, 8+len(it.Key))
	binary.BigEndian.PutUint64(k, record.SortStamp(it.Sort()))
	return append(k, it.Key...)
}
