package app

import (
	"context"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/push"
	"github.com/kpolicy/aggregator/internal/websub"
)

// HubPath is where the WebSub hub takes subscription requests.
const HubPath = "/websub"

// hubURLs are the hubs every subscription document names: ours, then the
// external ones.
func hubURLs(cfg config.Config) []string {
	return append([]string{cfg.Server.BaseURL + HubPath}, cfg.Publish.Hubs...)
}

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
// fetch.allow_private_networks), its own Timeout per request. The hub's
// workers run until Close.
func (a *App) newHub(cfg config.Config) *websub.Hub {
	client := fetch.NewClient(fetch.Options{
		UserAgent:    cfg.Fetch.UserAgentString(Version()),
		Timeout:      cfg.Fetch.Timeout,
		AllowPrivate: cfg.Fetch.AllowPrivateNetworks,
		Transport:    a.d.Transport,
	})
	o := websub.Options{
		Logger:                   a.log,
		Now:                      a.now,
		URL:                      cfg.Server.BaseURL + HubPath,
		Client:                   client.HTTPClient(),
		ExternalHubs:             cfg.Publish.Hubs,
		MaxSubscriptions:         cfg.Publish.MaxSubscriptions,
		MaxSubscriptionsPerTopic: cfg.Publish.MaxSubscriptionsPerTopic,
	}
	if !cfg.Fetch.AllowPrivateNetworks {
		o.CheckHost = func(ctx context.Context, host string) error { return fetch.CheckHost(ctx, host) }
	}
	return websub.New(a.st, topics{cache: a.cache, base: cfg.Server.BaseURL}, o)
}

// subscribed returns the channels among ids whose documents someone may
// be told about: those with a WebSub subscriber to one of their topics,
// or all of them when external hubs are configured (their subscribers are
// not known here: the hubs of the config Run started with, as those the
// documents name and the hub pings). Telling means rendering the channel's documents to
// compare them, which must not be done for a thousand channels nobody
// follows each time their shared index changes.
func (a *App) subscribed(ctx context.Context, ids []string) ([]string, error) {
	if len(a.hubs) > 1 {
		return ids, nil
	}
	base := a.Config().Server.BaseURL // a reload keeps it
	var out []string
	for _, id := range ids {
		for _, topic := range topicURLs(base, id) {
			subs, err := a.st.Subscriptions(ctx, topic)
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

// newSubscriber wires the WebSub subscriber (sources that push): its
// requests to hubs go through the fetcher's guarded client (a hub on a
// private address is refused unless fetch.allow_private_networks), its
// deliveries are bounded by fetch.max_body and stored through the running
// poller (currentPoller), and each stored delivery sets off what a poll's
// items do.
func (a *App) newSubscriber(cfg config.Config) *push.Subscriber {
	client := NewClient(cfg, a.d.Transport)
	o := push.Options{
		BaseURL:   cfg.Server.BaseURL,
		Client:    client.HTTPClient(),
		MaxBody:   cfg.Fetch.MaxBody,
		UserAgent: cfg.Fetch.UserAgentString(Version()),
		Timeout:   cfg.Fetch.Timeout,
		Now:       a.now,
		Logger:    a.log,
		OnDelivery: func(r fetch.Result) {
			a.metrics.Pushed(r)
			a.stored(r)
		},
	}
	if !cfg.Fetch.AllowPrivateNetworks {
		o.CheckHost = func(ctx context.Context, host string) error { return fetch.CheckHost(ctx, host) }
	}
	return push.New(currentPoller{a}, a.st, cfg.Sources, o)
}

// currentPoller hands the subscriber's deliveries and state updates to
// the poller running now (a reload that changes fetch settings replaces
// it); all of them share the App's source locks.
type currentPoller struct{ a *App }

func (c currentPoller) Deliver(ctx context.Context, src feed.Source, body []byte, contentType string) fetch.Result {
	return c.a.poller.Load().Deliver(ctx, src, body, contentType)
}

func (c currentPoller) UpdateState(ctx context.Context, sourceID string, change func(*feed.SourceState) bool) error {
	return c.a.poller.Load().UpdateState(ctx, sourceID, change)
}
