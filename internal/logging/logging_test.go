package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	var text, js bytes.Buffer
	for _, l := range []struct {
		buf    *bytes.Buffer
		format string
	}{{&text, FormatText}, {&js, FormatJSON}} {
		log, err := New(l.buf, l.format)
		if err != nil {
			t.Fatal(err)
		}
		log.Info("poll", "duration", 1250*time.Millisecond, "n", 3)
		log.WithGroup("g").Info("nested", "wait", 2*time.Minute)
	}
	if got, want := text.String(), "duration=1.25s n=3"; !strings.Contains(got, want) {
		t.Errorf("text=%q, want %q in it", got, want)
	}
	if got, want := text.String(), "g.wait=2m0s"; !strings.Contains(got, want) {
		t.Errorf("text=%q, want %q in it", got, want)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("JSON lines=%d, want 2:\n%s", len(lines), js.String())
	}
	var poll struct {
		Duration any
		N        any
	}
	if err := json.Unmarshal([]byte(lines[0]), &poll); err != nil {
		t.Fatal(err)
	}
	if poll.Duration != 1.25 || poll.N != 3.0 {
		t.Errorf("duration=%v (%T) n=%v, want 1.25 seconds and 3: %s", poll.Duration, poll.Duration, poll.N, lines[0])
	}
	var nested struct{ G struct{ Wait float64 } }
	if err := json.Unmarshal([]byte(lines[1]), &nested); err != nil || nested.G.Wait != 120 {
		t.Errorf("grouped duration=%v, %v, want 120 seconds: %s", nested.G.Wait, err, lines[1])
	}
}

func TestListening(t *testing.T) {
	var text, js bytes.Buffer
	Listening(&text, FormatText, "v1.2", "http://127.0.0.1:8080")
	Listening(&js, FormatJSON, "v1.2", "http://127.0.0.1:8080")
	if got, want := text.String(), "aggregator v1.2 listening on http://127.0.0.1:8080\n"; got != want {
		t.Errorf("text=%q, want %q", got, want)
	}
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %q", err, js.String())
	}
	if rec["msg"] != "listening" || rec["url"] != "http://127.0.0.1:8080" || rec["version"] != "v1.2" || rec["level"] != "INFO" {
		t.Errorf("JSON record=%v", rec)
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "xml"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("err=%v, want ErrFormat naming the format", err)
	}
}
