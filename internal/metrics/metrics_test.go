package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), Options{
		StoreSize:   func() (int64, error) { return 4096, nil },
		StoreItems:  func() (int, error) { return 0, errors.New("closed") },
		Subscribers: func() []feed.SubscriberDay { return []feed.SubscriberDay{{Channel: "news", Clients: 3, Reported: 120}} },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Poll(fetch.Result{SourceID: "kei", URL: "https://keia.org/feed/", Status: 200, Counts: feed.PollCounts{New: 3, Unchanged: 2, Merged: 2}, Duration: 300 * time.Millisecond})
	m.Poll(fetch.Result{SourceID: "kei", URL: "https://keia.org/feed/", Status: 304, NotModified: true, Duration: 100 * time.Millisecond})
	m.Poll(fetch.Result{SourceID: "38n", URL: "https://www.38north.org/feed", Err: errors.New("timeout")})
	m.Output("news", "atom", 304)
	m.WebSubDelivery(nil)
	var none *Metrics
	none.Poll(fetch.Result{}) // a nil *Metrics counts nothing and does not panic
	none.Output("x", "atom", 200)

	body := scrape(t, m)
	for _, want := range []string{
		`aggregator_polls_total{result="ok",source="kei"} 1`,
		`aggregator_polls_total{result="not_modified",source="kei"} 1`,
		`aggregator_polls_total{result="error",source="38n"} 1`,
		`aggregator_poll_responses_total{code="304",host="keia.org"} 1`,
		`aggregator_poll_responses_total{code="0",host="www.38north.org"} 1`,
		`aggregator_items_total{change="new"} 3`,
		`aggregator_items_total{change="merged"} 2`,
		`aggregator_items_total{change="updated"} 0`,
		`aggregator_poll_duration_seconds_count{result="ok"} 1`,
		`aggregator_feed_requests_total{channel="news",code="304",format="atom"} 1`,
		`aggregator_websub_deliveries_total{result="ok"} 1`,
		`aggregator_store_size_bytes 4096`,
		`aggregator_store_items NaN`,
		`aggregator_feed_subscribers{channel="news"} 123`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `change="filtered"`) {
		t.Error(`change="filtered" is listed, but no poll counts filtered items`)
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("the registry is not the default one: it has no Go collector unless the caller adds it")
	}
}
