package server

import (
	"net/http"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

type subscribersPage struct {
	Days []feed.SubscriberDay
	From string
}

// handleSubscribers shows staff the last 30 days of subscriber statistics
// per channel.
func (s *Server) handleSubscribers(w http.ResponseWriter, r *http.Request) {
	if s.Subscribers == nil {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "subscriber statistics are not kept here"))
		return
	}
	from := time.Now().UTC().AddDate(0, 0, -29).Format(time.DateOnly)
	days, err := s.Subscribers.History(r.Context(), from, "")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, "subscribers.html", subscribersPage{Days: days, From: from})
}
