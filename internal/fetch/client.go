// Package fetch owns the aggregator's outgoing HTTP: a polite, bounded client
// for polling feed sources (conditional GET, time and size limits, redirect
// limit, refusal of non-public addresses) and the poller that drives
// fetch → parse → store on a schedule with backoff and per-host pacing.
//
// It must not import internal/parse or internal/store: it declares the small
// Parser and Store interfaces it needs and cmd/aggregator wires the real ones.
// It never uses http.DefaultClient, never keeps cookies and never alters the
// URLs it is given.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Defaults used by NewClient for zero Options fields.
const (
	DefaultUserAgent    = "kpolicy-aggregator/1.0 (feed poller)"
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBody      = 10 << 20 // 10 MiB
	DefaultMaxRedirects = 5
)

// accept states the formats the poller can read, feeds first.
const accept = "application/atom+xml, application/rss+xml, application/feed+json, " +
	"application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"

// acceptEncoding offers brotli, which CDNs compress smaller, and gzip.
// Setting it ourselves turns off the transport's own gzip handling: the
// client decodes both (see decode.go).
const acceptEncoding = "br, gzip"

// Options configures a Client. Zero fields take the Default values above;
// AllowPrivate defaults to false.
type Options struct {
	UserAgent string        // sent on every request
	Timeout   time.Duration // whole request, from dial to the last body byte
	MaxBody   int64         // bytes after decompression; more is ErrTooLarge
	// AllowPrivate permits connections to loopback, private, link-local,
	// multicast, unspecified and reserved addresses. When false they are
	// refused at dial time, after DNS resolution, on every redirect hop.
	AllowPrivate bool
	MaxRedirects int // redirects followed before ErrTooManyRedirects
	// Transport, when set, carries the requests instead of the client's
	// own (an in-process origin in tests, so that they open no socket).
	// The private-address guard is the own transport's dialer: with
	// Transport set, AllowPrivate is the Transport's business.
	Transport http.RoundTripper
}

// Client makes bounded GET requests for feeds. It is safe for concurrent use.
type Client struct {
	opts      Options
	transport http.RoundTripper
	hc        *http.Client
}

// NewClient returns a Client with its own transport (unless o.Transport
// is set). It honours no proxy
// environment variables, since a proxy would hide the real destination from
// the private-address guard.
func NewClient(o Options) *Client {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	var tr http.RoundTripper = o.Transport
	if tr == nil {
		tr = newTransport(o)
	}
	c := &Client{opts: o, transport: tr}
	c.hc = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c
}

// A poller visits most hosts once an interval (an hour by default): a
// connection kept for reuse pays off only for the next source on the same
// host, polled soon after, and until then holds two goroutines, two 4 KB
// buffers and, over TLS, the session's state. 90 s and no cap (net/http's
// defaults) kept about one connection a host polled in the last 90 s: ~1,000
// in the bench's poll of 1,000 hosts. The most recently used maxIdleConns
// stay, for idleConnTimeout.
const (
	maxIdleConns    = 64
	idleConnTimeout = 15 * time.Second
)

// newTransport is the client's own transport: no proxy, the step and
// header timeouts, and the private-address guard at dial time.
func newTransport(o Options) *http.Transport {
	step := min(o.Timeout, 10*time.Second)
	dialer := &net.Dialer{Timeout: step, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		dialer.Control = refusePrivate
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    step,
		ResponseHeaderTimeout:  o.Timeout,
		IdleConnTimeout:        idleConnTimeout,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    2,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// CloseIdleConnections closes the connections kept alive for reuse.
func (c *Client) CloseIdleConnections() {
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Timeout is the time one request may take (Options.Timeout after
// defaults); the poller gives a parse as long again.
func (c *Client) Timeout() time.Duration { return c.opts.Timeout }

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	recordHop(req, via)
	if len(via) > c.opts.MaxRedirects {
		return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, c.opts.MaxRedirects)
	}
	return nil
}

// Request is one conditional GET. ETag and LastModified are the validators
// from the previous response, sent verbatim as If-None-Match and
// If-Modified-Since when non-empty.
type Request struct {
	URL, ETag, LastModified string
}

// Response is what Get received.
type Response struct {
	URL         string // final URL after redirects
	Status      int
	NotModified bool   // the origin answered 304
	Body        []byte // decompressed; nil on 304 and on error statuses
	// Headers verbatim.
	ContentType, ETag, LastModified string
	Header                          http.Header
	// Redirects are the redirects followed, in order; nil when none.
	Redirects []Hop
}

// Get performs a conditional GET of r.URL with the client's User-Agent and
// limits. It returns:
//   - a Response with NotModified for 304;
//   - a Response with Body for any 2xx;
//   - the Response and a *StatusError for any other status;
//   - ErrTooLarge when Content-Length or the decompressed body exceeds MaxBody;
//   - ErrPrivateAddress (wrapped with the address) when the guard refused a dial;
//   - ErrTooManyRedirects, with the last redirect's Response;
//   - an error matching context.DeadlineExceeded when Timeout elapsed.
//
// Every error is prefixed with "fetch URL:".
func (c *Client) Get(ctx context.Context, r Request) (*Response, error) {
	resp, err := c.get(ctx, r)
	if err != nil {
		return resp, fmt.Errorf("fetch %s: %w", r.URL, err)
	}
	return resp, nil
}

func (c *Client) get(parent context.Context, r Request) (*Response, error) {
	ctx, cancel := context.WithTimeout(parent, c.opts.Timeout)
	defer cancel()
	ctx, hops := withHops(ctx)

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, fmt.Errorf("unsupported URL scheme %q", req.URL.Scheme)
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", acceptEncoding)
	if r.ETag != "" {
		req.Header.Set("If-None-Match", r.ETag)
	}
	if r.LastModified != "" {
		req.Header.Set("If-Modified-Since", r.LastModified)
	}

	hresp, err := c.hc.Do(req)
	if err != nil {
		var out *Response
		if hresp != nil { // CheckRedirect refused: the last redirect, body closed
			out = newResponse(hresp)
			out.Redirects = *hops
		}
		return out, explain(parent, ctx, err, c.opts.Timeout)
	}
	defer hresp.Body.Close()
	out := newResponse(hresp)
	out.Redirects = *hops

	switch code := hresp.StatusCode; {
	case code == http.StatusNotModified:
		out.NotModified = true
		return out, nil
	case code < 200 || code > 299:
		// Read a little so the connection may be reused; the body is not kept.
		io.CopyN(io.Discard, hresp.Body, 4<<10)
		return out, &StatusError{Code: code, Status: hresp.Status}
	}

	if hresp.ContentLength > c.opts.MaxBody {
		return out, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", ErrTooLarge, hresp.ContentLength, c.opts.MaxBody)
	}
	// The limit counts decompressed bytes, so a gzip or brotli bomb stops
	// at MaxBody+1; the compressed bytes are held to MaxBody as well.
	decoded, err := decoder(hresp, c.opts.MaxBody)
	if err != nil {
		return out, fmt.Errorf("read body: %w", err)
	}
	body, err := readAll(io.LimitReader(decoded, c.opts.MaxBody+1), hresp.ContentLength)
	switch {
	case errors.Is(err, ErrTooLarge):
		return out, err
	case err != nil:
		return out, fmt.Errorf("read body: %w", explain(parent, ctx, err, c.opts.Timeout))
	case int64(len(body)) > c.opts.MaxBody:
		return out, fmt.Errorf("%w: body exceeds %d bytes", ErrTooLarge, c.opts.MaxBody)
	}
	out.Body = body
	return out, nil
}

// explain strips the url.Error the http package adds (our prefix already names
// the URL) and makes every kind of timeout match context.DeadlineExceeded and
// say "timed out after" the client's timeout, which is what an operator
// reading the recorded error needs. A cancelled parent is reported as it is.
func explain(parent, ctx context.Context, err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if parent.Err() != nil {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("timed out after %v: %w (%w)", timeout, context.DeadlineExceeded, err)
	}
	return err
}

func newResponse(h *http.Response) *Response {
	return &Response{
		URL:          h.Request.URL.String(),
		Status:       h.StatusCode,
		ContentType:  h.Header.Get("Content-Type"),
		ETag:         h.Header.Get("ETag"),
		LastModified: h.Header.Get("Last-Modified"),
		Header:       h.Header,
	}
}
