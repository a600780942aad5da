package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/kpolicy/aggregator/internal/feed"
)

// announcer is the parse error of an HTML page that announces feeds
// (internal/parse's *NotFeedError): AnnouncedFeed is the absolute URL of
// the best of them, "" when the page announces none.
type announcer interface{ AnnouncedFeed() string }

// discovery is what one Poll has done about autodiscovery. A source whose
// URL answers an HTML page that announces feeds is followed to the best one
// (one hop a Poll), whose URL is kept on the source's state
// (SourceState.DiscoveredURL) and polled from then on, with conditional
// GETs of its own. A discovered feed that answers 404 or 410 is forgotten
// and the configured page read again, once a Poll. A page announcing a URL
// this Poll already requested is a loop, and stops. Every request goes
// through the Client and its guards (private addresses, redirect limit,
// body cap) and waits its turn at the gate for its own host; a Poll makes at
// most three (a lost feed, its page, the new feed).
type discovery struct {
	visited []string // URLs requested by this Poll, in order
	page    string   // the page followed to a feed by this Poll; "" if none
	lost    string   // the discovered feed that answered 404/410 this Poll; "" if none
}

// followUp is the next request of a Poll and the state it starts from.
type followUp struct {
	url   string
	state feed.SourceState
}

// follow returns the request that follows an HTML page to the feed it
// announces, when err is the parse error of such a page and this Poll may
// follow it; otherwise nil and err, saying why a page was not followed.
func (d *discovery) follow(prev feed.SourceState, resp *Response, err error) (*followUp, error) {
	var a announcer
	if !errors.As(err, &a) || a.AnnouncedFeed() == "" {
		return nil, err
	}
	next := a.AnnouncedFeed()
	switch {
	case next == d.lost:
		return nil, fmt.Errorf("%w; not followed: the page still announces %s, which is gone", err, next)
	case next == resp.URL || slices.Contains(d.visited, next):
		return nil, fmt.Errorf("%w; not followed: this poll already requested %s (a discovery loop)", err, next)
	case d.page != "":
		return nil, fmt.Errorf("%w; not followed: one discovery hop a poll", err)
	}
	d.page = resp.URL
	st := prev
	st.DiscoveredURL = next
	forgetURLState(&st)
	return &followUp{url: next, state: st}, nil
}

// rediscover returns the request of the configured page again when the
// discovered feed (or its adopted redirect) answered 404 or 410, once a
// Poll; otherwise nil.
func (d *discovery) rediscover(src feed.Source, prev feed.SourceState, target string, resp *Response) *followUp {
	if resp == nil || (resp.Status != http.StatusNotFound && resp.Status != http.StatusGone) ||
		prev.DiscoveredURL == "" || d.page != "" || d.lost != "" || target == src.URL {
		return nil
	}
	d.lost = target
	st := prev
	st.DiscoveredURL = ""
	forgetURLState(&st)
	return &followUp{url: src.URL, state: st}
}

// forgetURLState clears what belonged to the URL polled before: its
// validators, body hash and redirects.
func forgetURLState(st *feed.SourceState) {
	st.AdoptedURL, st.RedirectTarget, st.RedirectCount = "", "", 0
	st.ETag, st.LastModified, st.BodyHash = "", "", ""
}

// onFailure is the state a failure is recorded on: a feed found by this
// Poll is kept only once it has answered as a feed.
func (d *discovery) onFailure(st feed.SourceState) feed.SourceState {
	if d.page != "" {
		st.DiscoveredURL = ""
	}
	return st
}

// wrap says what discovery did before err.
func (d *discovery) wrap(err error) error {
	switch {
	case d.page != "" && d.lost != "":
		return fmt.Errorf("the discovered feed %s is gone; discovered on %s: %w", d.lost, d.page, err)
	case d.page != "":
		return fmt.Errorf("discovered on %s: %w", d.page, err)
	case d.lost != "":
		return fmt.Errorf("the discovered feed %s is gone: %w", d.lost, err)
	}
	return err
}

// succeeded notes on a successful poll's state what discovery did.
func (d *discovery) succeeded(st *feed.SourceState, target string, res *Result) {
	note := ""
	switch {
	case d.page != "":
		note = "discovered: " + d.page + " announces the feed " + target + ", polled from now on"
	case d.lost != "":
		note = "the discovered feed " + d.lost + " is gone; the configured URL is a feed now"
	}
	if d.page != "" && d.lost != "" {
		note = "the discovered feed " + d.lost + " is gone; " + note
	}
	if note == "" {
		return
	}
	if st.Warning != "" {
		st.Warning += "; "
	}
	st.Warning += note
	res.Warning = st.Warning
}
