package fetch

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// sourceParser is a lineParser that also implements SourceParser: it
// records the source it was given and warns about every document.
type sourceParser struct {
	lineParser
	got feed.Source
}

func (p *sourceParser) ParseSourceContext(_ context.Context, body []byte, contentType, feedURL string, src feed.Source) (feed.Parsed, error) {
	p.got = src
	out, err := p.Parse(body, contentType, feedURL, src.ID)
	out.Warning = "guid repeated"
	return out, err
}

func TestPollPassesSourceAndRecordsWarning(t *testing.T) {
	body := "a\nb"
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	parser, store := &sourceParser{}, newMemStore()
	p, _ := newTestPoller(t, parser, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/feed", Interval: time.Hour, Identity: feed.IdentityLink}

	res := p.Poll(t.Context(), src)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if parser.got.ID != "s" || parser.got.Identity != feed.IdentityLink {
		t.Errorf("ParseSourceContext got source %+v, want the polled one", parser.got)
	}
	st := store.state("s")
	if st.Warning != "guid repeated" || res.Warning != "guid repeated" {
		t.Errorf("state warning %q, result warning %q; want the parser's", st.Warning, res.Warning)
	}
	if st.Identity != feed.IdentityLink {
		t.Errorf("state identity %q, want the source's policy", st.Identity)
	}
}
