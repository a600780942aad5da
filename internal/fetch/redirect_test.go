package fetch

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// pathsOf lists the paths an origin received, in order.
func pathsOf(o *origin) string {
	var paths []string
	for _, r := range o.requests() {
		paths = append(paths, r.URL.Path)
	}
	return strings.Join(paths, " ")
}

func TestPollAdoptsPermanentRedirectAfterConfirmations(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", code)
					return
				}
				w.Header().Set("ETag", `"n1"`)
				io.WriteString(w, "a")
			})
			store := newMemStore()
			p, _ := newTestPoller(t, &lineParser{}, store, 0)
			src := feed.Source{ID: "s", URL: o.URL + "/old", Interval: time.Hour}
			for i := 1; i <= 4; i++ {
				r := p.Poll(t.Context(), src)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				st := store.state("s")
				switch {
				case i < DefaultRedirectConfirmations:
					if st.AdoptedURL != "" || st.RedirectCount != i || st.RedirectTarget != o.URL+"/new" || !strings.Contains(st.Warning, "redirected permanently") {
						t.Fatalf("poll %d: Adopted=%q Target=%q Count=%d Warning=%q, want pending %d", i, st.AdoptedURL, st.RedirectTarget, st.RedirectCount, st.Warning, i)
					}
				default:
					if st.AdoptedURL != o.URL+"/new" || st.RedirectTarget != "" || st.RedirectCount != 0 {
						t.Fatalf("poll %d: Adopted=%q Target=%q Count=%d, want adopted", i, st.AdoptedURL, st.RedirectTarget, st.RedirectCount)
					}
				}
				if st.ConfiguredURL != src.URL {
					t.Fatalf("ConfiguredURL=%q, want %q", st.ConfiguredURL, src.URL)
				}
			}
			// Three polls through the redirect, then straight to the new URL,
			// conditionally with the validators it gave.
			if got, want := pathsOf(o), "/old /new /old /new /old /new /new"; got != want {
				t.Fatalf("paths=%q, want %q", got, want)
			}
			if got := o.requests()[6].Header.Get("If-None-Match"); got != `"n1"` {
				t.Errorf("If-None-Match on the adopted URL=%q, want %q", got, `"n1"`)
			}
		})
	}
}

func TestPollNeverAdoptsTemporaryRedirect(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", code)
					return
				}
				io.WriteString(w, "a")
			})
			store := newMemStore()
			p, _ := newTestPoller(t, &lineParser{}, store, 0)
			src := feed.Source{ID: "s", URL: o.URL + "/old", Interval: time.Hour}
			for range 5 {
				if r := p.Poll(t.Context(), src); r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			if st := store.state("s"); st.AdoptedURL != "" || st.RedirectCount != 0 {
				t.Fatalf("Adopted=%q Count=%d after %d redirects, want nothing adopted", st.AdoptedURL, st.RedirectCount, code)
			}
			if got, want := pathsOf(o), strings.Repeat("/old /new ", 5); got != strings.TrimSpace(want) {
				t.Fatalf("paths=%q", got)
			}
		})
	}
}

func TestPollRedirectConfirmationsMustBeConsecutive(t *testing.T) {
	var mu sync.Mutex
	step := 0
	// The redirect's target changes, then it disappears for one poll: each
	// time the count starts again.
	targets := []string{"/a", "/a", "/b", "/b", "", "/b", "/b", "/b"}
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/old" {
			target := targets[step]
			step++
			if target != "" {
				http.Redirect(w, r, target, http.StatusMovedPermanently)
				return
			}
		}
		io.WriteString(w, "a")
	})
	store := newMemStore()
	p, _ := newTestPoller(t, &lineParser{}, store, 0)
	src := feed.Source{ID: "s", URL: o.URL + "/old", Interval: time.Hour}
	var adoptedAt int
	for i := range targets {
		if r := p.Poll(t.Context(), src); r.Err != nil {
			t.Fatal(r.Err)
		}
		if st := store.state("s"); st.AdoptedURL != "" && adoptedAt == 0 {
			adoptedAt = i + 1
			if st.AdoptedURL != o.URL+"/b" {
				t.Fatalf("adopted %q, want %q", st.AdoptedURL, o.URL+"/b")
			}
		}
	}
	if got, want := adoptedAt, 8; got != want {
		t.Fatalf("adopted after poll %d, want %d (three consecutive sightings of /b)", got, want)
	}
}

func TestPollAdoptsOnlyThePermanentPartOfAChain(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a":
			http.Redirect(w, r, "/b", http.StatusMovedPermanently)
		case "/b":
			http.Redirect(w, r, "/c", http.StatusPermanentRedirect)
		case "/c":
			http.Redirect(w, r, "/d", http.StatusFound) // temporary: /c stays the address
		default:
			io.WriteString(w, "a")
		}
	})
	store := newMemStore()
	p, _ := newOptsPoller(t, &lineParser{}, store, 0, PollerOptions{RedirectConfirmations: 2})
	src := feed.Source{ID: "s", URL: o.URL + "/a", Interval: time.Hour}
	for range 3 {
		if r := p.Poll(t.Context(), src); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if got, want := store.state("s").AdoptedURL, o.URL+"/c"; got != want {
		t.Fatalf("AdoptedURL=%q, want %q", got, want)
	}
	if got, want := pathsOf(o), "/a /b /c /d /a /b /c /d /c /d"; got != want {
		t.Fatalf("paths=%q, want %q", got, want)
	}
}

func TestPermanentTarget(t *testing.T) {
	tests := []struct {
		hops []Hop
		want string
	}{
		{nil, ""},
		{[]Hop{{302, "a", "b"}}, ""},
		{[]Hop{{301, "a", "b"}}, "b"},
		{[]Hop{{308, "a", "b"}, {301, "b", "c"}}, "c"},
		{[]Hop{{301, "a", "b"}, {307, "b", "c"}, {301, "c", "d"}}, "b"},
		{[]Hop{{307, "a", "b"}, {301, "b", "c"}}, ""},
	}
	for _, tt := range tests {
		if got := permanentTarget(tt.hops); got != tt.want {
			t.Errorf("permanentTarget(%v)=%q, want %q", tt.hops, got, tt.want)
		}
	}
}
