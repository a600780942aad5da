package feed

// SubscriberDay is what one channel's feeds saw on one day (UTC): the
// requests for any of its formats, how many were answered 304 Not Modified,
// the distinct clients (by a hash of address and User-Agent, never stored
// raw), and the subscribers that feed readers reported in their User-Agent
// ("Feedly/1.0 (…; 123 subscribers; …)"), the largest count of each
// reporting fetcher that day, summed over fetchers.
type SubscriberDay struct {
	Channel     string
	Day         string // "2006-01-02", UTC
	Requests    int
	NotModified int
	Clients     int
	Reported    int
}

// Subscribers is the day's estimate of the channel's readers: its
// distinct direct clients plus those the aggregators reported.
func (d SubscriberDay) Subscribers() int { return d.Clients + d.Reported }
