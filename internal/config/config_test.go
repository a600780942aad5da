package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestDefault(t *testing.T) {
	c := Default()
	want := Config{
		Server:  Server{Listen: ":8080", BaseURL: "http://localhost:8080"},
		Storage: Storage{Path: "data/aggregator.db", Keep: feed.Retention{Items: 1000}},
		Fetch: Fetch{Interval: time.Hour, Timeout: 20 * time.Second, MaxBody: 10 << 20, Concurrency: 8,
			MaxInterval: 24 * time.Hour, HostGap: time.Second, Lease: 30 * time.Second},
		Publish: Publish{MaxAge: 5 * time.Minute, PageSize: 50, CacheSize: 64 << 20},
		Dedupe:  Dedupe{TitleWindow: 48 * time.Hour},
		Site:    feed.Site{Title: "localhost:8080", Language: "en"},
	}
	if got, want := fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", want); got != want {
		t.Errorf("Default()=%s\nwant %s", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate(): %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Default().Warnings()=%q, want none", w)
	}
}

func TestUserAgentString(t *testing.T) {
	for _, tc := range []struct {
		f       Fetch
		version string
		want    string
	}{
		{Fetch{}, "1.2.0", "aggregator/1.2.0"},
		{Fetch{Contact: "https://example.org/bot"}, "1.2.0", "aggregator/1.2.0 (+https://example.org/bot)"},
		{Fetch{Contact: "web@example.org"}, "dev", "aggregator/dev (+web@example.org)"},
		{Fetch{Contact: "web@example.org"}, "", "aggregator (+web@example.org)"},
		{Fetch{UserAgent: "KPolicyBot/2", Contact: "web@example.org"}, "1.2.0", "KPolicyBot/2"},
	} {
		if got := tc.f.UserAgentString(tc.version); got != tc.want {
			t.Errorf("%+v.UserAgentString(%q)=%q, want %q", tc.f, tc.version, got, tc.want)
		}
	}
}

func TestLookups(t *testing.T) {
	c := Default()
	c.Sources = []feed.Source{{ID: "a", URL: "https://a.example/"}, {ID: "b", URL: "https://b.example/"}}
	c.Channels = []feed.Channel{{ID: "x", Title: "X"}}
	if s, ok := c.Source("b"); !ok || s.URL != "https://b.example/" {
		t.Errorf(`Source("b")=%+v, %v`, s, ok)
	}
	if _, ok := c.Source("c"); ok {
		t.Error(`Source("c") found`)
	}
	if ch, ok := c.Channel("x"); !ok || ch.Title != "X" {
		t.Errorf(`Channel("x")=%+v, %v`, ch, ok)
	}
	if _, ok := c.Channel("a"); ok {
		t.Error(`Channel("a") found: channels and sources are separate`)
	}
}

func TestProblemError(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{"feeds.yaml", 14, "sources[3].url", `must be an absolute http(s) URL (got "foo")`},
			`feeds.yaml:14: sources[3].url: must be an absolute http(s) URL (got "foo")`},
		{Problem{"feeds.yaml", 0, "fetch.timeout", "must be more than 0s (got 0s)"},
			"feeds.yaml: fetch.timeout: must be more than 0s (got 0s)"},
		{Problem{"feeds.yaml", 3, "", "invalid YAML: x"}, "feeds.yaml:3: invalid YAML: x"},
		{Problem{"", 0, "storage.path", "required"}, "storage.path: required"},
		{Problem{"", 7, "storage.path", "required"}, "line 7: storage.path: required"},
	} {
		if got := tc.p.Error(); got != tc.want {
			t.Errorf("%+v.Error()=%q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestProblems(t *testing.T) {
	a := &Problem{Path: "a", Msg: "x"}
	b := &Problem{Path: "b", Msg: "y"}
	err := fmt.Errorf("start: %w", errors.Join(a, errors.New("other"), errors.Join(b)))
	if got, want := Problems(err), []*Problem{a, b}; !slices.Equal(got, want) {
		t.Errorf("Problems=%v, want %v", got, want)
	}
	if got := Problems(nil); got != nil {
		t.Errorf("Problems(nil)=%v", got)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join("testdata", "broken.yaml")
	_, err := Load(path)
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		path + `:3: fetch.timeout: must be a duration such as "90s", "30m" or "1h" (got "soon")`,
		path + `:6: sources[0].url: must be an absolute http(s) URL (got "keia.org/feed")`,
		path + `:10: channels[0].sources[1]: no source has id "missing"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Load problems:\n%q\nwant\n%q", got, want)
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err=%v, want fs.ErrNotExist", err)
	}
}
