package config

import (
	"strings"
	"testing"
	"time"
)

func TestParsePublish(t *testing.T) {
	c, err := Parse(strings.NewReader("publish: { max_age: 90s, page_size: 20, hubs: [\"https://hub.example/\"], cache_size: 512MiB }\n"), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Publish.MaxAge != 90*time.Second || c.Publish.PageSize != 20 || len(c.Publish.Hubs) != 1 || c.Publish.Hubs[0] != "https://hub.example/" || c.Publish.CacheSize != 512<<20 {
		t.Errorf("publish = %+v", c.Publish)
	}
	_, err = Parse(strings.NewReader("publish:\n  max_age: 0s\n  page_size: 5\n  hubs: [ftp://hub.example/]\n  cache_size: 10KB\n"), "feeds.yaml")
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`feeds.yaml:2: publish.max_age: must be between 1s and 24h (got 0s)`,
		`feeds.yaml:3: publish.page_size: must be between 10 and 1000 (got 5)`,
		`feeds.yaml:4: publish.hubs[0]: must be an absolute http(s) URL (got "ftp://hub.example/")`,
		`feeds.yaml:5: publish.cache_size: must be between 1MiB and 64GiB (got 10000 bytes)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
