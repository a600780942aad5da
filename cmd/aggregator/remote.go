package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// remote is a running aggregator asked over its admin API by a command
// whose database that server holds (fetch, preview, explain, status). The
// command renders the server's answer as it renders its own.
type remote struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// remoteTimeout bounds one question to the server: a poll of every source
// takes as long as the slowest origins.
const remoteTimeout = 35 * time.Minute

// maxRemoteAnswer bounds what is read of an answer.
const maxRemoteAnswer = 64 << 20

// reach returns the running server to ask when opening the store failed
// with err because another process holds it (store.ErrLocked): the one at
// the config's server.listen (or -addr), with AGGREGATOR_ADMIN_TOKEN. Any
// other err, or a missing token, is returned as an error that says what to
// do.
func reach(cfg config.Config, getenv func(string) string, err error) (*remote, error) {
	if !errors.Is(err, store.ErrLocked) {
		return nil, err
	}
	base := adminBase(cfg.Server.Listen)
	token := getenv("AGGREGATOR_ADMIN_TOKEN")
	if token == "" {
		return nil, fmt.Errorf("%w\n  to ask the running aggregator at %s instead, set AGGREGATOR_ADMIN_TOKEN to its admin token "+
			"(and -addr to its address if it is not server.listen)", err, base)
	}
	return &remote{base: base, token: token, hc: &http.Client{Timeout: remoteTimeout}}, nil
}

// adminBase is the URL of the server listening at listen: an address
// without a host (":8080") or with an unspecified one ("0.0.0.0:8080") is
// reached on loopback; a URL is taken as it is.
func adminBase(listen string) string {
	if strings.Contains(listen, "://") {
		return strings.TrimRight(listen, "/")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// call asks the server: method path?q with body, decoding the JSON answer
// into out. An answer of 400, 404 or 409 is a feed error of that code with
// the server's message, as the command's own computation returns it.
func (r *remote) call(ctx context.Context, method, path string, q url.Values, body []byte, out any) error {
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ask the running aggregator: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the database is held by a running aggregator, and none answers at %s (give -addr its address): %w", r.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteAnswer))
	if err != nil {
		return fmt.Errorf("read the answer of %s: %w", r.base, err)
	}
	msg := strings.TrimSpace(string(data))
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the answer of %s%s: %w", r.base, path, err)
		}
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("the aggregator at %s refused the admin token: AGGREGATOR_ADMIN_TOKEN is not the one it was started with", r.base)
	case http.StatusNotFound:
		if msg == "404 page not found" { // the mux's: no such route
			return fmt.Errorf("the aggregator at %s serves no admin API: it was started without AGGREGATOR_ADMIN_TOKEN", r.base)
		}
		return feed.Errorf(feed.ENOTFOUND, "%s", msg)
	case http.StatusBadRequest:
		return feed.Errorf(feed.EINVALID, "%s", msg)
	case http.StatusConflict:
		return feed.Errorf(feed.ECONFLICT, "%s", msg)
	}
	return fmt.Errorf("the aggregator at %s answered %s: %s", r.base, resp.Status, msg)
}

// addrFlag is -addr of the commands that may ask a running server.
const addrUsage = "the running server's address, asked when it holds the database (default server.listen; env AGGREGATOR_ADDR)"
