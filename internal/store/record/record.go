// Package record is how the store's backends encode what they keep: items
// and source states (one JSON schema for bbolt's values and PostgreSQL's
// body columns; items compressed, see compress.go), the sort order of
// items and members, and the windows of limited sources; so a field or an
// order is defined once, and a record copied from one backend reads the
// same in the other.
package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// itemRecord is how an item is stored. SourceID and Key are not stored:
// they are where the record lives (a bucket and key, or columns). The JSON
// names are the schema of both backends; change them only with their
// schema versions.
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
	Seq           uint64            `json:"seq,omitempty"`
	Rev           uint64            `json:"rev,omitempty"`
	Origins       []originRecord    `json:"origins,omitempty"`
}

// originRecord is another source's copy of a story (feed.Origin).
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

// EncodeItem is it as stored, with its times made storable (story.Time).
// Seq and Rev are in the record when set: a backend that keeps them in
// columns zeroes them first.
func EncodeItem(it feed.Item) ([]byte, error) {
	p, err := Prepare(it)
	if err != nil {
		return nil, err
	}
	return p.record(it)
}

// Prepared is the costly part of an item's record, its JSON and the
// compression of it, made before the write transaction that stores it:
// the fields a store decides in that transaction (Seq, Rev, IDShared) are
// left out, and Record puts them in. The bench kit's cold ingest spent
// 84% of its time with a poll committing, and compression was a third of
// a poll's transaction (issue 17).
type Prepared struct {
	item feed.Item // as prepared, Seq, Rev and IDShared zero
	body []byte    // its JSON compressed (formZstd); nil when that is no smaller
}

// Prepare makes the record of it but for its Seq, Rev and IDShared.
func Prepare(it feed.Item) (Prepared, error) {
	it.Seq, it.Rev, it.IDShared = 0, 0, false
	j, err := Marshal(toRecord(it))
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{item: it, body: compressItem(j)}, nil
}

// Record is the record of it: made from p when p was prepared from it,
// but for its Seq, Rev and IDShared, and encoded afresh otherwise (the
// zero Prepared was prepared from no item: an item has a key).
func (p Prepared) Record(it feed.Item) ([]byte, error) {
	bare := it
	bare.Seq, bare.Rev, bare.IDShared = 0, 0, false
	if !reflect.DeepEqual(p.item, bare) {
		return EncodeItem(it)
	}
	return p.record(it)
}

// record is p's record with it's Seq, Rev and IDShared.
func (p Prepared) record(it feed.Item) ([]byte, error) {
	if p.body == nil { // small: the JSON form, all of it inside
		return Marshal(toRecord(it))
	}
	out := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(p.body))
	out = append(out, formZstd)
	out = binary.AppendUvarint(out, it.Seq)
	out = binary.AppendUvarint(out, it.Rev)
	var flags byte
	if it.IDShared {
		flags |= flagIDShared
	}
	return append(append(out, flags), p.body...), nil
}

func toRecord(it feed.Item) itemRecord {
	r := itemRecord{
		ID: it.ID, IDIsPermaLink: it.IDIsPermaLink, IDShared: it.IDShared,
		Link: it.Link, Title: it.Title, Summary: it.Summary, Content: it.Content,
		Language:  it.Language,
		Published: story.Time(it.Published), Updated: story.Time(it.Updated), FirstSeen: story.Time(it.FirstSeen),
		Dated: it.Dated,
		Seq:   it.Seq,
		Rev:   it.Rev,
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
	return r
}

// Marshal is json.Marshal without HTML escaping: items are mostly HTML, and
// "\u003cp\u003e" is both larger than "<p>" and slower to decode.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeItem decodes a stored item, in any form (see compressItem).
// No form keeps data, so it may be a slice that dies with its transaction.
func DecodeItem(sourceID, key string, data []byte) (feed.Item, error) {
	j, head, err := decompressItem(data)
	if err != nil {
		return feed.Item{}, err
	}
	var r itemRecord
	if err := json.Unmarshal(j, &r); err != nil {
		return feed.Item{}, err
	}
	if head != nil {
		r.Seq, r.Rev, r.IDShared = head.seq, head.rev, head.flags&flagIDShared != 0
	}
	it := feed.Item{
		SourceID: sourceID, Key: key,
		ID: r.ID, IDIsPermaLink: r.IDIsPermaLink, IDShared: r.IDShared,
		Link: r.Link, Title: r.Title, Summary: r.Summary, Content: r.Content,
		Language:  r.Language,
		Published: r.Published, Updated: r.Updated, FirstSeen: r.FirstSeen,
		Dated: r.Dated,
		Seq:   r.Seq,
		Rev:   r.Rev,
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

// stateRecord is how a source's state is stored; SourceID is the key.
type stateRecord struct {
	URL          string    `json:"url,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	BodyHash     string    `json:"body_hash,omitempty"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastPoll     time.Time `json:"last_poll,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Errors       int       `json:"errors,omitempty"`
	NextPoll     time.Time `json:"next_poll,omitzero"`
	Title        string    `json:"title,omitempty"`
	Link         string    `json:"link,omitempty"`
	Items        int       `json:"items,omitempty"`

	ConfiguredURL  string        `json:"configured_url,omitempty"`
	AdoptedURL     string        `json:"adopted_url,omitempty"`
	DiscoveredURL  string        `json:"discovered_url,omitempty"`
	RedirectTarget string        `json:"redirect_target,omitempty"`
	RedirectCount  int           `json:"redirect_count,omitempty"`
	Retired        bool          `json:"retired,omitempty"`
	TTL            time.Duration `json:"ttl,omitempty"`
	LastChange     time.Time     `json:"last_change,omitzero"`
	Warning        string        `json:"warning,omitempty"`
	Identity       string        `json:"identity,omitempty"`
	Parsing        time.Time     `json:"parsing,omitzero"`
	Hub            string        `json:"hub,omitempty"`
	Self           string        `json:"self,omitempty"`
	Push           *pushRecord   `json:"push,omitempty"`
}

// pushRecord is how a source's WebSub subscription is stored.
type pushRecord struct {
	Hub          string    `json:"hub,omitempty"`
	Topic        string    `json:"topic,omitempty"`
	Secret       string    `json:"secret,omitempty"`
	Token        string    `json:"token,omitempty"`
	State        string    `json:"state,omitempty"`
	Requested    time.Time `json:"requested,omitzero"`
	Expires      time.Time `json:"expires,omitzero"`
	Verified     time.Time `json:"verified,omitzero"`
	LastDelivery time.Time `json:"last_delivery,omitzero"`
	Error        string    `json:"error,omitempty"`
}

func encodePush(p feed.Push) *pushRecord {
	if p == (feed.Push{}) {
		return nil
	}
	return &pushRecord{Hub: p.Hub, Topic: p.Topic, Secret: p.Secret, Token: p.Token, State: string(p.State),
		Requested: story.Time(p.Requested), Expires: story.Time(p.Expires), Verified: story.Time(p.Verified), LastDelivery: story.Time(p.LastDelivery), Error: p.Error}
}

func decodePush(r *pushRecord) feed.Push {
	if r == nil {
		return feed.Push{}
	}
	return feed.Push{Hub: r.Hub, Topic: r.Topic, Secret: r.Secret, Token: r.Token, State: feed.PushState(r.State),
		Requested: r.Requested, Expires: r.Expires, Verified: r.Verified, LastDelivery: r.LastDelivery, Error: r.Error}
}

// EncodeState is s as stored. Items is in the record when set: a backend
// that counts it zeroes it first.
func EncodeState(s feed.SourceState) ([]byte, error) {
	return Marshal(stateRecord{
		URL: s.URL, ETag: s.ETag, LastModified: s.LastModified, BodyHash: s.BodyHash,
		LastStatus: s.LastStatus,
		LastPoll:   story.Time(s.LastPoll), LastSuccess: story.Time(s.LastSuccess),
		LastError: s.LastError, Errors: s.Errors,
		NextPoll: story.Time(s.NextPoll),
		Title:    s.Title, Link: s.Link, Items: s.Items,
		ConfiguredURL: s.ConfiguredURL, AdoptedURL: s.AdoptedURL, DiscoveredURL: s.DiscoveredURL,
		RedirectTarget: s.RedirectTarget, RedirectCount: s.RedirectCount,
		Retired: s.Retired, TTL: s.TTL, LastChange: story.Time(s.LastChange), Warning: s.Warning, Identity: s.Identity,
		Parsing: story.Time(s.Parsing),
		Hub:     s.Hub, Self: s.Self, Push: encodePush(s.Push),
	})
}

// DecodeState decodes a stored source state.
func DecodeState(sourceID string, data []byte) (feed.SourceState, error) {
	var r stateRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return feed.SourceState{}, err
	}
	return feed.SourceState{
		SourceID: sourceID,
		URL:      r.URL, ETag: r.ETag, LastModified: r.LastModified, BodyHash: r.BodyHash,
		LastStatus: r.LastStatus,
		LastPoll:   r.LastPoll, LastSuccess: r.LastSuccess,
		LastError: r.LastError, Errors: r.Errors,
		NextPoll: r.NextPoll,
		Title:    r.Title, Link: r.Link, Items: r.Items,
		ConfiguredURL: r.ConfiguredURL, AdoptedURL: r.AdoptedURL, DiscoveredURL: r.DiscoveredURL,
		RedirectTarget: r.RedirectTarget, RedirectCount: r.RedirectCount,
		Retired: r.Retired, TTL: r.TTL, LastChange: r.LastChange, Warning: r.Warning, Identity: r.Identity,
		Parsing: r.Parsing,
		Hub:     r.Hub, Self: r.Self, Push: decodePush(r.Push),
	}, nil
}

// SortNS is t as the backends order items and members: nanoseconds since
// 1970, clamped to an int64 (years 1678 to 2262).
func SortNS(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// SortStamp maps t to a uint64 whose byte order, big-endian, is the
// reverse of time order: newer times give smaller stamps.
func SortStamp(t time.Time) uint64 { return ^(uint64(SortNS(t)) ^ 1<<63) }

// MemberKey is a member's place in its index, as bytes that sort in the
// index's order: pins first by their rank, then newest first, each then
// by Seq.
func MemberKey(m store.Member) []byte {
	if m.Pin >= 0 {
		k := []byte{0, byte(m.Pin >> 8), byte(m.Pin)}
		return binary.BigEndian.AppendUint64(k, m.Seq)
	}
	k := binary.BigEndian.AppendUint64([]byte{1}, SortStamp(m.Sort))
	return binary.BigEndian.AppendUint64(k, m.Seq)
}

// Window is a limited source's window of members (their Seqs) as stored.
func Window(seqs []uint64) []byte {
	v := make([]byte, 0, 8*len(seqs))
	for _, s := range seqs {
		v = binary.BigEndian.AppendUint64(v, s)
	}
	return v
}

// WindowSeqs decodes a stored Window.
func WindowSeqs(v []byte) []uint64 {
	var out []uint64
	for i := 0; i+8 <= len(v); i += 8 {
		out = append(out, binary.BigEndian.Uint64(v[i:]))
	}
	return out
}
