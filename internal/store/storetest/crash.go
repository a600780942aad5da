package storetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// The crash cases: a writer killed with SIGKILL in the middle of its
// writes (another process: Crash), and a SavePoll whose context ends while
// it runs (CancelledPoll). After either, every write is whole or absent.

// Environment of the crash cases' child process (see Child).
const (
	childStore = "AGGREGATOR_STORETEST_CHILD" // the store's location (Backend.Locate)
	childRound = "AGGREGATOR_STORETEST_ROUND" // the round, naming what it writes
)

// Child is the crash cases' entry point in a backend's test binary, which
// the Crash case runs again as the writer it kills. A backend's test
// package calls it first in its TestMain:
//
//	func TestMain(m *testing.M) {
//		storetest.Child(func(loc string, o storetest.Options) (store.Store, error) { … })
//		os.Exit(m.Run())
//	}
//
// In the tests' own process it returns at once. In the child (its
// environment names a store) it opens the store at loc with open, writes
// the round's planned writes one after another, printing a line on stdout
// before each begins and after it returns, until it is killed; it never returns (it exits with
// status 2 on a failure, which it prints on stderr).
func Child(open func(loc string, opts Options) (store.Store, error)) {
	loc := os.Getenv(childStore)
	if loc == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "storetest child:", err)
		os.Exit(2)
	}
	round, err := strconv.Atoi(os.Getenv(childRound))
	if err != nil {
		fail(fmt.Errorf("%s: %v", childRound, err))
	}
	s, err := open(loc, Options{Now: fixed})
	if err != nil {
		fail(fmt.Errorf("open %s: %w", loc, err))
	}
	fmt.Println("open")
	for j := 0; ; j++ {
		fmt.Println("begin", j)
		if err := crashPlan(round, j).do(bg, s); err != nil {
			fail(fmt.Errorf("round %d write %d: %w", round, j, err))
		}
		fmt.Println("ok", j) // os.Stdout is not buffered: the line is out when the write returned
	}
}

// What the child writes, in a cycle of 15: polls, a state alone, an index
// update and a subscriber, over three sources.
const (
	opPoll = iota
	opState
	opIndex
	opSubscriber
)

var crashKinds = []string{"poll", "state", "index update", "subscriber"}

const crashIndex, crashChannel = "crash", "crash"

var crashSources = []string{"c0", "c1", "c2"}

// crashOp is write j of round r: a pure function of (r, j), so that the
// parent knows what every reported write did.
type crashOp struct {
	r, j int
	kind int
	src  string
	// A poll's items: fresh ones, and the previous poll's of the source in
	// this round delivered again as edited (written by this op).
	fresh, edited []string
	// An index update's members: the last poll's items, fresh and edited.
	members []string
}

func crashKind(j int) int {
	switch j % 5 {
	case 0, 1:
		return opPoll
	case 2:
		return opState
	case 3:
		return opIndex
	}
	return opSubscriber
}

func crashPlan(r, j int) crashOp {
	op := crashOp{r: r, j: j, kind: crashKind(j), src: crashSources[j%3]}
	switch op.kind {
	case opPoll:
		for n := range 4 {
			op.fresh = append(op.fresh, fmt.Sprintf("r%d-%03d-%d", r, j, n))
		}
		for p := j - 1; p >= 0; p-- {
			if crashKind(p) == opPoll && crashSources[p%3] == op.src {
				op.edited = crashPlan(r, p).fresh
				break
			}
		}
	case opIndex:
		for p := j - 1; p >= 0; p-- {
			if crashKind(p) == opPoll {
				last := crashPlan(r, p)
				op.src = last.src
				op.members = slices.Concat(last.fresh, last.edited)
				break
			}
		}
	}
	return op
}

// tag is the ETag of the state op writes.
func (op crashOp) tag() string { return fmt.Sprintf(`"r%d-%03d"`, op.r, op.j) }

// version is the title op gives the items it writes.
func (op crashOp) title(key string) string { return fmt.Sprintf("%s by r%d-%03d", key, op.r, op.j) }

func (op crashOp) address() string { return fmt.Sprintf("r%d-%03d@example.com", op.r, op.j) }

func (op crashOp) indexRev() uint64 { return uint64(op.r*100000 + op.j + 1) }

func (op crashOp) items() []feed.Item {
	var its []feed.Item
	for _, k := range slices.Concat(op.fresh, op.edited) {
		n, _ := strconv.Atoi(k[len(k)-1:])
		it := item(op.src, k, op.title(k), n)
		it.Updated = it.Updated.Add(time.Duration(op.r*100000+op.j) * time.Minute)
		its = append(its, it)
	}
	return its
}

func (op crashOp) state(status int) feed.SourceState {
	return feed.SourceState{SourceID: op.src, URL: "https://" + op.src + ".example/feed.xml", ETag: op.tag(), LastStatus: status}
}

func (op crashOp) do(ctx context.Context, s store.Store) error {
	switch op.kind {
	case opPoll:
		c, err := s.SavePoll(ctx, op.src, op.items(), op.state(200))
		if err == nil && (c.New != len(op.fresh) || c.Updated != len(op.edited)) {
			err = fmt.Errorf("SavePoll counts %+v, want %d new, %d updated", c, len(op.fresh), len(op.edited))
		}
		return err
	case opState:
		return s.SaveState(ctx, op.state(304))
	case opIndex:
		var put []store.Member
		for _, k := range op.members {
			it, err := s.Item(ctx, op.src, k)
			if err != nil {
				return err
			}
			put = append(put, store.Member{SourceID: it.SourceID, Key: it.Key, Seq: it.Seq, Sort: it.Sort(), Pin: -1})
		}
		_, err := s.UpdateIndexes(ctx, map[string]store.IndexUpdate{crashIndex: {Put: put, Rev: op.indexRev(), Now: epoch}})
		return err
	default:
		_, _, err := s.AddSubscriber(ctx, store.Subscriber{Channel: crashChannel, Address: op.address(), Created: epoch})
		return err
	}
}

// crashModel is what the store must hold after the writes applied to it.
type crashModel struct {
	items   map[string]crashOp // "src/key": the op that wrote it last
	states  map[string]string  // src: ETag
	members map[string]bool    // "src/key"
	subs    map[string]bool
	rev     uint64 // the index's Rev
}

func newCrashModel() *crashModel {
	return &crashModel{items: map[string]crashOp{}, states: map[string]string{}, members: map[string]bool{}, subs: map[string]bool{}}
}

func (m *crashModel) clone() *crashModel {
	return &crashModel{maps.Clone(m.items), maps.Clone(m.states), maps.Clone(m.members), maps.Clone(m.subs), m.rev}
}

func (m *crashModel) apply(op crashOp) {
	switch op.kind {
	case opPoll:
		for _, k := range slices.Concat(op.fresh, op.edited) {
			m.items[op.src+"/"+k] = op
		}
		m.states[op.src] = op.tag()
	case opState:
		m.states[op.src] = op.tag()
	case opIndex:
		for _, k := range op.members {
			m.members[op.src+"/"+k] = true
		}
		m.rev = op.indexRev()
	default:
		m.subs[op.address()] = true
	}
}

// check returns how s differs from m: every write m holds must be there
// whole, and nothing else.
func (m *crashModel) check(s store.Store) []string {
	var diffs []string
	bad := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	srcs := slices.Concat(crashSources, []string{"after"})
	perSource := map[string]int{}
	for k := range m.items {
		perSource[k[:strings.IndexByte(k, '/')]]++
	}
	var all []feed.Item
	for _, src := range srcs {
		its, err := s.ItemsAfter(bg, []string{src}, nil, 1<<20)
		if err != nil {
			return []string{fmt.Sprintf("ItemsAfter(%s): %v", src, err)}
		}
		all = append(all, its...)
		if len(its) != perSource[src] {
			bad("source %s holds %d items, want %d", src, len(its), perSource[src])
		}
		n, err := s.SourceItemCount(bg, src)
		if err != nil || n != perSource[src] {
			bad("SourceItemCount(%s) = %d, %v; want %d", src, n, err, perSource[src])
		}
		st, err := s.State(bg, src)
		switch want, ok := m.states[src]; {
		case !ok && feed.ErrorCode(err) != feed.ENOTFOUND:
			bad("State(%s) = %q, %v; want none", src, st.ETag, err)
		case ok && (err != nil || st.ETag != want || st.Items != perSource[src]):
			bad("State(%s) = ETag %s, %d items, %v; want %s, %d items", src, st.ETag, st.Items, err, want, perSource[src])
		}
	}
	for _, it := range all {
		k := it.SourceID + "/" + it.Key
		op, ok := m.items[k]
		if !ok {
			bad("%s is stored (%q), and no write the model holds made it", k, it.Title)
		} else if want := op.title(it.Key); it.Title != want {
			bad("%s has title %q, want %q", k, it.Title, want)
		}
	}
	diffs = append(diffs, checkWriteOrder(s, all, m.items)...)

	st, ok, err := s.IndexState(bg, crashIndex)
	switch {
	case err != nil:
		bad("IndexState: %v", err)
	case !ok && m.rev != 0, ok && (st.Rev != m.rev || st.Count != len(m.members)):
		bad("index: ok %v, Rev %d, %d members; want Rev %d, %d members", ok, st.Rev, st.Count, m.rev, len(m.members))
	case ok:
		var seqs []uint64
		for _, it := range all {
			seqs = append(seqs, it.Seq)
		}
		got, err := s.LookupMembers(bg, crashIndex, seqs)
		if err != nil {
			bad("LookupMembers: %v", err)
		}
		in := map[string]bool{}
		for _, mb := range got {
			in[mb.SourceID+"/"+mb.Key] = true
		}
		if !maps.Equal(in, m.members) {
			bad("index members %v, want %v", slices.Sorted(maps.Keys(in)), slices.Sorted(maps.Keys(m.members)))
		}
	}

	subs, err := s.Subscribers(bg, crashChannel, "", 1<<20)
	if err != nil {
		bad("Subscribers: %v", err)
	}
	got := map[string]bool{}
	for _, sb := range subs {
		got[sb.Address] = true
	}
	if !maps.Equal(got, m.subs) {
		bad("subscribers %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(m.subs)))
	}
	return diffs
}

// checkWriteOrder compares the write order with the items stored: each is
// in it once, under the Rev it has, in increasing Rev order ending at
// LastRev, and a write made after another (by the model's ops) has a
// higher Rev.
func checkWriteOrder(s store.Store, all []feed.Item, by map[string]crashOp) []string {
	var diffs []string
	bad := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	since, err := s.ItemsSince(bg, 0, 1<<20)
	if err != nil {
		return []string{fmt.Sprintf("ItemsSince: %v", err)}
	}
	rev := map[string]uint64{}
	var last uint64
	for _, it := range since {
		k := it.SourceID + "/" + it.Key
		if it.Rev <= last {
			bad("ItemsSince: %s at Rev %d after Rev %d", k, it.Rev, last)
		}
		last = it.Rev
		if _, dup := rev[k]; dup {
			bad("ItemsSince lists %s twice", k)
		}
		rev[k] = it.Rev
	}
	if lr, err := s.LastRev(bg); err != nil || lr != last {
		bad("LastRev = %d, %v; the write order ends at %d", lr, err, last)
	}
	if len(since) != len(all) {
		bad("ItemsSince has %d entries, %d items are stored", len(since), len(all))
	}
	order := func(it feed.Item) int {
		op := by[it.SourceID+"/"+it.Key]
		return op.r*100000 + op.j
	}
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b feed.Item) int { return order(a) - order(b) })
	for i, it := range sorted {
		k := it.SourceID + "/" + it.Key
		if r, ok := rev[k]; !ok || r != it.Rev {
			bad("%s: Rev %d, the write order has it at %d (listed %v)", k, it.Rev, r, ok)
		}
		if i > 0 && order(sorted[i-1]) < order(it) && sorted[i-1].Rev >= it.Rev {
			p := sorted[i-1]
			bad("%s/%s (Rev %d) was written before %s (Rev %d)", p.SourceID, p.Key, p.Rev, k, it.Rev)
		}
	}
	return diffs
}

// crashRounds and the kill's bounds keep the case under a few seconds.
const (
	crashRounds = 5
	crashMaxOK  = 40               // the write killed is one of the first 40 or so
	crashWait   = 20 * time.Second // for the child's lines, the reopened store's writes
	crashAfter  = 99999            // the op number of the parent's poll after a round
)

func testCrash(t *testing.T, b Backend) {
	if b.Locate == nil {
		t.Skip("the backend gives no Locate: no crash case")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	s := open(t, b, Options{Now: fixed})
	loc := b.Locate(t, s)
	t.Cleanup(func() { s.Close() }) // the last reopened
	m := newCrashModel()
	unreported := 0 // rounds whose last write committed unreported
	within := 0     // kills that came inside a write
	for r := range crashRounds {
		// bbolt's file lock: the child holds the store alone.
		if err := s.Close(); err != nil {
			t.Fatalf("Close before round %d: %v", r, err)
		}
		target := rng.IntN(crashMaxOK)
		for rng.IntN(3) > 0 && crashKind(target) != opPoll {
			target++ // two kills in three in a poll, the write of many rows
		}
		reported, inside := runChild(t, exe, loc, r, target, rng)
		where := fmt.Sprintf("before write %d (%s) began", reported, crashKinds[crashKind(reported)])
		if inside {
			within++
			where = fmt.Sprintf("inside write %d (%s)", reported, crashKinds[crashKind(reported)])
		}
		s = b.Reopen(t, s, Options{Now: fixed})
		// The write after the last reported may have committed, its line
		// not printed; none after it began.
		atJ := m.clone()
		for j := range reported {
			atJ.apply(crashPlan(r, j))
		}
		next := atJ.clone()
		next.apply(crashPlan(r, reported))
		diffs := atJ.check(s)
		switch {
		case len(diffs) == 0:
			m = atJ
		case len(next.check(s)) == 0:
			m = next
			reported++
			unreported++
		default:
			t.Fatalf("round %d, killed after %d writes reported: the store is neither as after them:\n\t%s\nnor as after the next one:\n\t%s",
				r, reported, strings.Join(diffs, "\n\t"), strings.Join(next.check(s), "\n\t"))
		}
		// The reopened store writes (a lock the killed writer held is
		// gone), within a bound, and reads back what it wrote.
		after := crashOp{r: r, j: crashAfter, kind: opPoll, src: "after", fresh: []string{fmt.Sprintf("after-%d", r)}}
		ctx, cancel := context.WithTimeout(bg, crashWait)
		start := time.Now()
		err := after.do(ctx, s)
		cancel()
		if err != nil {
			t.Fatalf("round %d: SavePoll after the reopen: %v", r, err)
		}
		m.apply(after)
		if diffs := m.check(s); len(diffs) != 0 {
			t.Fatalf("round %d: after a SavePoll on the reopened store:\n\t%s", r, strings.Join(diffs, "\n\t"))
		}
		t.Logf("round %d: killed %s, %d writes committed; the reopened store wrote in %v", r, where, reported, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("of %d kills, %d came inside a write, %d after a write committed and before its line", crashRounds, within, unreported)
}

// runChild runs round r's writer at loc and kills it with SIGKILL once
// write target has begun, at a random moment within the time the last
// write of its kind took (so that the kill falls anywhere in it, its
// commit included, or just after). It returns how many writes the child
// reported done, and whether the next one had begun.
func runChild(t *testing.T, exe, loc string, r, target int, rng *rand.Rand) (int, bool) {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childStore+"="+loc, childRound+"="+strconv.Itoa(r))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	reported, opened, killed, inside := 0, false, false, false
	kill := func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		killed = true
	}
	timeout := time.After(crashWait)
	var due <-chan time.Time
	var began time.Time
	var lastTook time.Duration
	took := map[int]time.Duration{} // by kind of write, the last one's time
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				var ee *exec.ExitError
				if !killed || !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("round %d: the child ended (%v) before it was killed: %s", r, err, stderr.Bytes())
				}
				return reported, inside
			}
			switch {
			case l == "open":
				opened = true
			case l == "begin "+strconv.Itoa(reported):
				inside, began = true, time.Now()
				if reported == target {
					// Kill within the time this kind of write took last.
					d, ok := took[crashKind(reported)]
					if !ok {
						d = lastTook
					}
					due = time.After(time.Duration(rng.Int64N(int64(d)*11/10 + 1)))
				}
			case strings.HasPrefix(l, "ok "):
				if n, err := strconv.Atoi(l[3:]); err != nil || n != reported {
					kill()
					t.Fatalf("round %d: child's line %q, want ok %d", r, l, reported)
				}
				lastTook = time.Since(began)
				took[crashKind(reported)] = lastTook
				reported++
				inside = false
			default:
				kill()
				t.Fatalf("round %d: child's line %q", r, l)
			}
		case <-due:
			kill()
			due = nil
		case <-timeout:
			kill()
			t.Fatalf("round %d: no kill after %v (opened %v, %d writes reported): %s", r, crashWait, opened, reported, stderr.Bytes())
		}
	}
}

// testCancelledPoll cancels SavePolls of many items while they run, at
// random moments within one poll's time: each is whole or absent.
func testCancelledPoll(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const per, rounds = 60, 6
	start := time.Now()
	save(t, s, "m", poll("m", per))
	took := time.Since(start)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; one poll of %d items took %v", seed, per, took)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	cancelled := 0
	var srcs []string
	for r := range rounds {
		src := fmt.Sprintf("x%d", r)
		srcs = append(srcs, src)
		ctx, cancel := context.WithCancel(bg)
		delay := time.Duration(rng.Int64N(int64(took)*3/2 + 1))
		stop := time.AfterFunc(delay, cancel)
		c, err := s.SavePoll(ctx, src, poll(src, per), stateOf(src))
		stop.Stop()
		cancel()
		n := len(stored(t, s, src))
		st, stErr := s.State(bg, src)
		if err != nil {
			cancelled++
			if n != 0 || feed.ErrorCode(stErr) != feed.ENOTFOUND {
				t.Errorf("round %d: SavePoll failed (%v) after %v, and %d items and a state (ETag %s, %d items, %v) are stored", r, err, delay, n, st.ETag, st.Items, stErr)
			}
		} else if c.New != per || n != per || stErr != nil || st.Items != per {
			t.Errorf("round %d: SavePoll returned %+v, nil; %d items and a state of %d items (%v) are stored; want %d", r, c, n, st.Items, stErr, per)
		}
		if err != nil {
			// The source polls again as a whole.
			if c := save(t, s, src, poll(src, per)); c.New != per {
				t.Errorf("round %d: polling again after the cancel: %+v, want %d new", r, c, per)
			}
		}
	}
	checkSeqs(t, s, append(srcs, "m"))
	t.Logf("%d of %d polls cancelled before they committed", cancelled, rounds)
}

// testCancelledState cancels SaveStates (one row each, one statement for
// a database) while they run: a call that fails stored nothing, one that
// returned nil stored its state.
func testCancelledState(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const rounds = 40
	start := time.Now()
	for i := range 5 {
		if err := s.SaveState(bg, stateOf(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start) / 5
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; one SaveState took %v", seed, took)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	cancelled := 0
	for r := range rounds {
		src := fmt.Sprintf("x%02d", r)
		ctx, cancel := context.WithCancel(bg)
		delay := time.Duration(rng.Int64N(int64(took)*3/2 + 1))
		stop := time.AfterFunc(delay, cancel)
		err := s.SaveState(ctx, stateOf(src))
		stop.Stop()
		cancel()
		st, stErr := s.State(bg, src)
		switch {
		case err != nil:
			cancelled++
			if feed.ErrorCode(stErr) != feed.ENOTFOUND {
				t.Errorf("round %d: SaveState failed (%v) after %v, and its state is stored (ETag %s, %v)", r, err, delay, st.ETag, stErr)
			}
		case stErr != nil:
			t.Errorf("round %d: SaveState returned nil; State: %v", r, stErr)
		}
	}
	t.Logf("%d of %d SaveStates cancelled before they stored", cancelled, rounds)
}
