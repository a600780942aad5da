package websub

import (
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// job is one delivery to a subscriber (target is its callback) or one ping
// of an external hub (ping set, target is the hub), of topic.
type job struct {
	topic, target string
	ping          bool
}

// queued is a job with the subscription it delivers to (zero for a ping)
// and the attempts made so far.
type queued struct {
	job
	sub     feed.Subscription
	attempt int
}

// enqueue queues q for a worker unless its job is pending already (the
// pending delivery will send the document current when it runs).
func (h *Hub) enqueue(q queued) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.pending[q.job] {
		h.enqueueLocked(q)
	}
}

// enqueueLocked queues q; past Queue deliveries it is dropped and logged.
// h.mu is held.
func (h *Hub) enqueueLocked(q queued) {
	if h.closed {
		return
	}
	select {
	case h.queue <- q:
		h.pending[q.job] = true
	default:
		delete(h.pending, q.job)
		h.o.Logger.Warn("websub delivery dropped: queue full", "topic", q.topic, "target", q.target, "queue", cap(h.queue))
	}
}

// work runs queued jobs until the hub closes.
func (h *Hub) work() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case q := <-h.queue:
			h.mu.Lock()
			delete(h.pending, q.job) // a change from now on queues it again
			h.mu.Unlock()
			h.run(q)
		}
	}
}

// run makes one attempt at q and, when it fails with attempts left,
// schedules the next after a backoff that is 4 times longer each time
// (Backoff first). A timer waits, not a goroutine; a change meanwhile
// does not queue the job again, as the retry sends the current document.
func (h *Hub) run(q queued) {
	var err error
	if q.ping {
		err = h.ping(q.job)
	} else {
		err = h.deliver(q.sub)
	}
	if err == nil || h.ctx.Err() != nil {
		return
	}
	if q.attempt >= h.o.Retries {
		h.o.Logger.Warn("websub delivery failed", "topic", q.topic, "target", q.target, "attempts", q.attempt+1, "err", err)
		return
	}
	wait := h.o.Backoff
	for range q.attempt {
		wait *= 4
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.pending[q.job] {
		return // closing, or a newer change queued it already
	}
	h.pending[q.job] = true
	h.retries[q.job] = time.AfterFunc(wait, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.retries, q.job)
		delete(h.pending, q.job)
		q.attempt++
		h.enqueueLocked(q)
	})
}
