package postgres

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
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

// sortNS is t as the indexes order it: nanoseconds since 1970, clamped to
// an int64 (years 1678 to 2262), as bolt's sort stamp.
func sortNS(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func nsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// itemRecord is how an item is stored (items.body); Seq and Rev are
// columns. The same fields and tags as bolt's, so a record reads the same
// in both.
type itemRecord struct {
	ID            string            `json:"id,omitempty"`
	IDIsPermaLink bool              `json:"id_is_permalink,omitempty"`
	IDShared      bool              `json:"id_shared,omitempty"`
	Link          string            `json:"link,omitempty"`
	Title         string            `json:"title,omitempty"`
	Summary       string            `json:"summary,omitempty"`
	Content       string            `json:"content,omitempty"`
	Authors       []personRecord    `json:"authors,omitempty"`
	Categories    []categoryRecord  `json:"categories,omitempty"`
	Enclosures    []enclosureRecord `json:"enclosures,omitempty"`
	Language      string            `json:"language,omitempty"`
	Published     time.Time         `json:"published,omitzero"`
	Updated       time.Time         `json:"updated,omitzero"`
	FirstSeen     time.Time         `json:"first_seen,omitzero"`
	Dated         bool              `json:"dated,omitempty"`
	Origins       []originRecord    `json:"origins,omitempty"`
}

type originRecord struct {
	Source string    `json:"source"`
	Key    string    `json:"key"`
	Link   string    `json:"link,omitempty"`
	Rule   string    `json:"rule"`
	Seen   time.Time `json:"seen,omitzero"`
}

type personRecord struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URI   string `json:"uri,omitempty"`
}

type categoryRecord struct {
	Term   string `json:"term,omitempty"`
	Scheme string `json:"scheme,omitempty"`
	Label  string `json:"label,omitempty"`
}

type enclosureRecord struct {
	URL    string `json:"url,omitempty"`
	Type   string `json:"type,omitempty"`
	Length int64  `json:"length,omitempty"`
}

func encodeItem(it feed.Item) ([]byte, error) {
	r := itemRecord{
		ID: it.ID, IDIsPermaLink: it.IDIsPermaLink, IDShared: it.IDShared,
		Link: it.Link, Title: it.Title, Summary: it.Summary, Content: it.Content,
		Language:  it.Language,
		Published: story.Time(it.Published), Updated: story.Time(it.Updated), FirstSeen: story.Time(it.FirstSeen),
		Dated: it.Dated,
	}
	for _, p := range it.Authors {
		r.Authors = append(r.Authors, personRecord(p))
	}
	for _, c := range it.Categories {
		r.Categories = append(r.Categories, categoryRecord(c))
	}
	for _, e := range it.Enclosures {
		r.Enclosures = append(r.Enclosures, enclosureRecord(e))
	}
	for _, o := range it.Origins {
		r.Origins = append(r.Origins, originRecord{Source: o.SourceID, Key: o.Key, Link: o.Link, Rule: o.Rule, Seen: story.Time(o.Seen)})
	}
	return marshal(r)
}

func decodeItem(src, key string, seq, rev int64, data []byte) (feed.Item, error) {
	var r itemRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return feed.Item{}, err
	}
	it := feed.Item{
		SourceID: src, Key: key,
		ID: r.ID, IDIsPermaLink: r.IDIsPermaLink, IDShared: r.IDShared,
		Link: r.Link, Title: r.Title, Summary: r.Summary, Content: r.Content,
		Language:  r.Language,
		Published: r.Published, Updated: r.Updated, FirstSeen: r.FirstSeen,
		Dated: r.Dated,
		Seq:   uint64(seq), Rev: uint64(rev),
	}
	for _, p := range r.Authors {
		it.Authors = append(it.Authors, feed.Person(p))
	}
	for _, c := range r.Categories {
		it.Categories = append(it.Categories, feed.Category(c))
	}
	for _, e := range r.Enclosures {
		it.Enclosures = append(it.Enclosures, feed.Enclosure(e))
	}
	for _, o := range r.Origins {
		it.Origins = append(it.Origins, feed.Origin{SourceID: o.Source, Key: o.Key, Link: o.Link, Rule: o.Rule, Seen: o.Seen})
	}
	return it, nil
}

// stateRecord is how a source's state is stored (sources.state); Items is
// not stored but counted (sources.own + sources.merged).
type stateRecord struct {
	URL            string        `json:"url,omitempty"`
	ETag           string        `json:"etag,omitempty"`
	LastModified   string        `json:"last_modified,omitempty"`
	BodyHash       string        `json:"body_hash,omitempty"`
	LastStatus     int           `json:"last_status,omitempty"`
	LastPoll       time.Time     `json:"last_poll,omitzero"`
	LastSuccess    time.Time     `json:"last_success,omitzero"`
	LastError      string        `json:"last_error,omitempty"`
	Errors         int           `json:"errors,omitempty"`
	NextPoll       time.Time     `json:"next_poll,omitzero"`
	Title          string        `json:"title,omitempty"`
	Link           string        `json:"link,omitempty"`
	ConfiguredURL  string        `json:"configured_url,omitempty"`
	AdoptedURL     string        `json:"adopted_url,omitempty"`
	RedirectTarget string        `json:"redirect_target,omitempty"`
	RedirectCount  int           `json:"redirect_count,omitempty"`
	Retired        bool          `json:"retired,omitempty"`
	TTL            time.Duration `json:"ttl,omitempty"`
	LastChange     time.Time     `json:"last_change,omitzero"`
	Warning        string        `json:"warning,omitempty"`
	Identity       string        `json:"identity,omitempty"`
	Parsing        time.Time     `json:"parsing,omitzero"`
}

func encodeState(s feed.SourceState) ([]byte, error) {
	t := story.Time
	return marshal(stateRecord{
		URL: s.URL, ETag: s.ETag, LastModified: s.LastModified, BodyHash: s.BodyHash,
		LastStatus: s.LastStatus, LastPoll: t(s.LastPoll), LastSuccess: t(s.LastSuccess),
		LastError: s.LastError, Errors: s.Errors, NextPoll: t(s.NextPoll),
		Title: s.Title, Link: s.Link,
		ConfiguredURL: s.ConfiguredURL, AdoptedURL: s.AdoptedURL,
		RedirectTarget: s.RedirectTarget, RedirectCount: s.RedirectCount,
		Retired: s.Retired, TTL: s.TTL, LastChange: t(s.LastChange), Warning: s.Warning, Identity: s.Identity,
		Parsing: t(s.Parsing),
	})
}

func decodeState(sourceID string, items int64, data []byte) (feed.SourceState, error) {
	var r stateRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return feed.SourceState{}, err
	}
	return feed.SourceState{
		SourceID: sourceID,
		URL:      r.URL, ETag: r.ETag, LastModified: r.LastModified, BodyHash: r.BodyHash,
		LastStatus: r.LastStatus, LastPoll: r.LastPoll, LastSuccess: r.LastSuccess,
		LastError: r.LastError, Errors: r.Errors, NextPoll: r.NextPoll,
		Title: r.Title, Link: r.Link, Items: int(items),
		ConfiguredURL: r.ConfiguredURL, AdoptedURL: r.AdoptedURL,
		RedirectTarget: r.RedirectTarget, RedirectCount: r.RedirectCount,
		Retired: r.Retired, TTL: r.TTL, LastChange: r.LastChange, Warning: r.Warning, Identity: r.Identity,
		Parsing: r.Parsing,
	}, nil
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

// marshal is JSON without HTML escaping or a trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
