package record

import (
	"encoding/json"
	"fmt"

	"github.com/kpolicy/aggregator/internal/store"
)

// partRecord is a subscriber part but for its channel, day and instance,
// which are its key. A day stored before parts existed has the same JSON
// with only the four counts: it decodes as a settled part.
type partRecord struct {
	Requests    int            `json:"requests,omitempty"`
	NotModified int            `json:"not_modified,omitempty"`
	Clients     int            `json:"clients,omitempty"`
	Reported    int            `json:"reported,omitempty"`
	Sketch      []byte         `json:"sketch,omitempty"`
	Fetchers    map[uint64]int `json:"fetchers,omitempty"`
}

// EncodeSubscriberPart encodes p but for its Channel, Day and Instance.
func EncodeSubscriberPart(p store.SubscriberPart) ([]byte, error) {
	return Marshal(partRecord{Requests: p.Requests, NotModified: p.NotModified, Clients: p.Clients, Reported: p.Reported,
		Sketch: p.Sketch, Fetchers: p.Fetchers})
}

// DecodeSubscriberPart decodes what EncodeSubscriberPart wrote for
// channel, day and instance. It keeps nothing of b.
func DecodeSubscriberPart(channel, day, instance string, b []byte) (store.SubscriberPart, error) {
	var r partRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.SubscriberPart{}, fmt.Errorf("subscriber part %s %s %s: %w", channel, day, instance, err)
	}
	return store.SubscriberPart{Channel: channel, Day: day, Instance: instance,
		Requests: r.Requests, NotModified: r.NotModified, Clients: r.Clients, Reported: r.Reported,
		Sketch: r.Sketch, Fetchers: r.Fetchers}, nil
}
