package fetch

import (
	"context"
	"fmt"
	"net/http"

	"github.com/kpolicy/aggregator/internal/feed"
)

// DefaultRedirectConfirmations is how many consecutive polls must see the
// same permanent redirect target before the poller adopts it.
const DefaultRedirectConfirmations = 3

// Hop is one redirect the client followed: the status of the redirecting
// response, the URL that answered it and the URL it pointed to.
type Hop struct {
	Status   int
	From, To string
}

// hopsKey carries, in a request's context, the slice checkRedirect appends
// each hop to: the Client is shared, the record is per request.
type hopsKey struct{}

func withHops(ctx context.Context) (context.Context, *[]Hop) {
	hops := new([]Hop)
	return context.WithValue(ctx, hopsKey{}, hops), hops
}

func recordHop(req *http.Request, via []*http.Request) {
	hops, ok := req.Context().Value(hopsKey{}).(*[]Hop)
	if !ok || req.Response == nil || len(via) == 0 {
		return
	}
	*hops = append(*hops, Hop{Status: req.Response.StatusCode, From: via[len(via)-1].URL.String(), To: req.URL.String()})
}

// permanentTarget returns where the leading run of permanent redirects
// (301, 308) of a chain ends, or "" when the first hop is not permanent.
// A temporary hop (302, 303, 307) ends the run: only what the origin said
// is permanent may ever replace the URL we poll.
func permanentTarget(hops []Hop) string {
	target := ""
	for _, h := range hops {
		if h.Status != http.StatusMovedPermanently && h.Status != http.StatusPermanentRedirect {
			break
		}
		target = h.To
	}
	return target
}

// noteRedirect counts a successful poll's permanent redirect on st and
// adopts its target once it has been seen on p's required number of
// consecutive polls. A poll without one resets the count.
func (p *Poller) noteRedirect(st *feed.SourceState, resp *Response) {
	target := permanentTarget(resp.Redirects)
	switch {
	case target == "":
		st.RedirectTarget, st.RedirectCount = "", 0
		return
	case target == st.RedirectTarget:
		st.RedirectCount++
	default:
		st.RedirectTarget, st.RedirectCount = target, 1
	}
	if need := p.opts.RedirectConfirmations; st.RedirectCount < need {
		st.Warning = fmt.Sprintf("redirected permanently to %s (seen on %d of %d polls needed to adopt it)",
			st.RedirectTarget, st.RedirectCount, need)
		return
	}
	st.AdoptedURL = st.RedirectTarget
	st.RedirectTarget, st.RedirectCount = "", 0
	st.Warning = "adopted the permanent redirect to " + st.AdoptedURL
}
