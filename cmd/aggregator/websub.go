package main

import (
	"context"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/websub"
)

// hubPath is where the WebSub hub takes subscription requests.
const hubPath = "/websub"

// topics tells the hub which URLs are channel documents and gives their
// current bytes: the topics are the subscription documents,
// BASE/feeds/CHANNEL.FORMAT.
type topics struct {
	cache *publish.Cache
	base  string
}

func (t topics) Document(topic string) (string, []byte, bool) {
	loc, err := publish.ParseURL(t.base, topic)
	if err != nil || loc.Page > 0 {
		return "", nil, false
	}
	doc, err := t.cache.Document(loc.Channel, loc.Format)
	if err != nil {
		return "", nil, false
	}
	return loc.Format.ContentType(), doc.Body, true
}

// topicURLs are the topics of a channel, one per format.
func topicURLs(base, channelID string) []string {
	var out []string
	for _, f := range publish.Formats {
		out = append(out, publish.Location{Channel: channelID, Format: f}.URL(base))
	}
	return out
}

// newHub wires the WebSub hub: the fetcher's guarded client (so callbacks
// on private addresses are refused at dial time too, unless
// fetch.allow_private_networks), its own Timeout per request.
func newHub(cfg config.Config, db store.Store, cache *publish.Cache, opts websub.Options) *websub.Hub {
	client := fetch.NewClient(fetch.Options{
		UserAgent:    cfg.Fetch.UserAgentString(version()),
		Timeout:      cfg.Fetch.Timeout,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
	})
	opts.URL = cfg.Server.BaseURL + hubPath
	opts.Client = client.HTTPClient()
	opts.ExternalHubs = cfg.Publish.Hubs
	opts.MaxSubscriptions = cfg.Publish.MaxSubscriptions
	opts.MaxSubscriptionsPerTopic = cfg.Publish.MaxSubscriptionsPerTopic
	if !cfg.Fetch.AllowPrivateNetworks {
		opts.CheckHost = func(ctx context.Context, host string) error { return fetch.CheckHost(ctx, host) }
	}
	return websub.New(db, topics{cache: cache, base: cfg.Server.BaseURL}, opts)
}

// subscribed returns the channels among ids whose documents someone may
// be told about: those with a WebSub subscriber to one of their topics,
// or all of them when external hubs are configured (their subscribers are
// not known here). Telling means rendering the channel's documents to
// compare them, which must not be done for a thousand channels nobody
// follows each time their shared index changes.
func subscribed(ctx context.Context, db store.Store, cfg config.Config, ids []string) ([]string, error) {
	if len(cfg.Publish.Hubs) > 0 {
		return ids, nil
	}
	var out []string
	for _, id := range ids {
		for _, topic := range topicURLs(cfg.Server.BaseURL, id) {
			subs, err := db.Subscriptions(ctx, topic)
			if err != nil {
				return out, err
			}
			if len(subs) > 0 {
				out = append(out, id)
				break
			}
		}
	}
	return out, nil
}
