package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// fakeAdmin answers the admin routes and records what they asked.
type fakeAdmin struct{ asked []string }

func (f *fakeAdmin) Poll(_ context.Context, ids []string) (any, error) {
	f.asked = append(f.asked, "poll "+strings.Join(ids, ","))
	return []string{"polled"}, nil
}

func (f *fakeAdmin) PollSource(_ context.Context, id string) (any, error) {
	if id == "nope" {
		return nil, feed.Errorf(feed.ENOTFOUND, "no source %q", id)
	}
	f.asked = append(f.asked, "poll-source "+id)
	return map[string]string{"source": id}, nil
}

func (f *fakeAdmin) Preview(_ context.Context, r PreviewRequest) (any, error) {
	f.asked = append(f.asked, "preview "+r.Channel+" "+r.File+" "+string(r.Config))
	return map[string]bool{"compare": r.Compare}, nil
}

func (f *fakeAdmin) Explain(_ context.Context, item string) (any, error) {
	f.asked = append(f.asked, "explain "+item)
	return []string{}, nil
}

func adminServer(t *testing.T, token string, a Admin) *Server {
	t.Helper()
	return New(newFeeds(t, fakeMembers{}, nil, nil), fakeHealth{}, Options{
		States: fakeStates{states: sampleStates()}, Sources: sourceList{{ID: "kei", URL: "https://keia.org/feed/"}},
		Extras: Extras{AdminToken: token, Admin: a}})
}

func doBody(t *testing.T, s *Server, method, path, body, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestAdminRoutes(t *testing.T) {
	routes := [][2]string{
		{"POST", "/admin/poll?source=a&source=b"},
		{"POST", "/admin/sources/kei/poll"},
		{"POST", "/admin/preview?channel=news&file=new.yaml&compare=1"},
		{"GET", "/admin/explain?item=kei/abc"},
		{"GET", "/admin/status"},
	}
	t.Run("no token configured: 404", func(t *testing.T) {
		s := adminServer(t, "", &fakeAdmin{})
		for _, r := range routes {
			if code, _ := doBody(t, s, r[0], r[1], "", "anything"); code != 404 {
				t.Errorf("%s %s: %d, want 404", r[0], r[1], code)
			}
		}
	})
	t.Run("wrong or missing token: 401", func(t *testing.T) {
		a := &fakeAdmin{}
		s := adminServer(t, "s3cret", a)
		for _, r := range routes {
			for _, tok := range []string{"", "wrong"} {
				if code, _ := doBody(t, s, r[0], r[1], "", tok); code != 401 {
					t.Errorf("%s %s with token %q: %d, want 401", r[0], r[1], tok, code)
				}
			}
		}
		if len(a.asked) != 0 {
			t.Errorf("refused requests reached the service: %q", a.asked)
		}
	})
	t.Run("with the token: answered", func(t *testing.T) {
		a := &fakeAdmin{}
		s := adminServer(t, "s3cret", a)
		for _, r := range routes {
			if code, body := doBody(t, s, r[0], r[1], "channels: []", "s3cret"); code != 200 {
				t.Errorf("%s %s: %d %s, want 200", r[0], r[1], code, body)
			}
		}
		if got, want := strings.Join(a.asked, "|"), "poll a,b|poll-source kei|preview news new.yaml channels: []|explain kei/abc"; got != want {
			t.Errorf("asked %q, want %q", got, want)
		}
		if code, body := doBody(t, s, "GET", "/admin/status", "", "s3cret"); code != 200 || !strings.Contains(body, `"id": "kei"`) {
			t.Errorf("status: %d %s, want the sources", code, body)
		}
		if code, _ := doBody(t, s, "POST", "/admin/sources/nope/poll", "", "s3cret"); code != 404 {
			t.Errorf("unknown source: %d, want 404", code)
		}
	})
	t.Run("a posted config is bounded", func(t *testing.T) {
		a := &fakeAdmin{}
		s := adminServer(t, "s3cret", a)
		code, _ := doBody(t, s, "POST", "/admin/preview?channel=news", strings.Repeat("#", maxAdminBody+1), "s3cret")
		if code != 413 || len(a.asked) != 0 {
			t.Errorf("oversized config: %d, asked %q; want 413 and nothing asked", code, a.asked)
		}
	})
	t.Run("no service behind: 404", func(t *testing.T) {
		s := adminServer(t, "s3cret", nil)
		if code, _ := doBody(t, s, "POST", "/admin/poll", "", "s3cret"); code != 404 {
			t.Errorf("%d, want 404", code)
		}
	})
}

// TestAdminPreviewSlowBody: the server gives a whole request a short read
// deadline (serve: 10 s, here 200 ms); the preview's body, which can be a
// MiB from a slow link, gets bodyTimeout from the handler instead of
// failing at the server's deadline.
func TestAdminPreviewSlowBody(t *testing.T) {
	a := &fakeAdmin{}
	srv := httptest.NewUnstartedServer(adminServer(t, "s3cret", a))
	srv.Config.ReadHeaderTimeout = 200 * time.Millisecond
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const config = "channels: []"
	fmt.Fprintf(c, "POST /admin/preview?channel=news HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: %d\r\n\r\nchan", len(config))
	time.Sleep(500 * time.Millisecond) // past the server's read deadline
	if _, err := io.WriteString(c, config[4:]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(a.asked) != 1 || a.asked[0] != "preview news  "+config {
		t.Errorf("slow body: %d, asked %q; want 200 and the config previewed", resp.StatusCode, a.asked)
	}
}
