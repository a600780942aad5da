package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kpolicy/aggregator/internal/search"
)

func TestSearchIndexFailures(t *testing.T) {
	m, err := New(prometheus.NewRegistry(), Options{
		Indexing: func() search.IndexerState {
			return search.IndexerState{Failing: 3, Failures: 5, LastError: "no space left on device", Behind: 40}
		},
		WebSubSubs: func() (int, error) { return 7, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, m)
	for _, want := range []string{"aggregator_search_index_failing 3\n", "aggregator_search_index_errors_total 5\n", "aggregator_search_index_behind 40\n", "aggregator_websub_subscriptions 7\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
