package postgres

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/record"
	"github.com/kpolicy/aggregator/internal/story"
)

// hashOf is the 16-byte row hash of parts: SHA-256 over each part
// prefixed by its length, so that ("ab", "c") and ("a", "bc") differ.
func hashOf(parts ...string) []byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	return h.Sum(nil)[:16]
}

func refHash(src, key string) []byte { return hashOf(src, key) }
func srcHash(src string) []byte      { return hashOf(src) }
func keyHash(key string) []byte      { return hashOf("key", key) }

func nsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// Items and states are stored as internal/store/record encodes them
// (items.body, sources.state), but for what is a column here: an item's Seq
// and Rev (Rev is taken at commit), a state's Items (counted:
// sources.own + sources.merged).
func encodeItem(it feed.Item) ([]byte, error) {
	it.Seq, it.Rev = 0, 0
	return record.EncodeItem(it)
}

func decodeItem(src, key string, seq, rev int64, data []byte) (feed.Item, error) {
	it, err := record.DecodeItem(src, key, data)
	it.Seq, it.Rev = uint64(seq), uint64(rev)
	return it, err
}

func encodeState(s feed.SourceState) ([]byte, error) {
	s.Items = 0
	return record.EncodeState(s)
}

func decodeState(sourceID string, items int64, data []byte) (feed.SourceState, error) {
	st, err := record.DecodeState(sourceID, data)
	st.Items = int(items)
	return st, err
}

// aliasRecord is how an alias is stored (aliases.body).
type aliasRecord struct {
	Source string    `json:"source"`
	Key    string    `json:"key"`
	Rule   string    `json:"rule"`
	Seen   time.Time `json:"seen,omitzero"`
}

func decodeAlias(v []byte) (story.Alias, error) {
	var a aliasRecord
	if err := json.Unmarshal(v, &a); err != nil {
		return story.Alias{}, err
	}
	return story.Alias{SourceID: a.Source, Key: a.Key, Rule: a.Rule, Seen: a.Seen}, nil
}

func marshal(v any) ([]byte, error) { return record.Marshal(v) }
