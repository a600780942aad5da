package config

import (
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

const curatedYAML = `storage:
  path: data/a.db
  keep: { items: 500 }
sources:
  - id: yonhap
    url: https://www.yna.co.kr/rss/politics.xml
    tags: [news]
    languages: [ko]
    exclude:
      - 광고
      - { title: '/^\[(AD|홍보)\]/' }
    limit: 20
    keep: { days: 90 }
    hide: ["https://www.yna.co.kr/view/AKR1"]
  - id: kei
    url: https://keia.org/feed/
    tags: [news]
channels:
  - id: nk
    title: North Korea
    tags: [news]
    include: [북한, nuclear, { category: DPRK }, { url: /north-korea/ }]
    max_age: 30d
    pin: ["https://keia.org/report/"]
    hide: ["tag:keia.org,2026:1"]
`

func TestParseCuration(t *testing.T) {
	c, err := Parse(strings.NewReader(curatedYAML), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y, kei, nk := c.Sources[0], c.Sources[1], c.Channels[0]
	if got, want := y.Curation.Exclude[1], (feed.Rule{Field: "title", Pattern: `^\[(AD|홍보)\]`, Regexp: true, Where: "feeds.yaml:11 sources[0].exclude[1]"}); got != want {
		t.Errorf("exclude[1]=%+v, want %+v", got, want)
	}
	if got := y.Curation.Exclude[0]; got.Field != "text" || got.Pattern != "광고" || got.Regexp {
		t.Errorf("exclude[0]=%+v", got)
	}
	if y.Limit != 20 || y.Curation.Languages[0] != "ko" || y.Curation.Hide[0] != "https://www.yna.co.kr/view/AKR1" {
		t.Errorf("yonhap=%+v", y)
	}
	// keep is inherited key by key from storage.keep.
	if got, want := y.Keep, (feed.Retention{Items: 500, Days: 90}); got != want {
		t.Errorf("yonhap keep=%+v, want %+v", got, want)
	}
	if got, want := kei.Keep, (feed.Retention{Items: 500}); got != want {
		t.Errorf("kei keep=%+v, want %+v", got, want)
	}
	if got := len(nk.Curation.Include); got != 4 || nk.Curation.Include[3].Field != "url" || !nk.Curation.Include[3].Regexp {
		t.Errorf("include=%+v", nk.Curation.Include)
	}
	if nk.Curation.MaxAge != 30*24*time.Hour || nk.Pin[0] != "https://keia.org/report/" || nk.Curation.Hide[0] != "tag:keia.org,2026:1" {
		t.Errorf("nk=%+v", nk)
	}
}

func TestParseCurationProblems(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"bad regexp", `exclude: ['/(AD/']`, `feeds.yaml:8: channels[0].exclude[0]: not a valid RE2 regular expression /(AD/: missing closing ): ` + "`(AD`"},
		{"lookahead is not RE2", `include: [{ title: '/^(?!AD)/' }]`, "channels[0].include[0]: not a valid RE2 regular expression"},
		{"unknown field", `include: [{ body: nuclear }]`, `feeds.yaml:8: channels[0].include[0]: unknown field "body"; use one of text, title, summary, content, author, category, url`},
		{"two fields", `include: [{ title: a, url: b }]`, "a rule names one field"},
		{"empty keyword", `include: ["  "]`, "channels[0].include[0]: empty keyword"},
		{"list as rule", `include: [[a, b]]`, "must be a keyword, /regexp/ or a mapping"},
		{"bad language", `languages: [korean!]`, `channels[0].languages[0]: must be a BCP 47 language tag`},
		{"bad max_age", `max_age: 30`, `channels[0].max_age: must be a duration such as "36h" or a number of days such as "30d" (got 30)`},
		{"pin also hidden", "pin: [\"https://keia.org/a/\"]\n    hide: [\"http://keia.org/a\"]", `channels[0].pin[0]: "https://keia.org/a/" is also in hide`},
		{"duplicate pin", `pin: ["https://keia.org/a", "https://keia.org/a/"]`, "channels[0].pin[1]: same item as pin[0]"},
		{"misspelt key", `exclued: [x]`, `channels[0].exclued: unknown key (did you mean "exclude"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "sources:\n  - { id: kei, url: \"https://keia.org/feed/\", tags: [news] }\n" +
				"channels:\n  - id: nk\n    title: NK\n    tags: [news]\n    limit: 10\n    " + tc.yaml + "\n"
			_, err := Parse(strings.NewReader(y), "feeds.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err=%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	_, err := Parse(strings.NewReader("storage: { keep: { items: -1 } }\nsources:\n  - { id: a, url: \"https://a.example/\", keep: { days: -2 }, limit: -1 }\n"), "feeds.yaml")
	for _, want := range []string{"feeds.yaml:1: storage.keep.items: must be between 0", "feeds.yaml:3: sources[0].keep.days: must be between 0", "feeds.yaml:3: sources[0].limit: must be between 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err=%v\nwant %q", err, want)
		}
	}
}
