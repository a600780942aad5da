package fetch

import (
	"context"
	"fmt"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Deliver stores body, a document the source's WebSub hub pushed, as a
// poll that fetched it would: through the same parse (the source's
// identity policy, the client's Timeout, a panic turned into an error, the
// parsing mark) and the same SavePoll, under the source's lock (see
// SourceLocks). It records the delivery (Push.LastDelivery), the feed's
// title, links and last change on the state, and leaves what belongs to
// polling alone: validators, body hash, schedule, errors. A body that does
// not parse, or that the store refuses, changes nothing stored and is
// Result.Err. It does not call OnResult: the caller reports a delivery.
func (p *Poller) Deliver(ctx context.Context, src feed.Source, body []byte, contentType string) (res Result) {
	res = Result{SourceID: src.ID, URL: src.URL, Status: 200}
	defer func() {
		if r := recover(); r != nil {
			res.Err = fmt.Errorf("push %s: panic: %v", src.ID, r)
		}
	}()
	unlock, err := p.locks.lock(ctx, src.ID)
	if err != nil {
		res.Err = fmt.Errorf("push %s: %w", src.ID, err)
		return res
	}
	defer unlock()
	prev, err := p.state(ctx, src)
	if err != nil {
		res.Err = fmt.Errorf("push %s: %w", src.ID, err)
		return res
	}
	if !prev.Parsing.IsZero() {
		// The next poll records the unfinished parse (see Poll); this body
		// waits for it rather than clear the mark.
		res.Err = fmt.Errorf("push %s: %w", src.ID, ErrUnfinishedPoll)
		return res
	}
	start := p.opts.Now()
	if prev.Push.Topic != "" {
		res.URL = prev.Push.Topic
	}
	resp := &Response{URL: res.URL, Status: 200, Body: body, ContentType: contentType}
	counts, warning, err := p.ingest(ctx, context.WithoutCancel(ctx), src, prev, resp, start, func(st *feed.SourceState) {
		st.Push.LastDelivery = start
	})
	res.Duration = p.opts.Now().Sub(start)
	if err != nil {
		res.Err = fmt.Errorf("push %s: %w", src.ID, err)
		return res
	}
	res.Counts, res.Warning = counts, warning
	return res
}

// UpdateState applies change to sourceID's saved state (a fresh one when
// the source was never polled) under the source's lock and saves it when
// change returns true: the way the WebSub subscriber records a
// subscription without saving over a poll in flight. It returns ctx's
// error while waiting, the store's, or nil.
func (p *Poller) UpdateState(ctx context.Context, sourceID string, change func(*feed.SourceState) bool) error {
	unlock, err := p.locks.lock(ctx, sourceID)
	if err != nil {
		return fmt.Errorf("update state %s: %w", sourceID, err)
	}
	defer unlock()
	st, err := p.store.State(ctx, sourceID)
	switch {
	case feed.ErrorCode(err) == feed.ENOTFOUND:
		st = feed.SourceState{SourceID: sourceID}
	case err != nil:
		return fmt.Errorf("update state: %w", err) // the store says "state SOURCE: …"
	}
	if !change(&st) {
		return nil
	}
	return p.store.SaveState(ctx, st) // the store says "save state SOURCE: …"
}

// ingest parses resp's body for src and saves its items with st: the one
// path by which a poll and a pushed delivery store items, so identity,
// dedupe, future dates and stories are decided alike. The state takes the
// feed's own title, links, TTL and hub; done then applies what only the
// caller knows (a poll's validators and schedule). It returns what SavePoll
// counted and the state's warning, or the parse's or the store's error, in
// which case nothing was stored.
func (p *Poller) ingest(ctx, wctx context.Context, src feed.Source, st feed.SourceState, resp *Response, now time.Time, done func(*feed.SourceState)) (feed.PollCounts, string, error) {
	unmark := p.markWhileParsing(wctx, src.ID, now)
	parsed, err := p.parse(ctx, resp, src)
	unmark()
	if err != nil {
		return feed.PollCounts{}, "", err
	}
	st.Title, st.Link = parsed.Title, parsed.Link
	st.Hub, st.Self = parsed.Hub, parsed.Self
	st.TTL = ttl(parsed.TTL)
	st.LastChange = now // a new body: the feed changed
	st.Identity = src.Identity
	done(&st)
	if parsed.Warning != "" { // advice about the feed itself, after the caller's notes
		if st.Warning != "" {
			st.Warning += "; "
		}
		st.Warning += parsed.Warning
	}
	items, hidden := futureDates(parsed.Items, now, p.opts.HideFuture)
	if hidden > 0 {
		// The same body must be parsed again once their date has come:
		// keep no validator or hash that would let the next poll skip it.
		st.ETag, st.LastModified, st.BodyHash = "", "", ""
	}
	// On error nothing was stored, so the old validators and hash stay:
	// the next poll fetches and parses the body again. The store's error
	// names the step ("save poll SOURCE: …").
	counts, err := p.store.SavePoll(wctx, src.ID, items, st)
	return counts, st.Warning, err
}
