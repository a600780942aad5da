package config

import (
	"os"
	"strings"
	"testing"
)

const reloadRunning = `sources:
  - id: a
    url: https://a.example/feed
  - id: b
    url: https://b.example/feed
  - id: c
    url: https://c.example/feed
channels:
  - id: first
    title: First
    sources: [a, b]
  - id: second
    title: Second
    sources: [c]
`

func mustParseConfig(t *testing.T, text string) Config {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "feeds.yaml")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

func TestCheckReload(t *testing.T) {
	running := mustParseConfig(t, reloadRunning)
	tests := []struct {
		name, file string
		refused    string // "" when the reload is accepted
	}{
		{"zero bytes", "", "the file is empty (nothing but white space and comments)"},
		{"white space and comments", "\n  \n# sources to come\n\t\n", "the file is empty"},
		{"everything removed explicitly", "sources: []\nchannels: []\n", ""},
		{"no sources or channels", "fetch: { interval: 2h }\n", `sources: missing, while the running config has 3 sources: refusing to remove them all; write "sources: []" to mean it`},
		{"null lists", "sources:\nchannels:\n", "channels: missing, while the running config has 2 channels"},
		{"channels cut off after the sources", reloadRunning[:strings.Index(reloadRunning, "channels:")], "channels: missing"},
		{"cut mid-line in a comment after the first channel", reloadRunning[:strings.Index(reloadRunning, "  - id: c")] +
			"channels:\n  - id: first\n    title: First\n    sources: [a, b]\n# the second chann",
			"feeds.yaml:10: the last line has no newline and the file would remove sources c and channels second: it looks cut short"},
		{"cut mid-value of the last source", reloadRunning[:strings.Index(reloadRunning, "channels:")-len("feed\n")], "channels: missing"},
		{"an edit that removes a source", strings.Replace(strings.Replace(reloadRunning, "[a, b]", "[a]", 1), "  - id: b\n    url: https://b.example/feed\n", "", 1), ""},
		{"an edit without a final newline that removes nothing", strings.TrimSuffix(reloadRunning, "\n"), ""},
		{"a removal without a final newline", strings.TrimSuffix(strings.Replace(reloadRunning, "  - id: second\n    title: Second\n    sources: [c]\n", "", 1), "\n"), "would remove channels second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := mustParseConfig(t, tt.file)
			err := next.CheckReload(running)
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Errorf("err=%v, want a refusal containing %q", err, tt.refused)
			case err != nil && len(Problems(err)) == 0:
				t.Errorf("err=%v holds no *Problem", err)
			}
		})
	}

	t.Run("nothing running", func(t *testing.T) {
		if err := mustParseConfig(t, "").CheckReload(mustParseConfig(t, "")); err != nil {
			t.Errorf("an empty file replacing an empty config: %v", err)
		}
	})
}

// TestReloadOfTruncatedShippedConfig cuts the shipped feeds.yaml at every
// byte and replaces the full file with each piece, as a full disk or an
// interrupted save might: a piece that loses sources or channels is
// refused (by Parse or by CheckReload) unless it ends exactly at the end of
// a line, where it cannot be told from an edit.
func TestReloadOfTruncatedShippedConfig(t *testing.T) {
	data, err := os.ReadFile("../../feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	running := mustParseConfig(t, string(data))
	var invalid, refused, accepted, lineEnds int
	for cut := 0; cut < len(data); cut++ {
		next, err := Parse(strings.NewReader(string(data[:cut])), "feeds.yaml")
		if err != nil {
			invalid++
			continue
		}
		if next.CheckReload(running) != nil {
			refused++
			continue
		}
		accepted++
		if gone := removed(running, next); len(gone) > 0 {
			if data[cut-1] != '\n' {
				t.Errorf("cut at byte %d (mid-line) accepted, removing %s", cut, strings.Join(gone, " and "))
			}
			lineEnds++
		}
	}
	t.Logf("%d cuts: %d invalid, %d refused by CheckReload, %d accepted (%d of them at a line end losing sources or channels)",
		len(data), invalid, refused, accepted, lineEnds)
}
