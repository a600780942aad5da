package record

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func sample(content string) feed.Item {
	at := time.Date(2026, 3, 1, 2, 3, 4, 5, time.UTC)
	return feed.Item{SourceID: "yonhap", Key: "id:1", ID: "https://yna.example/1", Link: "https://yna.example/1",
		Title: "북한 미사일", Summary: "<p>요약</p>", Content: content, Language: "ko",
		Authors: []feed.Person{{Name: "기자"}}, Categories: []feed.Category{{Term: "north"}},
		Published: at, Updated: at, FirstSeen: at, Dated: true, Seq: 7, Rev: 9,
		Origins: []feed.Origin{{SourceID: "kbs", Key: "k", Link: "https://kbs.example/k", Rule: "link", Seen: at}}}
}

// TestItemForms: a record that compresses is stored compressed, a small
// one as JSON, and both decode to the item; so does the JSON every store
// wrote before the compressed form.
func TestItemForms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		first   byte
	}{
		{"an article, compressed", strings.Repeat("<p>한반도 정세와 뉴스 본문, text of a story.</p>\n", 60), formDeflate},
		{"a short item, JSON", "", '{'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := sample(tc.content)
			if tc.content == "" {
				it = feed.Item{SourceID: "s", Key: "k", Title: "t"}
			}
			data, err := EncodeItem(it)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] != tc.first {
				t.Errorf("record starts with %q, want %q", data[0], tc.first)
			}
			got, err := DecodeItem(it.SourceID, it.Key, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, it) {
				t.Errorf("DecodeItem = %+v, want %+v", got, it)
			}
		})
	}

	t.Run("a record of before, JSON", func(t *testing.T) {
		it := sample(strings.Repeat("<p>old record</p>", 100))
		old := `{"id":"https://yna.example/1","link":"https://yna.example/1","title":"북한 미사일","summary":"<p>요약</p>",` +
			`"content":"` + it.Content + `","authors":[{"name":"기자"}],"categories":[{"term":"north"}],"language":"ko",` +
			`"published":"2026-03-01T02:03:04.000000005Z","updated":"2026-03-01T02:03:04.000000005Z","first_seen":"2026-03-01T02:03:04.000000005Z",` +
			`"dated":true,"seq":7,"rev":9,"origins":[{"source":"kbs","key":"k","link":"https://kbs.example/k","rule":"link","seen":"2026-03-01T02:03:04.000000005Z"}]}`
		got, err := DecodeItem(it.SourceID, it.Key, []byte(old))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, it) {
			t.Errorf("DecodeItem = %+v, want %+v", got, it)
		}
	})

	t.Run("a damaged compressed record is an error", func(t *testing.T) {
		data, err := EncodeItem(sample(strings.Repeat("<p>x y z</p>", 200)))
		if err != nil || data[0] != formDeflate {
			t.Fatalf("%v, form %d", err, data[0])
		}
		_, k := binary.Uvarint(data[1:])
		for name, bad := range map[string][]byte{
			"cut":         data[:len(data)/2],
			"no length":   {formDeflate},
			"huge length": {formDeflate, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
			"longer":      append([]byte{formDeflate, 2}, data[1+k:]...), // says 2 bytes of JSON
			"not deflate": append([]byte{formDeflate, 10}, "not deflate at all"...),
		} {
			if _, err := DecodeItem("s", "k", bad); err == nil {
				t.Errorf("%s: decoded", name)
			}
		}
	})
}

func FuzzDecodeItem(f *testing.F) {
	data, _ := EncodeItem(sample(strings.Repeat("<p>뉴스</p>", 100)))
	f.Add(data)
	f.Add([]byte(`{"title":"t"}`))
	f.Add([]byte{formDeflate})
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeItem("s", "k", data) // must not panic
	})
}

// TestItemFormWrittenByTheStandardLibrary: stores written before records
// were compressed with klauspost/compress hold DEFLATE from compress/flate;
// they decode, and what is written now inflates with compress/flate.
func TestItemFormWrittenByTheStandardLibrary(t *testing.T) {
	it := sample(strings.Repeat("<p>북한 미사일 발사, a story told again and again.</p>", 40))
	rec, err := EncodeItem(it)
	if err != nil || rec[0] != formDeflate {
		t.Fatalf("EncodeItem: %v, first byte %d", err, rec[0])
	}
	n, k := binary.Uvarint(rec[1:])
	j, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(rec[1+k:])))
	if err != nil || uint64(len(j)) != n {
		t.Fatalf("compress/flate reads %d bytes (%v), want %d", len(j), err, n)
	}
	var old bytes.Buffer
	old.WriteByte(formDeflate)
	old.Write(binary.AppendUvarint(nil, uint64(len(j))))
	w, _ := stdflate.NewWriter(&old, stdflate.BestSpeed)
	w.Write(j)
	w.Close()
	got, err := DecodeItem(it.SourceID, it.Key, old.Bytes())
	if err != nil || !reflect.DeepEqual(got, it) {
		t.Fatalf("a record compress/flate wrote: %v\n got %+v\nwant %+v", err, got, it)
	}
}
