package server

import (
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestChannelPageNamesOtherOrigins(t *testing.T) {
	pub := time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC)
	members := fakeMembers{"hani-only": {{
		SourceID: "yonhap", Key: "id:AKR1", Title: "北, 동해상으로 탄도미사일 발사", Link: "https://www.yna.co.kr/view/AKR1",
		Published: pub, Updated: pub, Seq: 1,
		Origins: []feed.Origin{
			{SourceID: "hani", Key: "id:h1", Link: "https://www.hani.co.kr/arti/1.html", Rule: "link"},
			{SourceID: "kmib", Key: "id:k1", Rule: "title"},
			{SourceID: "hani", Key: "id:h2", Link: "https://www.hani.co.kr/arti/2.html", Rule: "link"}, // hani listed it twice: named once
		},
	}}}
	f := newFeeds(t, members, []feed.Channel{{ID: "hani-only", Title: "한겨레", Sources: []string{"hani"}, Limit: 10}}, []feed.Source{
		{ID: "yonhap", Title: "연합뉴스"}, {ID: "hani", Title: "한겨레"}, {ID: "kmib", Title: "국민일보"},
	})
	s := New(f, fakeHealth{}, Options{Extras: Extras{Members: members}})
	_, body := do(t, s, "GET", "/channels/hani-only")
	for _, want := range []string{
		`<span class="source">연합뉴스</span>`, // the first origin, though the channel does not select it
		`<p class="also">Also carried by <a href="https://www.hani.co.kr/arti/1.html">한겨레</a>, 국민일보</p>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s\n%s", want, body)
		}
	}
}
