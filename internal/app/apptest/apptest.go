// Package apptest is what the service's tests and the command's share: an
// in-process network on which origins, WebSub subscribers and the App's
// handler answer without a socket, a client that reaches it (and, for any
// other host, the loopback servers of the command's tests), an origin of
// files that counts its requests, and the waits those tests make on
// published channels.
//
// It is for tests only: it must not be imported by the program. A host
// registered on the network is removed by the test's cleanup.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hosts is the in-process network: host (with port, if any) → handler.
// It is the package's one piece of state, shared by the tests of a test
// binary; each test registers hosts of its own and removes them.
var (
	hosts sync.Map
	seq   atomic.Int64
)

// Serve puts h on the in-process network under a host of its own and
// returns its base URL ("http://hostN.test").
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	base := fmt.Sprintf("http://host%d.test", seq.Add(1))
	ServeAt(t, base, h)
	return base
}

// ServeAt puts h on the in-process network at base's host (an App at its
// server.base_url) until remove is called or the test ends. The host must
// be free.
func ServeAt(t testing.TB, base string, h http.Handler) (remove func()) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Fatalf("apptest: %q is no base URL", base)
	}
	if _, taken := hosts.LoadOrStore(u.Host, h); taken {
		t.Fatalf("apptest: %s is already on the network", u.Host)
	}
	var once sync.Once
	remove = func() { once.Do(func() { hosts.Delete(u.Host) }) }
	t.Cleanup(remove)
	return remove
}

// Transport reaches the hosts of the in-process network by calling their
// handler with an httptest.ResponseRecorder; any other host is an error,
// so that what a test gives it never reaches a network.
func Transport() http.RoundTripper { return transport{} }

// transport is Transport; with others set, hosts off the network are
// reached through it.
type transport struct{ others http.RoundTripper }

func (tr transport) RoundTrip(r *http.Request) (*http.Response, error) {
	v, ok := hosts.Load(r.URL.Host)
	if !ok && tr.others != nil {
		return tr.others.RoundTrip(r)
	}
	if !ok {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("apptest: no host %s on the in-process network", r.URL.Host)
	}
	var body io.Reader = http.NoBody
	if r.Body != nil {
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	// As a server receives it: the path form, the Host header, a client
	// address.
	in := httptest.NewRequestWithContext(r.Context(), r.Method, r.URL.RequestURI(), body)
	in.Header = r.Header.Clone()
	in.Host = r.URL.Host
	if r.Host != "" {
		in.Host = r.Host
	}
	rec := httptest.NewRecorder()
	v.(http.Handler).ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// Client is the tests' client: hosts of the in-process network through
// Transport, any other (a loopback server) through http.DefaultTransport.
func Client() *http.Client { return &http.Client{Transport: transport{others: http.DefaultTransport}} }

// Get fetches url with the header pairs given (name, value, …) and returns
// the response and its body.
func Get(t testing.TB, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Files is an origin serving the files under dir; it counts the requests
// for each path.
type Files struct {
	files http.Handler
	mu    sync.Mutex
	hits  map[string]int
}

// NewFiles returns the origin of dir's files.
func NewFiles(dir string) *Files {
	return &Files{files: http.FileServer(http.Dir(dir)), hits: map[string]int{}}
}

func (f *Files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits[r.URL.Path]++
	f.mu.Unlock()
	f.files.ServeHTTP(w, r)
}

// Count returns the requests for path so far.
func (f *Files) Count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

// Eventually waits up to 15 seconds for cond, then fails the test.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	// Generous: under -race on a loaded machine the corpus polls take
	// tens of seconds; a wait that passes returns as soon as cond holds.
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitForItems waits until a channel's JSON feed lists at least n items.
func WaitForItems(t testing.TB, base, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, body := Get(t, base+"/feeds/"+channel+".json")
		var doc struct{ Items []json.RawMessage }
		if resp.StatusCode == 200 && json.Unmarshal(body, &doc) == nil && len(doc.Items) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s never reached %d items; last response %d: %.300s", channel, n, resp.StatusCode, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitForSearch waits for the background indexer to index the polled
// items, until a search for q finds one, and returns its item page path.
func WaitForSearch(t testing.TB, base, q string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := Get(t, base+"/search?format=json&q="+url.QueryEscape(q))
		var res struct {
			Total   int
			Results []struct{ URL string }
		}
		if resp.StatusCode == 200 && json.Unmarshal(body, &res) == nil && len(res.Results) > 0 {
			return res.Results[0].URL
		}
		if time.Now().After(deadline) {
			t.Fatalf("search for %q never found anything; last response %d: %.300s", q, resp.StatusCode, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// JSONTitles returns the status of a channel's JSON feed and its items'
// titles.
func JSONTitles(t testing.TB, base, channel string) (int, []string) {
	t.Helper()
	resp, body := Get(t, base+"/feeds/"+channel+".json")
	var doc struct{ Items []struct{ Title string } }
	json.Unmarshal(body, &doc)
	var titles []string
	for _, it := range doc.Items {
		titles = append(titles, it.Title)
	}
	return resp.StatusCode, titles
}

// SaveLikeAnEditor replaces path by writing a temporary file beside it and
// renaming it over, as vim and most editors do.
func SaveLikeAnEditor(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// CorpusDir returns $AGGREGATOR_CORPUS, or skips the test when it is unset.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("AGGREGATOR_CORPUS")
	if dir == "" {
		t.Skip("AGGREGATOR_CORPUS is unset: set it to the absolute path of ../shared/corpus to run the corpus tests")
	}
	return dir
}

// SyncBuffer is an io.Writer safe to read while another goroutine writes
// to it (a log).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CheckFeed returns the path of ../shared/tools/check-feed (jing, the
// Universal Feed Parser, the JSON Feed schema), or skips the test when
// jing is not installed.
func CheckFeed(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("jing"); err != nil {
		t.Skip("jing is not installed (apt-get install -y jing python3-feedparser python3-jsonschema): not checking the published feeds")
	}
	return filepath.Join(filepath.Dir(CorpusDir(t)), "tools", "check-feed")
}

// W3CValidator returns the path of ../shared/tools/w3c-validate, or skips
// the test when the W3C Feed Validator's source is not on this machine (it
// is never committed, and CI cannot fetch it).
func W3CValidator(t testing.TB) string {
	t.Helper()
	src := os.Getenv("FEEDVALIDATOR_SRC")
	if src == "" {
		src = "/tmp/feedvalidator/src"
	}
	if _, err := os.Stat(filepath.Join(src, "feedvalidator")); err != nil {
		t.Skipf("the W3C Feed Validator is not at %s (set FEEDVALIDATOR_SRC, or unpack github.com/w3c/feedvalidator under /tmp/feedvalidator): not validating", src)
	}
	tool := filepath.Join(filepath.Dir(CorpusDir(t)), "tools", "w3c-validate")
	if _, err := os.Stat(tool); err != nil {
		t.Skipf("%s: %v", tool, err)
	}
	return tool
}

// Page is an origin of one page at one path, which the test may change,
// with an ETag (from its length) that it honours; it records every
// request. Any other path is 404.
type Page struct {
	path        string
	contentType string
	mu          sync.Mutex
	body        []byte
	requests    []*http.Request
}

// NewPage serves body as contentType at path.
func NewPage(path, contentType string, body []byte) *Page {
	return &Page{path: path, contentType: contentType, body: body}
}

// Serve changes the page.
func (p *Page) Serve(body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.body = body
}

// Requests returns the requests received so far.
func (p *Page) Requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.requests...)
}

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.Clone(context.Background()))
	body := p.body
	p.mu.Unlock()
	if r.URL.Path != p.path {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"v%d"`, len(body))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", p.contentType)
	w.Write(body)
}
