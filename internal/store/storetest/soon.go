package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// testStateSoon: a state saved with SaveStateSoon is read at once (State,
// States, with the store's item count), a later SavePoll, SaveState or
// MarkParsing of the source stands over it whenever the queued one is
// committed, and Close makes it durable (a reopen reads it). Under load:
// many sources saved soon while others poll, each read back as last saved.
func testStateSoon(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	base := stateOf("a")
	if _, err := s.SavePoll(bg, "a", []feed.Item{item("a", "k1", "t", 1)}, base); err != nil {
		t.Fatal(err)
	}
	soon := base
	soon.LastStatus, soon.ETag, soon.Items = 304, `"v2"`, 99
	if err := s.SaveStateSoon(bg, soon); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(bg, "a"); err != nil || st.ETag != `"v2"` || st.LastStatus != 304 || st.Items != 1 {
		t.Errorf("State after SaveStateSoon: %+v, %v; want ETag v2, 304, the store's 1 item", st, err)
	}
	if sts, err := s.States(bg); err != nil || len(sts) != 1 || sts[0].ETag != `"v2"` || sts[0].Items != 1 {
		t.Errorf("States after SaveStateSoon: %+v, %v", sts, err)
	}

	// A SavePoll after it stands, however the queued state's commit falls.
	later := soon
	later.ETag, later.LastStatus = `"v3"`, 200
	if err := s.SaveStateSoon(bg, soon); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SavePoll(bg, "a", []feed.Item{item("a", "k2", "t", 2)}, later); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(bg, "a"); err != nil || st.ETag != `"v3"` || st.Items != 2 {
		t.Errorf("State after SaveStateSoon then SavePoll: %+v, %v; want v3 with 2 items", st, err)
	}
	// And a SaveState; MarkParsing marks the queued state.
	if err := s.SaveStateSoon(bg, soon); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveState(bg, later); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveStateSoon(bg, soon); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkParsing(bg, "a", epoch); err != nil {
		t.Fatal(err)
	}
	if st, err := s.State(bg, "a"); err != nil || st.ETag != `"v2"` || !st.Parsing.Equal(epoch) {
		t.Errorf("State after SaveStateSoon then MarkParsing: %+v, %v; want v2, marked", st, err)
	}

	// Many at once, beside polls of other sources.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				st := stateOf(fmt.Sprintf("soon-%d-%02d", g, i))
				st.ETag = fmt.Sprintf(`"g%d-%d"`, g, i)
				if err := s.SaveStateSoon(bg, st); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			id := fmt.Sprintf("poll-%d", g)
			if _, err := s.SavePoll(bg, id, []feed.Item{item(id, "k", "t", 1)}, stateOf(id)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.SaveStateSoon(bg, feed.SourceState{}); feed.ErrorCode(err) != feed.EINVALID {
		t.Errorf("SaveStateSoon without a source id: %v, want EINVALID", err)
	}

	s2 := b.Reopen(t, s, Options{Now: fixed})
	t.Cleanup(func() { s2.Close() })
	for g := range 4 {
		for i := range 25 {
			id := fmt.Sprintf("soon-%d-%02d", g, i)
			if st, err := s2.State(bg, id); err != nil || st.ETag != fmt.Sprintf(`"g%d-%d"`, g, i) {
				t.Fatalf("after reopen, %s: %+v, %v; want its state, made durable by Close", id, st, err)
			}
		}
	}
	if st, err := s2.State(bg, "a"); err != nil || st.ETag != `"v2"` || !st.Parsing.Equal(epoch) {
		t.Errorf("after reopen, a: %+v, %v", st, err)
	}
}
