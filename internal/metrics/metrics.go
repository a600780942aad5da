// Package metrics owns the aggregator's Prometheus metrics: what the poller,
// the feed server, WebSub and the store report, registered on a registry
// that the caller builds (never the global default one), and the /metrics
// handler over it.
//
// It only counts: it does not poll, store or serve anything else.
package metrics

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/search"
)

// Options names the values read when metrics are scraped. Nil fields leave
// their metrics out.
type Options struct {
	StoreSize   func() (int64, error)       // bytes of the database file
	StoreItems  func() (int, error)         // items stored
	IndexItems  func() (uint64, error)      // items in the search index
	Subscribers func() []feed.SubscriberDay // today's subscriber statistics, per channel
	Indexing    func() search.IndexerState  // the search indexer's failures
	WebSubSubs  func() (int, error)         // WebSub subscriptions kept
	// Pushes are the WebSub subscriber's delivery outcomes since start
	// (push.Subscriber.Counts), each key a "result" label.
	Pushes func() map[string]uint64
}

// Metrics is the set of the aggregator's metrics. Its methods are safe for
// concurrent use and do nothing on a nil *Metrics.
type Metrics struct {
	gatherer    prometheus.Gatherer
	polls       *prometheus.CounterVec
	responses   *prometheus.CounterVec
	items       *prometheus.CounterVec
	pollSeconds *prometheus.HistogramVec
	output      *prometheus.CounterVec
	outputs     sync.Map // outputKey → prometheus.Counter of output: WithLabelValues hashed the labels at every feed request
	websub      *prometheus.CounterVec
}

// outputKey is one counter of aggregator_feed_requests_total; the labels
// are bounded as the vector's are (known channels, formats, statuses).
type outputKey struct {
	channel, format string
	status          int
}

// Poll results, the "result" label of aggregator_polls_total.
const (
	ResultOK          = "ok"           // a body was parsed and stored
	ResultNotModified = "not_modified" // 304
	ResultUnchanged   = "unchanged"    // 200 with the same body as last time
	ResultError       = "error"
)

// New registers the metrics on reg and returns them. reg must also be a
// prometheus.Gatherer (a *prometheus.Registry is both) for Handler.
func New(reg *prometheus.Registry, o Options) (*Metrics, error) {
	m := &Metrics{
		gatherer: reg,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_polls_total",
			Help: "Polls of each source by result: ok, not_modified, unchanged (same body), error.",
		}, []string{"source", "result"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_poll_responses_total",
			Help: "HTTP responses to polls by host and status code (0: no response). The 304 ratio is code=\"304\" over the sum.",
		}, []string{"host", "code"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_items_total",
			Help: "Items seen by polls, by what happened to them: new, updated, unchanged, merged (another source's story, stored as one more origin of it).",
		}, []string{"change"}),
		pollSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aggregator_poll_duration_seconds",
			Help:    "Time one poll took, request to stored items, by result.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60},
		}, []string{"result"}),
		output: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_feed_requests_total",
			Help: "Requests for published feeds by channel, format and status code.",
		}, []string{"channel", "format", "code"}),
		websub: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregator_websub_deliveries_total",
			Help: "WebSub content distributions to subscribers, by result (ok, error).",
		}, []string{"result"}),
	}
	cs := []prometheus.Collector{m.polls, m.responses, m.items, m.pollSeconds, m.output, m.websub}
	if o.StoreSize != nil {
		cs = append(cs, gaugeFunc("aggregator_store_size_bytes", "Size of the database file.", func() (float64, error) {
			n, err := o.StoreSize()
			return float64(n), err
		}))
	}
	if o.StoreItems != nil {
		cs = append(cs, gaugeFunc("aggregator_store_items", "Items stored.", func() (float64, error) {
			n, err := o.StoreItems()
			return float64(n), err
		}))
	}
	if o.IndexItems != nil {
		cs = append(cs, gaugeFunc("aggregator_search_index_items", "Items in the search index.", func() (float64, error) {
			n, err := o.IndexItems()
			return float64(n), err
		}))
	}
	if o.Subscribers != nil {
		cs = append(cs, subscribers{o.Subscribers})
	}
	if o.WebSubSubs != nil {
		cs = append(cs, gaugeFunc("aggregator_websub_subscriptions", "WebSub subscriptions the hub keeps (see publish.max_subscriptions).", func() (float64, error) {
			n, err := o.WebSubSubs()
			return float64(n), err
		}))
	}
	if o.Pushes != nil {
		cs = append(cs, pushes{o.Pushes})
	}
	if o.Indexing != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aggregator_search_index_failing",
				Help: "Search index catch-ups failed in a row (0: the index is keeping up; see /status)."},
				func() float64 { return float64(o.Indexing().Failing) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "aggregator_search_index_errors_total",
				Help: "Search index catch-ups that failed (a full disk, the store failing) since start."},
				func() float64 { return float64(o.Indexing().Failures) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "aggregator_search_index_behind",
				Help: "Store writes the search index does not hold yet (0: caught up)."},
				func() float64 { return float64(o.Indexing().Behind) }))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, change := range itemChanges {
		m.items.WithLabelValues(change) // present from the start, at 0
	}
	return m, nil
}

// itemChanges are the values of aggregator_items_total's "change" label,
// one per count of feed.PollCounts that Poll adds.
var itemChanges = []string{"new", "updated", "unchanged", "merged"}

// gaugeFunc is a gauge read when scraped; a failing read reports NaN
// rather than failing the scrape.
func gaugeFunc(name, help string, read func() (float64, error)) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		v, err := read()
		if err != nil {
			return math.NaN()
		}
		return v
	})
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Poll counts one poll's outcome.
func (m *Metrics) Poll(r fetch.Result) {
	if m == nil {
		return
	}
	result := ResultOK
	switch {
	case r.Err != nil:
		result = ResultError
	case r.NotModified:
		result = ResultNotModified
	case r.Skipped:
		result = ResultUnchanged
	}
	m.polls.WithLabelValues(r.SourceID, result).Inc()
	host := ""
	if u, err := url.Parse(r.URL); err == nil {
		host = u.Hostname()
	}
	m.responses.WithLabelValues(host, strconv.Itoa(r.Status)).Inc()
	m.pollSeconds.WithLabelValues(result).Observe(r.Duration.Seconds())
	m.countItems(r.Counts)
}

// countItems counts what one poll or delivery did to its items.
func (m *Metrics) countItems(c feed.PollCounts) {
	m.addItems("new", c.New)
	m.addItems("updated", c.Updated)
	m.addItems("unchanged", c.Unchanged)
	m.addItems("merged", c.Merged)
}

// addItems adds n to the items counted under change (one of itemChanges).
func (m *Metrics) addItems(change string, n int) {
	if n <= 0 {
		return
	}
	m.items.WithLabelValues(change).Add(float64(n))
}

// Output counts one request for a published feed.
func (m *Metrics) Output(channel, format string, status int) {
	if m == nil {
		return
	}
	k := outputKey{channel, format, status}
	c, ok := m.outputs.Load(k)
	if !ok {
		c, _ = m.outputs.LoadOrStore(k, m.output.WithLabelValues(channel, format, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
}

// WebSubDelivery counts one delivery to a WebSub subscriber; err nil is a
// success.
func (m *Metrics) WebSubDelivery(err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.websub.WithLabelValues(result).Inc()
}

// subscribers reports today's subscriber statistics per channel.
type subscribers struct{ read func() []feed.SubscriberDay }

var (
	subscribersDesc = prometheus.NewDesc("aggregator_feed_subscribers",
		"Estimated subscribers of a channel today (UTC): distinct clients plus the subscribers feed readers report.", []string{"channel"}, nil)
	clientsDesc = prometheus.NewDesc("aggregator_feed_clients",
		"Distinct clients (address and User-Agent) that requested a channel's feeds today (UTC).", []string{"channel"}, nil)
	reportedDesc = prometheus.NewDesc("aggregator_feed_reported_subscribers",
		"Subscribers that feed readers reported in their User-Agent today (UTC).", []string{"channel"}, nil)
)

func (s subscribers) Describe(ch chan<- *prometheus.Desc) {
	ch <- subscribersDesc
	ch <- clientsDesc
	ch <- reportedDesc
}

func (s subscribers) Collect(ch chan<- prometheus.Metric) {
	for _, d := range s.read() {
		ch <- prometheus.MustNewConstMetric(subscribersDesc, prometheus.GaugeValue, float64(d.Subscribers()), d.Channel)
		ch <- prometheus.MustNewConstMetric(clientsDesc, prometheus.GaugeValue, float64(d.Clients), d.Channel)
		ch <- prometheus.MustNewConstMetric(reportedDesc, prometheus.GaugeValue, float64(d.Reported), d.Channel)
	}
}

// Pushed counts the items one stored WebSub delivery changed, with those
// of polls (aggregator_items_total); its outcome is counted by Options.Pushes.
func (m *Metrics) Pushed(r fetch.Result) {
	if m == nil {
		return
	}
	m.countItems(r.Counts)
}

// pushes reports aggregator_push_deliveries_total from the subscriber's
// own counts, read when scraped.
type pushes struct{ read func() map[string]uint64 }

var pushesDesc = prometheus.NewDesc("aggregator_push_deliveries_total",
	"WebSub deliveries received from the hubs of sources that push, by result: stored, unsigned, bad_signature (wrong HMAC or sha1), unknown (no such subscription: 410), too_large, busy, failed.",
	[]string{"result"}, nil)

func (p pushes) Describe(ch chan<- *prometheus.Desc) { ch <- pushesDesc }

func (p pushes) Collect(ch chan<- prometheus.Metric) {
	for result, n := range p.read() {
		ch <- prometheus.MustNewConstMetric(pushesDesc, prometheus.CounterValue, float64(n), result)
	}
}
