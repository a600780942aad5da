// Package mailtest gives tests real and scripted SMTP servers on loopback:
// Mailpit, started as a process with its own ports and database, read
// back through its HTTP API; and Stub, a small SMTP server whose replies a
// test chooses (4xx, 5xx, a dropped connection).
//
// It is for tests only: it must not be imported by the program. Every
// server it starts is stopped, and every goroutine it starts joined, by
// the test's cleanup.
package mailtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// MailpitVersion is the Mailpit that .ci/run installs
// (go install github.com/axllent/mailpit@v1.33.1).
const MailpitVersion = "v1.33.1"

// MailpitBinary returns the path of the mailpit binary: $MAILPIT, else
// "mailpit" on $PATH, else in $GOBIN, $GOPATH/bin or ~/go/bin, where
// go install puts it. It returns "" when there is none.
func MailpitBinary() string {
	if p := os.Getenv("MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("GOPATH"); d != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(d)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "mailpit")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Mailpit is a running Mailpit: its SMTP server and its HTTP API.
type Mailpit struct {
	SMTPAddr string // 127.0.0.1:port
	APIURL   string // http://127.0.0.1:port
	client   *http.Client
}

// StartMailpit starts Mailpit on two free loopback ports with a database
// of its own in t.TempDir(), waits until it answers, and stops it when the
// test ends. args are added to its command line (for example
// "--smtp-allowed-recipients", "^ok@"). Without a mailpit binary the test
// is skipped with a message, unless $CI is set: then it fails, because CI
// must have installed it.
func StartMailpit(t testing.TB, args ...string) *Mailpit {
	t.Helper()
	bin := MailpitBinary()
	if bin == "" {
		msg := "mailpit not found (go install github.com/axllent/mailpit@" + MailpitVersion + ", or set $MAILPIT)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI must install it (.ci/run)")
		}
		t.Skip(msg)
	}
	var lastErr error
	for range 3 { // a port taken between choosing and binding: try again
		m, err := startMailpit(t, bin, args)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("mailpit: %v", lastErr)
	return nil
}

func startMailpit(t testing.TB, bin string, args []string) (*Mailpit, error) {
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	m := &Mailpit{
		SMTPAddr: "127.0.0.1:" + strconv.Itoa(smtpPort),
		APIURL:   "http://127.0.0.1:" + strconv.Itoa(httpPort),
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{
		"--smtp", m.SMTPAddr,
		"--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"),
		"--max", "0", // keep every message: tests count them
		"--disable-version-check", // no request to the internet
		"--smtp-disable-rdns",
		"--quiet",
	}, args...)...)
	out := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("mailpit exited at start (%v): %s", err, out.String())
		default:
		}
		if m.ready() {
			t.Cleanup(stop)
			return m, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("mailpit did not answer within 20s: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether both the API and the SMTP port answer.
func (m *Mailpit) ready() bool {
	resp, err := m.client.Get(m.APIURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// SMTPURL is the mail.smtp URL of this Mailpit: "smtp://127.0.0.1:PORT".
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.SMTPAddr }

// Address is an address as Mailpit's API gives it.
type Address struct {
	Name    string
	Address string
}

// Summary is one message in Mailpit's list.
type Summary struct {
	ID        string
	MessageID string
	From      *Address
	To        []Address
	Subject   string
	Size      int
}

// Message is one message as Mailpit parsed it.
type Message struct {
	ID              string
	MessageID       string
	From            *Address
	To              []Address
	Subject         string // decoded
	Date            time.Time
	Text            string
	HTML            string
	Size            int
	ListUnsubscribe struct {
		Header     string
		Links      []string
		Errors     string
		HeaderPost string
	}
}

// Messages returns every stored message, newest first.
func (m *Mailpit) Messages(t testing.TB) []Summary {
	t.Helper()
	var all []Summary
	for start := 0; ; {
		var page struct {
			Total    int       `json:"messages_count"`
			Messages []Summary `json:"messages"`
		}
		m.get(t, "/api/v1/messages?limit=500&start="+strconv.Itoa(start), &page)
		all = append(all, page.Messages...)
		start += len(page.Messages)
		if len(page.Messages) == 0 || start >= page.Total {
			return all
		}
	}
}

// Count returns how many messages Mailpit holds.
func (m *Mailpit) Count(t testing.TB) int {
	t.Helper()
	var page struct {
		Total int `json:"messages_count"`
	}
	m.get(t, "/api/v1/messages?limit=1", &page)
	return page.Total
}

// WaitCount waits until Mailpit holds at least n messages (it stores a
// message just after accepting it) and returns them, failing the test
// after 10 seconds.
func (m *Mailpit) WaitCount(t testing.TB, n int) []Summary {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for m.Count(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("mailpit holds %d messages after 10s, want %d", m.Count(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m.Messages(t)
}

// Message returns the message id, parsed.
func (m *Mailpit) Message(t testing.TB, id string) Message {
	t.Helper()
	var msg Message
	m.get(t, "/api/v1/message/"+url.PathEscape(id), &msg)
	return msg
}

// Headers returns the header fields of message id, decoded, by name.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	m.get(t, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h
}

// Raw returns message id as it was received.
func (m *Mailpit) Raw(t testing.TB, id string) []byte {
	t.Helper()
	resp, err := m.client.Get(m.APIURL + "/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		t.Fatalf("mailpit raw %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit raw %s: %d %v", id, resp.StatusCode, err)
	}
	return b
}

// DeleteAll deletes every stored message.
func (m *Mailpit) DeleteAll(t testing.TB) {
	t.Helper()
	m.do(t, http.MethodDelete, "/api/v1/messages", nil, nil)
}

// ChaosTrigger is one of Mailpit's chaos triggers: the SMTP reply code it
// answers, and how often, in percent.
type ChaosTrigger struct {
	ErrorCode   int
	Probability int
}

// SetChaos makes Mailpit (started with "--enable-chaos") answer MAIL FROM
// (sender), RCPT TO (recipient) or AUTH with an error code; the zero
// trigger turns one off.
func (m *Mailpit) SetChaos(t testing.TB, sender, recipient, auth ChaosTrigger) {
	t.Helper()
	body := map[string]ChaosTrigger{"Sender": sender, "Recipient": recipient, "Authentication": auth}
	m.do(t, http.MethodPut, "/api/v1/chaos", body, nil)
}

func (m *Mailpit) get(t testing.TB, path string, v any) {
	t.Helper()
	m.do(t, http.MethodGet, path, nil, v)
}

func (m *Mailpit) do(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.APIURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("mailpit %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s %s: %d %v: %s", method, path, resp.StatusCode, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("mailpit %s %s: %v: %.300s", method, path, err, b)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedBuffer keeps the first max bytes written to it: Mailpit's output,
// shown when it fails to start.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
