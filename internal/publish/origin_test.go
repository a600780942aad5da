package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"slices"
	"testing"
	"time"

	"github.com/mmcdole/gofeed/atom"

	"github.com/kpolicy/aggregator/internal/feed"
)

// originsInput is the "origins" golden channel: it selects only hani, yet
// shows the Yonhap story hani carried, attributed to yonhap (its first
// origin), with hani and kmib as the other sources that carried it.
func originsInput() Input {
	pub := time.Date(2025, 3, 1, 9, 30, 0, 0, kst)
	sources := map[string]SourceInfo{
		"yonhap": {ID: "yonhap", Title: "연합뉴스", FeedURL: "https://www.yna.co.kr/rss/news.xml", Link: "https://www.yna.co.kr/"},
		"hani":   {ID: "hani", Title: "한겨레", FeedURL: "https://www.hani.co.kr/rss/", Link: "https://www.hani.co.kr/"},
		"kmib":   {ID: "kmib", Title: "국민일보", FeedURL: "https://rss.kmib.co.kr/data/kmibPolRss.xml", Link: "https://www.kmib.co.kr/"},
	}
	return Input{
		Channel: feed.Channel{ID: "origins", Title: "한겨레 only", Sources: []string{"hani"}, Limit: 10},
		Items: []feed.Item{{
			SourceID: "yonhap", Key: "id:AKR20250301000100504", ID: "AKR20250301000100504",
			Link:      "https://www.yna.co.kr/view/AKR20250301000100504?input=1195m",
			Title:     "北, 동해상으로 탄도미사일 발사…합참 \"추가 도발 대비\"",
			Summary:   "<p>북한이 1일 동해상으로 탄도미사일을 발사했다.</p>",
			Authors:   []feed.Person{{Name: "김기자"}},
			Published: pub, Updated: pub, FirstSeen: pub, Dated: true,
			Origins: []feed.Origin{
				{SourceID: "hani", Key: "id:hani-1185021", Link: "http://www.yna.co.kr/view/AKR20250301000100504?input=1195m", Rule: "link", Seen: pub.Add(time.Minute)},
				{SourceID: "kmib", Key: "link:news.kmib.co.kr/article/view.asp?arcid=0020912345", Link: "https://news.kmib.co.kr/article/view.asp?arcid=0020912345", Rule: "title", Seen: pub.Add(2 * time.Minute)},
				{SourceID: "gone", Key: "id:x", Rule: "title"}, // a source no longer configured, without a link: left out
			},
		}},
		Sources:    map[string]SourceInfo{"hani": sources["hani"]},
		AllSources: sources,
		BaseURL:    testBase,
	}
}

func TestOriginsPublished(t *testing.T) {
	in := originsInput()
	wantVia := []string{
		"http://www.yna.co.kr/view/AKR20250301000100504?input=1195m 한겨레",
		"https://news.kmib.co.kr/article/view.asp?arcid=0020912345 국민일보",
	}

	t.Run("atom", func(t *testing.T) {
		b, err := Render(in, Atom)
		if err != nil {
			t.Fatal(err)
		}
		f, err := (&atom.Parser{}).Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		e := f.Entries[0]
		var via []string
		for _, l := range e.Links {
			if l.Rel == "via" {
				via = append(via, l.Href+" "+l.Title)
			}
		}
		if !slices.Equal(via, wantVia) {
			t.Errorf("via links = %q, want %q", via, wantVia)
		}
		if e.Source == nil || e.Source.Title != "연합뉴스" {
			t.Errorf("atom:source = %+v, want the first origin, yonhap", e.Source)
		}
	})
	t.Run("rss", func(t *testing.T) {
		b, err := Render(in, RSS)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Items []struct {
				Source struct {
					URL   string `xml:"url,attr"`
					Title string `xml:",chardata"`
				} `xml:"source"`
				Links []struct {
					Href  string `xml:"href,attr"`
					Rel   string `xml:"rel,attr"`
					Title string `xml:"title,attr"`
				} `xml:"http://www.w3.org/2005/Atom link"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		it := doc.Items[0]
		var via []string
		for _, l := range it.Links {
			if l.Rel == "via" {
				via = append(via, l.Href+" "+l.Title)
			}
		}
		if !slices.Equal(via, wantVia) {
			t.Errorf("atom:link rel=via = %q, want %q\n%s", via, wantVia, b)
		}
		if it.Source.Title != "연합뉴스" || it.Source.URL != "https://www.yna.co.kr/rss/news.xml" {
			t.Errorf("<source> = %+v, want yonhap", it.Source)
		}
	})
	t.Run("json", func(t *testing.T) {
		b, err := Render(in, JSON)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Items []struct {
				Source jsonSource `json:"_source"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		s := doc.Items[0].Source
		want := []jsonVia{
			{Title: "한겨레", URL: "http://www.yna.co.kr/view/AKR20250301000100504?input=1195m"},
			{Title: "국민일보", URL: "https://news.kmib.co.kr/article/view.asp?arcid=0020912345"},
		}
		if s.ID != "yonhap" || !slices.Equal(s.Also, want) {
			t.Errorf("_source = %+v, want yonhap with also %+v", s, want)
		}
	})
}
