package fetch

import (
	"context"
	"fmt"
	"net"
	"net/http"
)

// HTTPClient returns the client's underlying *http.Client, for requests
// other than feed polls (WebSub verification and delivery) that need the
// same guard: no proxy, the redirect limit, and, unless AllowPrivate, the
// refusal of non-public addresses at dial time. It has no overall timeout:
// callers bound each request with a context.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CheckHost resolves host (a name or a literal IP, without port) and returns
// an error wrapping ErrPrivateAddress when any of its addresses is not
// public, so that a caller can refuse a URL up front with a clear reason.
// The dial-time guard still applies to every later connection, since DNS
// answers may change.
func CheckHost(ctx context.Context, host string) error {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("check host %s: %w", host, err)
	}
	for _, a := range addrs {
		if !isPublic(a) {
			return fmt.Errorf("check host %s: %w: %s", host, ErrPrivateAddress, a)
		}
	}
	return nil
}
