package app

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kpolicy/aggregator/internal/metrics"
)

// newMetrics registers the service's metrics, and the Go runtime's and the
// process's, on a registry of the App's own.
func (a *App) newMetrics() (*metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg, metrics.Options{
		StoreSize:   a.st.Size,
		StoreItems:  a.st.Count,
		IndexItems:  a.index.Count,
		Subscribers: a.subs.Today,
		Indexing:    a.indexer.State,
		WebSubSubs: func() (int, error) {
			subs, err := a.st.Subscriptions("")
			return len(subs), err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return m, nil
}
