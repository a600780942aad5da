package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, and it must
// either return a config that validates or only *Problem errors, each with
// a message.
func FuzzParse(f *testing.F) {
	shipped, err := os.ReadFile("../../feeds.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(shipped))
	// Broken variants of the shipped file.
	f.Add(strings.Replace(string(shipped), "interval: 1h", "intervall: 1h", 1))
	f.Add(strings.Replace(string(shipped), "  - id: kei\n", "  - id: kei\n    id: kei\n", 1))
	f.Add(strings.Replace(string(shipped), "max_body: 10MiB", "max_body: [10MiB]", 1))
	f.Add(strings.Replace(string(shipped), "tags: [think-tank]", "tags: think-tank", 1))
	f.Add(strings.Replace(string(shipped), "    limit: 50", "    limit: 0", 1))
	f.Add(strings.Replace(string(shipped), "sources:\n", "sources: &s\n", 1) + "extra: *s\n")
	f.Add(string(shipped[:len(shipped)/2]))
	f.Add(strings.ReplaceAll(string(shipped), "  ", "\t"))
	for _, s := range []string{
		"", "~", "---\n---\n", "- a\n", "a: [", "a: {b: [c, {d: e}]}", "sources: [{}]",
		"channels:\n  - ? [a]\n    : b\n", "? a\n: b\n", "&a b: *a\n", "!!map {}\n",
		"sources:\n  - id: a\n    url: http://a\n    tags: [~, 1, true, [x]]\n",
		"fetch: {max_body: 99999999999999999999999}\n", "fetch: {concurrency: 0x7fffffffffffffffff}\n",
		"channels: [{id: x, title: |\n  a\n  b\n}]\n", "\xef\xbb\xbf\xff\n", "a: 'b\n", "a: \"\\u\"\n",
		"%YAML 1.2\n---\nsources: []\n", "<<: {server: {}}\n",
		"server: {max_connections: -1}\n", "server: {max_connections: 99999999999999999999}\n",
		"storage: {max_size: 1KB}\n", "storage: {max_size: \"1 GiB\"}\n", "storage: {max_size: -5}\n",
		"fetch: {future_dates: hide}\n", "fetch: {future_dates: [clamp]}\n", "fetch: {future_dates: ~}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse(strings.NewReader(src), "feeds.yaml")
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Parse accepted a config Validate rejects: %v", verr)
			}
			_ = c.Warnings()
			return
		}
		probs := Problems(err)
		if len(probs) == 0 {
			t.Fatalf("error without problems: %v", err)
		}
		for _, p := range probs {
			if p.Msg == "" || p.File != "feeds.yaml" || p.Line < 0 {
				t.Fatalf("malformed problem %+v", p)
			}
		}
	})
}
