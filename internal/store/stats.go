package store

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/axiomhq/hyperloglog"

	"github.com/kpolicy/aggregator/internal/feed"
)

// SubscriberPart is one instance's share of a channel's day of subscriber
// statistics: what that instance counted of the day since it started. It
// is cumulative, so the instance's next flush replaces it
// (SaveSubscriberParts), and the day readers see is the merge of the
// day's parts (MergeSubscriberParts): requests summed, sketches unioned,
// each fetcher's largest report taken over the parts, then summed.
//
// A settled part (Instance "") holds final counts without a sketch: the
// merge of a day no instance writes any more (SettleSubscriberDays), or a
// day stored before parts existed (bbolt files and schema version 3).
type SubscriberPart struct {
	Channel  string
	Day      string // "2006-01-02", UTC
	Instance string // the counting process's id, at most MaxInstance bytes; "" for a settled part
	// Requests and NotModified are the requests for the channel's feeds
	// and how many of them were answered 304.
	Requests, NotModified int
	// Sketch is the distinct clients: a HyperLogLog sketch
	// (github.com/axiomhq/hyperloglog, MarshalBinary) of at most MaxSketch
	// bytes; nil for none.
	Sketch []byte
	// Fetchers maps each reporting fetcher (FetcherHash) to the largest
	// subscriber count it reported that day; at most MaxFetchers entries.
	Fetchers map[uint64]int
	// Clients and Reported are a settled part's counts (distinct clients;
	// subscribers reported, summed over fetchers); an instance's part
	// leaves them 0.
	Clients, Reported int
}

// Bounds of a subscriber part. An instance id is as long as a lease owner
// may be (an instance's owner id can serve as both). A dense sketch of
// precision 14 (16,384 one-byte registers and an 8-byte header) is the
// largest a part keeps.
const (
	MaxInstance = MaxOwner
	MaxSketch   = 16<<10 + 8
	MaxFetchers = 64
)

// FetcherHash is the stable hash of a fetcher (its User-Agent with the
// count taken out) that SubscriberPart.Fetchers is keyed by: the first 8
// bytes of its SHA-256, the same in every process, so that two instances'
// reports of one fetcher are one fetcher when merged.
func FetcherHash(fetcher string) uint64 {
	h := sha256.Sum256([]byte(fetcher))
	return binary.BigEndian.Uint64(h[:8])
}

// CheckSubscriberPart is the feed.EINVALID error a backend returns for a
// part it must not store: an empty channel or day, a day over 64 bytes, a
// channel over maxChannel bytes (the backend's key limit), an instance
// over MaxInstance bytes, a NUL in the day or instance, a sketch over MaxSketch bytes, more than
// MaxFetchers fetchers, or a negative count. A sketch's bytes are not
// read: a damaged one is found, and skipped, when it is merged.
func CheckSubscriberPart(p SubscriberPart, maxChannel int) error {
	switch {
	case p.Channel == "" || len(p.Channel) > maxChannel || p.Day == "" || len(p.Day) > 64:
		return feed.Errorf(feed.EINVALID, "channel and day must be set (got %q, %q)", p.Channel, p.Day)
	case strings.ContainsRune(p.Day+p.Instance, 0):
		return feed.Errorf(feed.EINVALID, "day and instance must hold no NUL")
	case len(p.Instance) > MaxInstance:
		return feed.Errorf(feed.EINVALID, "instance id of %d bytes (at most %d)", len(p.Instance), MaxInstance)
	case len(p.Sketch) > MaxSketch:
		return feed.Errorf(feed.EINVALID, "sketch of %d bytes (at most %d)", len(p.Sketch), MaxSketch)
	case len(p.Fetchers) > MaxFetchers:
		return feed.Errorf(feed.EINVALID, "%d fetchers (at most %d)", len(p.Fetchers), MaxFetchers)
	case p.Requests < 0 || p.NotModified < 0 || p.Clients < 0 || p.Reported < 0:
		return feed.Errorf(feed.EINVALID, "negative count")
	}
	for _, n := range p.Fetchers {
		if n < 0 {
			return feed.Errorf(feed.EINVALID, "negative count")
		}
	}
	return nil
}

// CheckSettledPart is CheckSubscriberPart for SettleSubscriberDays, where
// the instance must be "" too.
func CheckSettledPart(p SubscriberPart, maxChannel int) error {
	if p.Instance != "" {
		return feed.Errorf(feed.EINVALID, "a settled part has no instance (got %q)", p.Instance)
	}
	return CheckSubscriberPart(p, maxChannel)
}

// MergeSubscriberParts is the one rule that makes days of parts: for each
// channel and day, the parts' requests and 304s summed; distinct clients
// the estimate of the union of their sketches (a client that reached two
// instances counts once) plus the settled parts' clients; reported
// subscribers each fetcher's largest report over the parts, summed over
// fetchers, plus the settled parts' reports. The days are ordered by
// channel, then day.
//
// A sketch that does not decode (damaged bytes, over MaxSketch) is left
// out of its day, whose other counts stand; the error names every such
// part, and the days are returned with it.
func MergeSubscriberParts(parts []SubscriberPart) ([]feed.SubscriberDay, error) {
	type acc struct {
		day      feed.SubscriberDay
		sketch   *hyperloglog.Sketch
		fetchers map[uint64]int
	}
	type key struct{ channel, day string }
	byDay := map[key]*acc{}
	var errs []error
	for _, p := range parts {
		k := key{p.Channel, p.Day}
		a := byDay[k]
		if a == nil {
			a = &acc{day: feed.SubscriberDay{Channel: p.Channel, Day: p.Day}, fetchers: map[uint64]int{}}
			byDay[k] = a
		}
		a.day.Requests += p.Requests
		a.day.NotModified += p.NotModified
		a.day.Clients += p.Clients
		a.day.Reported += p.Reported
		for f, n := range p.Fetchers {
			a.fetchers[f] = max(a.fetchers[f], n)
		}
		if len(p.Sketch) == 0 {
			continue
		}
		sk, err := union(a.sketch, p.Sketch)
		if err == nil {
			a.sketch = sk
		} else {
			errs = append(errs, fmt.Errorf("subscriber part %s %s %s: %w", p.Channel, p.Day, p.Instance, err))
		}
	}
	out := make([]feed.SubscriberDay, 0, len(byDay))
	for _, a := range byDay {
		if a.sketch != nil {
			a.day.Clients += int(a.sketch.Estimate())
		}
		for _, n := range a.fetchers {
			a.day.Reported += n
		}
		out = append(out, a.day)
	}
	slices.SortFunc(out, func(a, b feed.SubscriberDay) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.Day, b.Day))
	})
	return out, errors.Join(errs...)
}

// union returns into (nil: a new sketch) merged with the marshalled
// sketch b, or an error that leaves into as it was. b comes from the
// store: one over MaxSketch bytes is refused before it is read, and a
// panic of the decoder (none is known: it checks every length; the fuzz
// test looks for one) is an error too. into is copied before the merge,
// so that a merge failing half-way cannot spoil it.
func union(into *hyperloglog.Sketch, b []byte) (out *hyperloglog.Sketch, err error) {
	if len(b) > MaxSketch {
		return nil, fmt.Errorf("sketch of %d bytes (at most %d)", len(b), MaxSketch)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("sketch: %v", r)
		}
	}()
	sk := hyperloglog.New14()
	if err := sk.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	if into == nil {
		return sk, nil
	}
	out = into.Clone()
	if err := out.Merge(sk); err != nil {
		return nil, err
	}
	return out, nil
}

// SettledPart is the settled part (Instance "", counts only) that stands
// for the merged day d.
func SettledPart(d feed.SubscriberDay) SubscriberPart {
	return SubscriberPart{Channel: d.Channel, Day: d.Day, Requests: d.Requests, NotModified: d.NotModified,
		Clients: d.Clients, Reported: d.Reported}
}
