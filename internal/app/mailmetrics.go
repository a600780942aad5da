package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// mailCollector gives /metrics each mailing list's counts and sender
// state, read at scrape time (the store's counts, the loop's own).
type mailCollector struct{ a *App }

var (
	mailSubscribersDesc = prometheus.NewDesc("aggregator_mail_subscribers", "Subscribers of a channel's mailing list, by state.", []string{"channel", "state"}, nil)
	mailSentDesc        = prometheus.NewDesc("aggregator_mail_sent_total", "List mails the server took, since start.", []string{"channel"}, nil)
	mailFailedDesc      = prometheus.NewDesc("aggregator_mail_failed_total", "List mails that failed (4xx, 5xx, connection), since start.", []string{"channel"}, nil)
	mailQueueDesc       = prometheus.NewDesc("aggregator_mail_queue", "Subscribers due for mail at the sender's last pass.", []string{"channel"}, nil)
	mailLastSendDesc    = prometheus.NewDesc("aggregator_mail_last_send_timestamp_seconds", "When the list last sent a mail (0: not since start).", []string{"channel"}, nil)
)

func (c mailCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mailSubscribersDesc, mailSentDesc, mailFailedDesc, mailQueueDesc, mailLastSendDesc} {
		ch <- d
	}
}

func (c mailCollector) Collect(ch chan<- prometheus.Metric) {
	lists, err := c.a.lists.Status(context.Background())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(mailSubscribersDesc, err)
		return
	}
	for _, l := range lists {
		for state, n := range map[string]int{"confirmed": l.Confirmed, "pending": l.Pending, "bounced": l.Bounced} {
			ch <- prometheus.MustNewConstMetric(mailSubscribersDesc, prometheus.GaugeValue, float64(n), l.Channel, state)
		}
		ch <- prometheus.MustNewConstMetric(mailSentDesc, prometheus.CounterValue, float64(l.Sent), l.Channel)
		ch <- prometheus.MustNewConstMetric(mailFailedDesc, prometheus.CounterValue, float64(l.Failed), l.Channel)
		ch <- prometheus.MustNewConstMetric(mailQueueDesc, prometheus.GaugeValue, float64(l.Queue), l.Channel)
		last := 0.0
		if !l.LastSend.IsZero() {
			last = float64(l.LastSend.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(mailLastSendDesc, prometheus.GaugeValue, last, l.Channel)
	}
}
