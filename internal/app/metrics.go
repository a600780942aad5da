package app

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kpolicy/aggregator/internal/metrics"
)

// newMetrics registers the service's metrics, and the Go runtime's and the
// process's, on a registry of the App's own.
func (a *App) newMetrics() (*metrics.Metrics, error) {
	// A scrape during the shutdown drain still reads the store.
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(mailCollector{a}) // nothing while there are no lists
	m, err := metrics.New(reg, metrics.Options{
		StoreSize:   func() (int64, error) { return a.st.Size(ctx) },
		StoreItems:  func() (int, error) { return a.st.Count(ctx) },
		IndexItems:  a.index.Count,
		Subscribers: a.subs.Today,
		Indexing:    a.indexer.State,
		Pushes:      func() map[string]uint64 { return a.push.Counts() },
		WebSubSubs: func() (int, error) {
			subs, err := a.st.Subscriptions(ctx, "")
			return len(subs), err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}
