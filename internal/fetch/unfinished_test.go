package fetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// dyingParser stands for a parse that kills its process: it announces
// itself on started, waits for die, and ends its goroutine without
// returning, so nothing after the parse runs (as after a fatal error).
type dyingParser struct {
	started chan struct{}
	die     chan struct{}
}

func (p *dyingParser) Parse([]byte, string, string, string) (feed.Parsed, error) {
	close(p.started)
	<-p.die
	runtime.Goexit()
	return feed.Parsed{}, nil
}

// TestPollAfterProcessDiedWhileParsing: a poll whose process dies in the
// parser leaves its mark on the source's state, and the next poll (by a new
// Poller on the same store, as after a restart) records the unfinished
// attempt as a failure and backs off instead of fetching the body again.
func TestPollAfterProcessDiedWhileParsing(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a\nb") })
	store := newMemStore()
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}

	dying := &dyingParser{started: make(chan struct{}), die: make(chan struct{})}
	first, clk := newTestPoller(t, dying, store, 0.5)
	began := clk.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		first.Poll(t.Context(), src)
	}()
	<-dying.started
	deadline := time.Now().Add(10 * time.Second)
	for store.state("s").Parsing.IsZero() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the mark comes parseMarkDelay into the parse
	}
	if got := store.state("s").Parsing; !got.Equal(began) {
		t.Fatalf("state while parsing: Parsing=%v, want %v", got, began)
	}
	close(dying.die)
	<-done
	if got := len(o.requests()); got != 1 {
		t.Fatalf("requests=%d before the restart, want 1", got)
	}

	// The restarted process.
	parser := &lineParser{}
	second, clk2 := newTestPoller(t, parser, store, 0.5)
	clk2.Advance(time.Minute)
	res := second.Poll(t.Context(), src)
	if !errors.Is(res.Err, ErrUnfinishedPoll) {
		t.Fatalf("err=%v, want ErrUnfinishedPoll", res.Err)
	}
	if got := len(o.requests()); got != 1 {
		t.Errorf("requests=%d after the restart, want 1: the body that killed the process was fetched again at once", got)
	}
	if parser.calls.Load() != 0 {
		t.Errorf("parser called %d times", parser.calls.Load())
	}
	st := store.state("s")
	if st.Errors != 1 || !st.Parsing.IsZero() || !strings.Contains(st.LastError, "previous poll did not finish: the process stopped while parsing") {
		t.Errorf("state=%+v, want one error naming the unfinished poll and no parse mark", st)
	}
	if want := clk2.Now().Add(src.Interval); !st.NextPoll.Equal(want) || !res.NextPoll.Equal(want) {
		t.Errorf("next poll %v (result %v), want one interval later, %v", st.NextPoll, res.NextPoll, want)
	}

	// When it comes due, the source is polled as usual.
	clk2.Advance(src.Interval)
	if res := second.Poll(t.Context(), src); res.Err != nil || res.Counts.New != 2 {
		t.Fatalf("poll when due: err=%v counts=%+v", res.Err, res.Counts)
	}
	if st := store.state("s"); st.Errors != 0 || !st.Parsing.IsZero() {
		t.Errorf("state after success: %+v", st)
	}
}

// slowLineParser is a lineParser that takes longer than parseMarkDelay.
type slowLineParser struct{ lineParser }

func (p *slowLineParser) Parse(body []byte, contentType, feedURL, sourceID string) (feed.Parsed, error) {
	time.Sleep(parseMarkDelay + 50*time.Millisecond)
	return p.lineParser.Parse(body, contentType, feedURL, sourceID)
}

// TestPollMarksEveryOutcome: a quick parse writes no mark; a slow one is
// marked, and the mark is gone after a success and after a parse error, so
// only a parse that never returned leaves it.
func TestPollMarksEveryOutcome(t *testing.T) {
	body := "a"
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	for _, tc := range []struct {
		name   string
		parser Parser
		marks  int
	}{{"quick", &lineParser{}, 0}, {"slow", &slowLineParser{}, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			p, clk := newTestPoller(t, tc.parser, store, 0)
			src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}
			for _, b := range []string{"a", "!broken", "b"} {
				body = b
				p.Poll(t.Context(), src)
				if st := store.state("s"); !st.Parsing.IsZero() {
					t.Errorf("body %q: state keeps the parse mark %v", b, st.Parsing)
				}
				clk.Advance(2 * time.Hour)
			}
			if got := store.marks.Load(); got != int32(tc.marks) {
				t.Errorf("%d marks written, want %d", got, tc.marks)
			}
		})
	}
}

// slowParser takes until its context ends.
type slowParser struct{ lineParser }

func (p *slowParser) ParseSourceContext(ctx context.Context, body []byte, contentType, feedURL string, src feed.Source) (feed.Parsed, error) {
	<-ctx.Done()
	return feed.Parsed{}, ctx.Err()
}

// TestPollParseHonoursTimeout: a parse gets the client's Timeout, and one
// that takes longer fails the poll with a message naming that timeout.
func TestPollParseHonoursTimeout(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	store := newMemStore()
	p := NewPoller(testClient(t, Options{Timeout: 200 * time.Millisecond}), &slowParser{}, store, PollerOptions{})
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour}
	res := p.Poll(t.Context(), src)
	if !errors.Is(res.Err, context.DeadlineExceeded) || !strings.Contains(res.Err.Error(), "stopped after the fetch timeout (200ms)") {
		t.Fatalf("err=%v, want the parse stopped at the fetch timeout", res.Err)
	}
	if st := store.state("s"); st.Errors != 1 || !st.Parsing.IsZero() {
		t.Errorf("state=%+v, want the failure recorded", st)
	}
}
