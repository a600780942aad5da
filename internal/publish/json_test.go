package publish

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	gojson "github.com/mmcdole/gofeed/json"
)

func TestJSONGolden(t *testing.T) { checkGolden(t, JSON) }

// TestJSONRoundTrip parses the rendered document with gofeed's JSON Feed
// parser (and encoding/json for the _source extension, which gofeed does
// not read) and checks that what matters survives.
func TestJSONRoundTrip(t *testing.T) {
	in := mixedInput()
	body := mustRender(t, in, JSON)
	f, err := (&gojson.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Version, jsonFeedVersion; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	if f.HomePageURL != "http://localhost:8080/channels/mixed" || f.FeedURL != "http://localhost:8080/feeds/mixed.json" {
		t.Errorf("home_page_url, feed_url = %q, %q", f.HomePageURL, f.FeedURL)
	}
	var ext struct {
		Items []struct {
			ContentText *string    `json:"content_text"`
			Source      jsonSource `json:"_source"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &ext); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Items), len(in.Items); got != want || len(ext.Items) != want {
		t.Fatalf("items = %d (%d), want %d", got, len(ext.Items), want)
	}
	for i, item := range f.Items {
		it := in.Items[i]
		src := in.Sources[it.SourceID]
		if got, want := item.ID, mixedIDs[i]; got != want {
			t.Errorf("item %d: id = %q, want %q", i, got, want)
		}
		if item.Title != it.Title || item.URL != it.Link {
			t.Errorf("item %d: title, url = %q, %q; want %q, %q", i, item.Title, item.URL, it.Title, it.Link)
		}
		var wantTags []string
		for _, c := range it.Categories {
			if !slices.Contains(wantTags, c.Term) {
				wantTags = append(wantTags, c.Term)
			}
		}
		if !slices.Equal(item.Tags, wantTags) {
			t.Errorf("item %d: tags = %q, want %q", i, item.Tags, wantTags)
		}
		if item.ContentHTML == "" {
			t.Errorf("item %d: no content_html", i)
		}
		if (item.DatePublished != "") != it.Dated {
			t.Errorf("item %d: date_published = %q with Dated=%v", i, item.DatePublished, it.Dated)
		}
		if got, want := item.DateModified, atomTime(it.Updated); got != want {
			t.Errorf("item %d: date_modified = %q, want %q", i, got, want)
		}
		if item.Language != it.Language {
			t.Errorf("item %d: language = %q, want %q", i, item.Language, it.Language)
		}
		want := jsonSource{ID: src.ID, Title: src.Title, URL: src.Link, FeedURL: src.FeedURL}
		if got := ext.Items[i].Source; !reflect.DeepEqual(got, want) {
			t.Errorf("item %d: _source = %+v, want %+v", i, got, want)
		}
	}
	first := f.Items[0]
	if first.Summary != "Short summary & more" {
		t.Errorf("summary = %q, want plain text", first.Summary)
	}
	if len(first.Authors) != 1 || first.Authors[0].Name != "Kim Min-ji" || first.Authors[0].URL != "https://alpha.example/~minji" {
		t.Errorf("authors = %+v", first.Authors)
	}
	if first.Attachments == nil || len(*first.Attachments) != 2 {
		t.Fatalf("attachments = %+v, want 2", first.Attachments)
	}
	if a := (*first.Attachments)[0]; a.MimeType != "audio/mpeg" || a.SizeInBytes != 12345 {
		t.Errorf("attachment 0 = %+v", a)
	}
	if a := (*first.Attachments)[1]; a.MimeType != "application/octet-stream" || a.SizeInBytes != 0 {
		t.Errorf("attachment 1 = %+v, want application/octet-stream without size", a)
	}
	if got, want := f.Items[1].ContentHTML, in.Items[1].Summary; got != want {
		t.Errorf("content_html of an item without content = %q, want its summary %q", got, want)
	}
}

// TestJSONEmptyItem checks that an item with neither content nor summary
// still has content (JSON Feed requires content_html or content_text) and
// that an empty channel still has "items".
func TestJSONEmptyItem(t *testing.T) {
	in := mixedInput()
	in.Items = in.Items[2:3]
	in.Items[0].Summary = ""
	var doc struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(mustRender(t, in, JSON), &doc); err != nil {
		t.Fatal(err)
	}
	if v, ok := doc.Items[0]["content_text"]; !ok || v != "" {
		t.Errorf("content_text = %v (present %v), want an empty string", v, ok)
	}
	if _, ok := doc.Items[0]["content_html"]; ok {
		t.Errorf("content_html present for an item without HTML")
	}

	var empty map[string]json.RawMessage
	if err := json.Unmarshal(mustRender(t, emptyInput(), JSON), &empty); err != nil {
		t.Fatal(err)
	}
	if got := string(empty["items"]); got != "[]" {
		t.Errorf("items of an empty channel = %q, want []", got)
	}
}
