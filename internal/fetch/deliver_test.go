package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestDeliverStoresLikeAPoll: a pushed body goes through the parser and
// SavePoll (its items counted as a poll's would be), records the delivery,
// and leaves the poll's validators, hash and schedule as they were.
func TestDeliverStoresLikeAPoll(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "a")
	})
	parser, store := &lineParser{}, newMemStore()
	p, clk := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}
	if r := p.Poll(t.Context(), src); r.Err != nil {
		t.Fatal(r.Err)
	}
	polled := store.state("s")
	clk.Advance(time.Minute)

	r := p.Deliver(t.Context(), src, []byte("a\nb\nc"), "application/atom+xml")
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, want := r.Counts, (feed.PollCounts{New: 2, Unchanged: 1}); got != want {
		t.Errorf("Counts=%+v, want %+v", got, want)
	}
	st := store.state("s")
	if got, want := store.itemCount("s"), 3; got != want {
		t.Errorf("items=%d, want %d", got, want)
	}
	if !st.Push.LastDelivery.Equal(clk.Now()) || !st.LastChange.Equal(clk.Now()) {
		t.Errorf("LastDelivery=%v LastChange=%v, want %v", st.Push.LastDelivery, st.LastChange, clk.Now())
	}
	if st.ETag != polled.ETag || st.BodyHash != polled.BodyHash || !st.NextPoll.Equal(polled.NextPoll) || !st.LastPoll.Equal(polled.LastPoll) {
		t.Errorf("a delivery changed the poll's state: %+v, was %+v", st, polled)
	}

	t.Run("unparsable body stores nothing", func(t *testing.T) {
		before := store.state("s")
		if r := p.Deliver(t.Context(), src, []byte("!garbage"), ""); r.Err == nil {
			t.Fatal("no error")
		}
		if got := store.state("s"); got.Push.LastDelivery != before.Push.LastDelivery || got.LastError != "" {
			t.Errorf("state changed: %+v", got)
		}
	})
	t.Run("unfinished parse mark is kept", func(t *testing.T) {
		store.MarkParsing(t.Context(), "s", clk.Now())
		if r := p.Deliver(t.Context(), src, []byte("d"), ""); !errors.Is(r.Err, ErrUnfinishedPoll) {
			t.Fatalf("err=%v, want ErrUnfinishedPoll", r.Err)
		}
		if store.state("s").Parsing.IsZero() {
			t.Error("the mark was cleared")
		}
	})
}

// TestPollWhilePushActive: a source whose subscription is active is polled
// again after MaxInterval, not its interval, or when the lease ends if
// that is sooner; once the lease lapsed, at its interval again.
func TestPollWhilePushActive(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	parser, store := &lineParser{}, newMemStore()
	p, clk := newOptsPoller(t, parser, store, 0, PollerOptions{MaxInterval: 6 * time.Hour})
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}
	setPush := func(expires time.Time) {
		err := p.UpdateState(t.Context(), "s", func(st *feed.SourceState) bool {
			st.Push = feed.Push{State: feed.PushActive, Expires: expires}
			st.BodyHash = "" // parse each time
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		expires time.Duration // from now
		want    time.Duration
	}{
		{"active", 48 * time.Hour, 6 * time.Hour},
		{"lease ends sooner", 2 * time.Hour, 2 * time.Hour},
		{"lapsed", -time.Minute, time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			setPush(clk.Now().Add(c.expires))
			r := p.Poll(t.Context(), src)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := r.NextPoll.Sub(clk.Now()); got != c.want {
				t.Errorf("next poll in %v, want %v", got, c.want)
			}
		})
	}
}

// TestSourceLockExcludes: an update of a source waits for its poll (its
// change is not saved over), respects its context while waiting, and the
// lock table is empty once nobody holds or waits.
func TestSourceLockExcludes(t *testing.T) {
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "a")
	})
	parser, store := &lineParser{}, newMemStore()
	p, _ := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}
	polled := make(chan Result)
	go func() { polled <- p.Poll(t.Context(), src) }()
	for p.locks.held() == 0 {
		time.Sleep(time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := p.UpdateState(ctx, "s", func(*feed.SourceState) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpdateState during a poll: %v, want the context's deadline", err)
	}
	updated := make(chan error)
	go func() {
		updated <- p.UpdateState(t.Context(), "s", func(st *feed.SourceState) bool {
			st.Push.State = feed.PushActive
			return true
		})
	}()
	close(release)
	if r := <-polled; r.Err != nil {
		t.Fatal(r.Err)
	}
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
	if got := store.state("s"); got.Push.State != feed.PushActive || got.Items != 1 {
		t.Errorf("state=%+v, want the poll's items and the update's push", got)
	}
	if n := p.locks.held(); n != 0 {
		t.Errorf("%d locks left", n)
	}
}
