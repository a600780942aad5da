package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kpolicy/aggregator/internal/feed"
)

// DefaultConcurrency is the number of polls in flight when
// PollerOptions.Concurrency is zero.
const DefaultConcurrency = 8

// Parser turns a fetched body into items. internal/parse implements it.
type Parser interface {
	Parse(body []byte, contentType, feedURL, sourceID string) (feed.Parsed, error)
}

// SourceParser is a Parser that also applies a source's own settings (its
// identity policy) and stops when ctx is done. The poller uses
// ParseSourceContext when its Parser has it, with a context that ends after
// the client's Timeout; internal/parse implements it.
type SourceParser interface {
	ParseSourceContext(ctx context.Context, body []byte, contentType, feedURL string, src feed.Source) (feed.Parsed, error)
}

// Store keeps source state and items. internal/store implements it. Its
// errors name their step and source ("save poll SOURCE: …", "state
// SOURCE: …"), as a Parser's name theirs ("parse rss: …"): the poller
// adds only "poll SOURCE:" (and a parse error's URL), so that each step is
// said once.
type Store interface {
	// State returns the source's state, or an error whose feed.ErrorCode is
	// feed.ENOTFOUND when the source was never polled.
	State(ctx context.Context, sourceID string) (feed.SourceState, error)
	// SavePoll stores one successful poll's items and state together.
	SavePoll(ctx context.Context, sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error)
	// SaveState stores state alone (304, unchanged body, failure).
	SaveState(ctx context.Context, state feed.SourceState) error
	// MarkParsing sets the saved state's Parsing to at, before a parse; the
	// poll's outcome, saved with SavePoll or SaveState, clears it.
	MarkParsing(ctx context.Context, sourceID string, at time.Time) error
}

// soonStore is a Store that can save the state of a poll that changed
// nothing without waiting for it to be durable (store.Sources'
// SaveStateSoon: a crash may lose it, and the source is polled again
// sooner).
type soonStore interface {
	SaveStateSoon(ctx context.Context, state feed.SourceState) error
}

// saveUnchanged saves the state of a 304 or of a body identical to the
// last: with SaveStateSoon when the store has it, so that a refresh of
// unchanged sources does not wait for a commit per source.
func (p *Poller) saveUnchanged(ctx context.Context, st feed.SourceState) error {
	if s, ok := p.store.(soonStore); ok {
		return s.SaveStateSoon(ctx, st)
	}
	return p.store.SaveState(ctx, st)
}

// Result is the outcome of one poll of one source.
type Result struct {
	SourceID    string
	URL         string // the final URL, or the configured one when nothing answered
	Status      int    // 0 when no response was received
	NotModified bool
	Skipped     bool // 2xx with a body identical to the last one: not parsed
	Counts      feed.PollCounts
	Err         error
	Duration    time.Duration
	NextPoll    time.Time
	// Retired is set when the source answered 410 Gone (this poll or an
	// earlier one): it is no longer polled, and NextPoll is zero.
	Retired bool
	// Warning is a non-fatal note, as recorded on the source's state.
	Warning string
}

// PollerOptions configures a Poller. Zero fields take defaults.
type PollerOptions struct {
	Concurrency int              // polls in flight at once (DefaultConcurrency)
	Now         func() time.Time // clock (time.Now)
	// OnResult is called after every poll, from the goroutine that polled;
	// it may be called concurrently and must be safe for that. May be nil.
	OnResult    func(Result)
	MaxInterval time.Duration // cap for any delay (DefaultMaxInterval)
	// HostGap is the shortest time between the starts of two requests to
	// one host; 0 means no gap beyond one request at a time.
	HostGap time.Duration
	// Adaptive polls sources whose feed rarely changes less often: a
	// quarter of the time since it last changed, within [interval, MaxInterval].
	Adaptive bool
	// RedirectConfirmations is how many consecutive polls must see the same
	// permanent redirect before its target is polled instead
	// (DefaultRedirectConfirmations).
	RedirectConfirmations int
	// HideFuture leaves items dated more than FutureSlack ahead of Now out
	// of a poll until their date has come; when false they are dated Now.
	HideFuture bool
	// Locks serialise each source's polls, deliveries and state updates;
	// nil gives the Poller locks of its own.
	Locks *SourceLocks
	// Claims, when set, share Run's polling with other instances: each
	// due source is claimed before it is polled, its lease renewed every
	// Lease/3 while the poll runs and released when its outcome is saved
	// (see Run). Nil: this process is the only poller. Poll, Retry and
	// PollAll (staff's requests) never claim.
	Claims Claims
	// Lease is the lease Claims grant (DefaultLease); it sets how often a
	// poll in flight renews it.
	Lease time.Duration
}

// Poller polls sources with a Client, parses with a Parser and records with
// a Store. It is safe for concurrent use.
type Poller struct {
	client *Client
	parser Parser
	store  Store
	opts   PollerOptions
	sched  schedule
	gate   *gate
	locks  *SourceLocks
}

// NewPoller returns a Poller using c, p and s.
func NewPoller(c *Client, p Parser, s Store, o PollerOptions) *Poller {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultMaxInterval
	}
	if o.RedirectConfirmations <= 0 {
		o.RedirectConfirmations = DefaultRedirectConfirmations
	}
	if o.Locks == nil {
		o.Locks = NewSourceLocks()
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	return &Poller{client: c, parser: p, store: s, opts: o, sched: newSchedule(o.MaxInterval),
		gate: newPacedGate(o.Concurrency, o.HostGap), locks: o.Locks}
}

// Poll polls src once, whether or not it is disabled, and records the
// outcome on its state. A 2xx is parsed and stored with its validators
// verbatim, or, when the body is byte-identical to the last one, only the
// state is refreshed and Result.Skipped is set. A 304 refreshes the state and
// keeps the items. Anything else, including a parse error, is a failure
// recorded with LastError, Errors+1 and a backed-off NextPoll (later still
// when a 429 or 503 sent Retry-After). Success resets Errors.
//
// The URL requested is the configured one, or the target of a permanent
// redirect once RedirectConfirmations consecutive polls have seen it, or the
// feed its HTML page announced (autodiscovery: see discovery; one hop a
// Poll, the discovered URL kept in SourceState.DiscoveredURL and forgotten
// on 404 or 410). A 410 Gone retires the source: later Polls make no
// request and return Result.Retired, until the configured URL changes.
//
// Poll first takes the source's lock (SourceLocks: no delivery or state
// update of the source runs meanwhile), then waits its turn: across all
// callers the Poller never has more than Concurrency polls in flight, nor
// two on one host, and spaces requests to one host by HostGap.
//
// While the source's WebSub subscription is active (SourceState.Push) a
// successful poll schedules the next at MaxInterval, or when the lease
// ends if that is sooner: the hub pushes, polling is the fallback.
//
// A new body is parsed within the client's Timeout, and a parse that runs
// longer than parseMarkDelay is marked on the source's state
// (SourceState.Parsing) until its outcome is saved: a process that dies
// while parsing (a crash no recover can catch, a kill) leaves that mark,
// and the next Poll of the source, in whatever process, records the
// unfinished attempt as a failure and backs off instead of fetching, so one
// hostile body cannot crash-loop the service.
//
// Two outcomes are not recorded on the source: a state that cannot be read
// (the store is at fault) and ctx ending while Poll waits its turn or
// fetches (the caller is). Result.Err and Result.NextPoll are set either way. Poll never
// panics: a panic while polling becomes Result.Err.
func (p *Poller) Poll(ctx context.Context, src feed.Source) Result {
	return p.pollSource(ctx, src, false)
}

// Retry is Poll with the source's backoff reset: its consecutive errors
// are counted afresh, so a failure is backed off as a first one. It is for
// a poll staff asked for (the fetch command, the admin API) and for a
// restart's retry of failed sources (Run); the source's NextPoll was never
// a condition of a Poll.
func (p *Poller) Retry(ctx context.Context, src feed.Source) Result {
	return p.pollSource(ctx, src, true)
}

func (p *Poller) pollSource(ctx context.Context, src feed.Source, reset bool) (res Result) {
	res = Result{SourceID: src.ID, URL: src.URL}
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Errorf("poll %s: panic: %v", src.ID, r)
			res.NextPoll = p.sched.afterFailure(p.opts.Now(), src.Interval, 1)
		}
		if p.opts.OnResult != nil {
			p.opts.OnResult(res)
		}
	}()

	unlock, err := p.locks.lock(ctx, src.ID)
	if err != nil {
		res.Err = fmt.Errorf("poll %s: %w", src.ID, err)
		res.NextPoll = p.sched.afterFailure(p.opts.Now(), src.Interval, 1)
		return res
	}
	defer unlock()
	prev, err := p.state(ctx, src)
	if err != nil {
		res.Err = fmt.Errorf("poll %s: %w", src.ID, err) // the store says "state SOURCE: …"
		res.NextPoll = p.sched.afterFailure(p.opts.Now(), src.Interval, 1)
		return res
	}
	if prev.Retired {
		res.Retired, res.Status, res.Warning = true, prev.LastStatus, prev.Warning
		return res
	}
	if reset {
		prev.Errors = 0
	}
	target := prev.PollURL(src.URL)
	res.URL = target
	if !prev.Parsing.IsZero() {
		err := fmt.Errorf("%w (it began parsing at %s)", ErrUnfinishedPoll, prev.Parsing.UTC().Format(time.RFC3339))
		p.fail(context.WithoutCancel(ctx), src, prev, target, nil, err, p.opts.Now(), &res)
		return res
	}

	start := p.opts.Now()
	var d discovery
	for {
		leave, err := p.gate.enter(ctx, hostKey(target))
		if err != nil {
			res.Err = fmt.Errorf("poll %s: %w", src.ID, err)
			res.NextPoll = p.sched.afterFailure(p.opts.Now(), src.Interval, 1)
			return res
		}
		next := p.poll(ctx, src, prev, target, &d, &res)
		leave()
		if next == nil {
			break
		}
		prev, target = next.state, next.url
		res.URL = target
	}
	res.Duration = p.opts.Now().Sub(start)
	return res
}

// state loads src's state for a poll: a fresh one when src was never polled,
// and one started afresh (not retired, no adopted redirect, no validators)
// when src's configured URL is not the one the state was written for.
func (p *Poller) state(ctx context.Context, src feed.Source) (feed.SourceState, error) {
	prev, err := p.store.State(ctx, src.ID)
	switch {
	case feed.ErrorCode(err) == feed.ENOTFOUND:
		prev = feed.SourceState{}
	case err != nil:
		return prev, err
	}
	prev.SourceID = src.ID
	if prev.ConfiguredURL != "" && prev.ConfiguredURL != src.URL {
		prev.Retired, prev.AdoptedURL, prev.DiscoveredURL = false, "", ""
		prev.RedirectTarget, prev.RedirectCount = "", 0
		prev.ETag, prev.LastModified, prev.BodyHash = "", "", ""
		prev.Errors, prev.Warning = 0, ""
	}
	prev.ConfiguredURL = src.URL
	return prev, nil
}

// poll makes one request of a Poll and records its outcome, or returns
// the request to make next instead (autodiscovery, see discovery) without
// recording anything.
func (p *Poller) poll(ctx context.Context, src feed.Source, prev feed.SourceState, target string, d *discovery, res *Result) *followUp {
	// What was fetched is recorded even if the caller gives up meanwhile.
	wctx := context.WithoutCancel(ctx)
	d.visited = append(d.visited, target)
	resp, err := p.get(ctx, Request{URL: target, ETag: prev.ETag, LastModified: prev.LastModified})
	now := p.opts.Now()
	if resp != nil {
		res.Status, res.URL = resp.Status, resp.URL
		if resp.Status == http.StatusTooManyRequests {
			p.gate.refused(hostKey(target), src.ID, retryAfter(resp.Header, time.Now()))
		} else {
			p.gate.answered(hostKey(target), src.ID)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			res.Err = fmt.Errorf("poll %s: %w", src.ID, err)
			res.NextPoll = p.sched.afterFailure(now, src.Interval, 1)
			return nil
		}
		if next := d.rediscover(src, prev, target, resp); next != nil {
			return next
		}
		p.fail(wctx, src, d.onFailure(prev), target, resp, d.wrap(err), now, res)
		return nil
	}

	st := prev
	if resp.NotModified {
		// A 304 may carry fresh validators; absent ones keep the old.
		if resp.ETag != "" {
			st.ETag = resp.ETag
		}
		if resp.LastModified != "" {
			st.LastModified = resp.LastModified
		}
		p.succeed(src, &st, resp, now, res)
		d.succeeded(&st, target, res)
		res.NotModified = true
		if err := p.saveUnchanged(wctx, st); err != nil {
			p.fail(wctx, src, d.onFailure(prev), target, resp, d.wrap(err), now, res) // the store says "save state SOURCE: …"
		}
		return nil
	}

	hash := bodyHash(resp.Body, src)
	if prev.BodyHash != "" && hash == prev.BodyHash {
		st.ETag, st.LastModified = resp.ETag, resp.LastModified
		p.succeed(src, &st, resp, now, res)
		d.succeeded(&st, target, res)
		res.Skipped = true
		if err := p.saveUnchanged(wctx, st); err != nil {
			p.fail(wctx, src, d.onFailure(prev), target, resp, d.wrap(err), now, res) // the store says "save state SOURCE: …"
		}
		return nil
	}

	counts, warning, err := p.ingest(ctx, wctx, src, st, resp, now, func(st *feed.SourceState) {
		st.ETag, st.LastModified, st.BodyHash = resp.ETag, resp.LastModified, hash
		p.succeed(src, st, resp, now, res)
		d.succeeded(st, target, res)
	})
	if err != nil {
		next, err := d.follow(prev, resp, err)
		if next != nil {
			return next
		}
		p.fail(wctx, src, d.onFailure(prev), target, resp, d.wrap(err), now, res) // the error names its step: fail adds only the poll
		return nil
	}
	res.Counts, res.Warning = counts, warning
	return nil
}

// bodyHash is the hex SHA-256 by which an unchanged body is skipped: of
// the body, and of the source's parse settings when it has any (scrape
// selectors), so that edited settings are applied to an unchanged page.
func bodyHash(body []byte, src feed.Source) string {
	h := sha256.New()
	h.Write(body)
	if k := src.ParseSettings(); k != "" {
		h.Write([]byte{0})
		h.Write([]byte(k))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ttl converts a feed's <ttl> in minutes, clamped to a year so a hostile
// value cannot overflow; the schedule caps it further.
func ttl(minutes int) time.Duration {
	return time.Duration(min(max(minutes, 0), 365*24*60)) * time.Minute
}

// get calls the client, turning a panic into an error so it is recorded on
// the source like any other failure.
func (p *Poller) get(ctx context.Context, r Request) (resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, fmt.Errorf("fetch %s: panic: %v", r.URL, v)
		}
	}()
	return p.client.Get(ctx, r)
}

// parseMarkDelay is how long a parse runs before the poller marks it on
// the source's state. Nearly every parse ends sooner and costs no write
// (a mark for every changed body made storing a poll half as slow again:
// bbolt has one writer); what kills a process while parsing (a stack
// overflow, memory exhausted) takes longer than this to do it.
const parseMarkDelay = 100 * time.Millisecond

// markWhileParsing saves the mark of a parse that began at at
// (SourceState.Parsing) once the parse has run for parseMarkDelay, so that
// if the process dies in it the next poll finds the mark (see Poll). The
// returned function, called when the parse is over, cancels the mark or
// waits for its write to end, so that the poll's outcome, saved after it,
// clears it. A mark that cannot be saved is left out: the outcome is saved
// the same way next.
func (p *Poller) markWhileParsing(ctx context.Context, sourceID string, at time.Time) (done func()) {
	written := make(chan struct{})
	t := time.AfterFunc(parseMarkDelay, func() {
		defer close(written)
		_ = p.store.MarkParsing(ctx, sourceID, at) // best effort; see above
	})
	return func() {
		if !t.Stop() {
			<-written
		}
	}
}

// parse calls the parser within the client's Timeout, turning a panic on
// hostile input into an error.
func (p *Poller) parse(ctx context.Context, resp *Response, src feed.Source) (parsed feed.Parsed, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("parse %s: panic: %v", resp.URL, v)
		}
	}()
	limit := p.client.Timeout()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if sp, ok := p.parser.(SourceParser); ok {
		parsed, err = sp.ParseSourceContext(ctx, resp.Body, resp.ContentType, resp.URL, src)
	} else {
		parsed, err = p.parser.Parse(resp.Body, resp.ContentType, resp.URL, src.ID)
	}
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		return parsed, fmt.Errorf("parse %s: stopped after the fetch timeout (%s): %w", resp.URL, limit, err)
	case err != nil: // the parser's error names its step ("parse rss: …")
		return parsed, fmt.Errorf("%s: %w", resp.URL, err)
	}
	return parsed, nil
}

// succeed marks st as successfully polled at now.
func (p *Poller) succeed(src feed.Source, st *feed.SourceState, resp *Response, now time.Time, res *Result) {
	st.URL = resp.URL
	st.LastStatus = resp.Status
	st.LastPoll, st.LastSuccess = now, now
	st.LastError, st.Errors, st.Warning = "", 0, ""
	if st.LastChange.IsZero() {
		st.LastChange = now
	}
	p.noteRedirect(st, resp)
	interval := src.Interval
	if p.opts.Adaptive {
		interval = p.sched.adaptive(interval, st.LastChange, now)
	}
	pushed := st.Push.Active(now)
	if pushed {
		// The hub pushes: polling is a fallback, at the longest interval,
		// and due again when the lease ends unrenewed.
		interval = p.opts.MaxInterval
	}
	st.NextPoll = p.sched.afterSuccess(now, interval, st.TTL, resp.Header)
	if pushed && st.NextPoll.After(st.Push.Expires) {
		st.NextPoll = st.Push.Expires
	}
	res.NextPoll, res.Warning = st.NextPoll, st.Warning
}

// fail records err on the source's previous state and saves it; a failure
// to save is joined to err. A 410 Gone retires the source.
func (p *Poller) fail(ctx context.Context, src feed.Source, st feed.SourceState, target string, resp *Response, err error, now time.Time, res *Result) {
	st.LastStatus = 0
	st.URL = target
	var header http.Header
	if resp != nil {
		st.LastStatus, st.URL, header = resp.Status, resp.URL, resp.Header
	}
	st.LastPoll = now
	st.Parsing = time.Time{}
	st.LastError = truncate(err.Error(), maxLastError)
	st.Errors++
	st.Warning = ""
	st.NextPoll = p.sched.afterRefusal(now, src.Interval, st.Errors, st.LastStatus, header)
	if wait := retryAfter(header, now); wait > 0 && (st.LastStatus == http.StatusTooManyRequests || st.LastStatus == http.StatusServiceUnavailable) {
		st.Warning = "asked to wait (Retry-After) until " + now.Add(wait).UTC().Format(time.RFC3339)
	}
	if st.LastStatus == http.StatusGone && target == st.PollURL(src.URL) {
		// Only the URL the source stands for retires it: not a feed that
		// its page announced (see discovery).
		st.Retired, st.NextPoll = true, time.Time{}
		st.Warning = "retired: the origin answered 410 Gone; change the source's url in feeds.yaml to poll it again"
		res.Retired = true
	}
	res.NextPoll, res.Warning = st.NextPoll, st.Warning
	res.Err = fmt.Errorf("poll %s: %w", src.ID, err)
	if serr := p.store.SaveState(ctx, st); serr != nil {
		res.Err = errors.Join(res.Err, fmt.Errorf("poll %s: record failure: %w", src.ID, serr))
	}
}

// PollAll polls every enabled source once, each with its backoff reset
// (Retry), and returns their results in the order of sources (disabled sources have none; a retired one has a result
// with Retired set and no request behind it). Sources on one host are
// polled one after another; different hosts proceed in parallel, at most
// Concurrency at a time. A failing source does not stop the others.
//
// With PollerOptions.Claims each poll is claimed as Run claims it (see
// claimNow), so a poll staff asked for on one instance never runs beside
// another instance's poll of the source or its host.
func (p *Poller) PollAll(ctx context.Context, sources []feed.Source) []Result {
	var enabled []feed.Source
	for _, s := range sources {
		if !s.Disabled {
			enabled = append(enabled, s)
		}
	}
	results := make([]Result, len(enabled))

	// Group by host, keeping source order within and across groups.
	var groups [][]int
	byHost := map[string]int{}
	for i, s := range enabled {
		h := hostKey(s.URL)
		g, ok := byHost[h]
		if !ok {
			g = len(groups)
			byHost[h] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}

	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(p.opts.Concurrency, len(groups)) {
		wg.Go(func() {
			for g := range work {
				for _, i := range g {
					if err := ctx.Err(); err != nil {
						results[i] = Result{SourceID: enabled[i].ID, URL: enabled[i].URL,
							Err: fmt.Errorf("poll %s: %w", enabled[i].ID, err)}
						continue
					}
					results[i] = p.claimNow(ctx, enabled[i])
				}
			}
		})
	}
	for _, g := range groups {
		work <- g
	}
	close(work)
	wg.Wait()
	return results
}

// maxClaimTurns bounds the claims of one staff poll that another
// instance's fresh poll of the source answers (each such answer carries
// the NextPoll to claim with next).
const maxClaimTurns = 3

// staffClaimWait is the longest a staff poll waits between two claims of a
// source another instance holds: it learns of a release within it.
const staffClaimWait = time.Second

// claimNow is Retry under the source's lease when the Poller has Claims:
// it claims the source whatever its schedule (an answer that another
// instance polled it since is claimed again at once, seeing that poll's
// NextPoll), waits while another instance holds the source or its host
// (claiming again after the answer's Wait, at most staffClaimWait, until
// ctx ends), then polls renewing the lease and releases it. A claim that fails is the
// poll's error, nothing recorded on the source.
func (p *Poller) claimNow(ctx context.Context, src feed.Source) Result {
	if p.opts.Claims == nil {
		return p.Retry(ctx, src)
	}
	host := hostKey(src.URL)
	if st, err := p.state(ctx, src); err == nil && st.Polled() {
		host = hostKey(st.PollURL(src.URL))
	}
	var seen time.Time
	for turns := 0; ; {
		c := p.claim(ctx, src.ID, host, seen)
		switch {
		case c.err != nil:
			return Result{SourceID: src.ID, URL: src.URL, Err: c.err}
		case c.Held:
			return p.leased(ctx, src.ID, host, func() Result { return p.pollSource(ctx, src, true) })
		case c.Wait == 0:
			if turns++; turns > maxClaimTurns {
				return Result{SourceID: src.ID, URL: src.URL,
					Err: fmt.Errorf("poll %s: claim: other instances polled it %d times in a row meanwhile", src.ID, turns)}
			}
			seen = c.NextPoll
			continue
		}
		t := time.NewTimer(min(c.Wait, staffClaimWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return Result{SourceID: src.ID, URL: src.URL, Err: fmt.Errorf("poll %s: waiting for another instance's lease: %w", src.ID, ctx.Err())}
		case <-t.C:
		}
	}
}

// hostKey is the unit of politeness: the lower-cased host name of u, so
// that one origin never sees two of our requests at once. An unparsable URL
// is its own key (its poll will fail on its own).
func hostKey(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Hostname() == "" {
		return u
	}
	return strings.ToLower(pu.Hostname())
}

// Run polls sources until ctx is done. Retired sources are left alone.
// Enabled sources never polled before
// go first, immediately, in source order; then the sources whose last poll
// failed for want of an answer, at once and with their backoff reset
// (Retry; see retryAtStart for those left to their backoff); then each source is
// polled when the NextPoll recorded for it comes due (earliest first). At most Concurrency
// polls are in flight, and at most one per host: a due source whose host is
// busy waits for that host's poll to finish. A failing source is recorded
// and rescheduled with backoff; it never stops the others.
//
// With PollerOptions.Claims, a due source is claimed first (see Claims).
// One that another instance holds, or whose host is busy or resting on
// another instance, is due again when the claim's answer says, keeping
// its place (a fresh source or a restart's retry stays one); one that
// another instance polled since this Run read it is due half a lease
// after the NextPoll that instance recorded, which the claim's answer
// carries (Run reads no state to learn it): the instance that polled a
// source last claims it first, so instances rarely contend for a source,
// and one that dies has its sources taken within half a lease of their
// due time (a poll in flight: when its lease expires). A claim that fails (the store is unreachable) is a
// failed poll of the source, not recorded on it (as an unreadable state),
// retried after a third of the lease.
//
// When ctx is cancelled Run starts nothing new, lets the polls in flight
// finish and be recorded (each bounded by the client's Timeout), and returns
// nil. Run sleeps with the time package's timers; a test that fakes
// PollerOptions.Now should run it under testing/synctest.
func (p *Poller) Run(ctx context.Context, sources []feed.Source) error {
	type done struct {
		e        *runEntry
		res      Result
		deferred *claimed // not polled: the claim was refused
	}

	now := p.opts.Now()
	q := newRunQueue()
	for i, s := range sources {
		if s.Disabled {
			continue
		}
		e := &runEntry{src: s, host: hostKey(s.URL), due: now, order: i}
		// An unreadable state is treated as never polled: Poll will meet the
		// error again and report it through Result.Err.
		if st, err := p.state(ctx, s); err == nil && st.Retired {
			continue
		} else if err == nil && st.Polled() {
			e.due, e.seen = st.NextPoll, st.NextPoll
			e.host = hostKey(st.PollURL(s.URL))
			if retryAtStart(st) {
				e.due, e.retry = now, true
			}
		} else {
			e.fresh = true
		}
		q.add(e)
	}

	// Polls in flight outlive a cancelled ctx so their outcome is recorded;
	// the client's Timeout bounds them.
	pollCtx := context.WithoutCancel(ctx)
	finished := make(chan done)
	inflight := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	complete := func(d done) {
		e := d.e
		q.done(e)
		inflight--
		defer q.add(e)
		if c := d.deferred; c != nil {
			now := p.opts.Now()
			switch {
			case c.Wait > 0:
				e.due = now.Add(c.Wait) // fresh and retry keep their place
				if c.Host {
					q.hostWait[e.host] = e.due
				}
			default:
				// Another instance polled it: due when it said, plus half
				// a lease, so that the instance that polled it last (which
				// knows its NextPoll first) claims it first, uncontended,
				// and this one only if that one did not (it died). Not a
				// spin: the next claim sees what this one answered.
				e.seen, e.due, e.fresh, e.retry = c.NextPoll, c.NextPoll.Add(p.opts.Lease/2), false, false
				if c.NextPoll.IsZero() {
					e.due = now.Add(orFallback(e.src.Interval))
				}
			}
			return
		}
		e.fresh, e.retry = false, false
		e.seen = d.res.NextPoll
		if d.res.Retired {
			e.gone = true
			return
		}
		e.due = d.res.NextPoll
		if now := p.opts.Now(); !e.due.After(now) {
			// Never spin on a source: a missing or past NextPoll means
			// "one interval from now".
			e.due = now.Add(orFallback(e.src.Interval))
		}
	}

	for {
		if ctx.Err() != nil {
			if inflight == 0 {
				return nil
			}
			complete(<-finished)
			continue
		}

		now := p.opts.Now()
		for inflight < p.opts.Concurrency {
			e := q.next(now)
			if e == nil {
				break
			}
			inflight++
			retry, src, host, seen := e.retry, e.src, e.host, e.seen
			go func() {
				c := p.claim(pollCtx, src.ID, host, seen)
				switch {
				case c.err != nil:
					wait := p.opts.Lease / 3
					if p.opts.OnResult != nil {
						p.opts.OnResult(Result{SourceID: src.ID, URL: src.URL, Err: c.err, NextPoll: p.opts.Now().Add(wait)})
					}
					finished <- done{e: e, deferred: &claimed{Claim: Claim{Wait: wait}}}
				case !c.Held:
					finished <- done{e: e, deferred: &c}
				default:
					finished <- done{e: e, res: p.leased(pollCtx, src.ID, host, func() Result {
						return p.pollSource(pollCtx, src, retry)
					})}
				}
			}()
		}

		// Sleep until the earliest idle entry is due. One that is already
		// due but held back by its host or the concurrency limit is started
		// when a poll finishes.
		var tc <-chan time.Time
		if wake := q.wake(now); !wake.IsZero() {
			timer.Reset(wake.Sub(now))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
		case d := <-finished:
			complete(d)
		case <-tc:
		}
		timer.Stop()
	}
}

// retryAtStart reports whether Run polls a source whose state is st at
// once: its last poll failed for want of an answer (no response, a 4xx or
// 5xx: a network or server problem someone may have fixed), not with a 429
// or 503, whose Retry-After the schedule honours, and not on a body the
// origin did send (a 2xx refused: not a feed, too large, too deep) or a
// parse the process died in: those would fail again the same way, and a
// hostile body must not be fetched again on every restart.
func retryAtStart(st feed.SourceState) bool {
	switch {
	case st.Errors == 0:
		return false
	case st.LastStatus == http.StatusTooManyRequests || st.LastStatus == http.StatusServiceUnavailable:
		return false
	case st.LastStatus >= 200 && st.LastStatus < 300:
		return false
	case strings.HasPrefix(st.LastError, ErrUnfinishedPoll.Error()):
		return false
	}
	return true
}

// maxLastError bounds the error text kept on a source: a hostile origin
// chooses part of it (the status line).
const maxLastError = 1 << 10

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
