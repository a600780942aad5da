package record

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"

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
		{"an article, compressed", strings.Repeat("<p>한반도 정세와 뉴스 본문, text of a story.</p>\n", 60), formZstd},
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
		if err != nil || data[0] != formZstd {
			t.Fatalf("%v, form %d", err, data[0])
		}
		j, _, err := decompressItem(data)
		if err != nil {
			t.Fatal(err)
		}
		old := deflateRecord(t, j)
		_, k := binary.Uvarint(old[1:])
		// A frame that says its content takes 1 TiB.
		huge := []byte{formZstd, 7, 9, 0, 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0}
		for name, bad := range map[string][]byte{
			"zstd, cut":           data[:len(data)/2],
			"zstd, flipped byte":  flip(data, len(data)/2),
			"zstd, nothing":       {formZstd},
			"zstd, no flags":      {formZstd, 7, 9},
			"zstd, no frame":      {formZstd, 7, 9, 0},
			"zstd, bad seq":       {formZstd, 0xff},
			"zstd, huge":          huge,
			"zstd, not zstd":      append([]byte{formZstd}, "not zstd at all"...),
			"deflate, cut":        old[:len(old)/2],
			"deflate, no length":  {formDeflate},
			"deflate, huge":       {formDeflate, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
			"deflate, longer":     append([]byte{formDeflate, 2}, old[1+k:]...), // says 2 bytes of JSON
			"deflate, not flated": append([]byte{formDeflate, 10}, "not deflate at all"...),
		} {
			if _, err := DecodeItem("s", "k", bad); err == nil {
				t.Errorf("%s: decoded", name)
			}
		}
	})
}

// flip returns a copy of b with the byte at i inverted.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// deflateRecord is j in formDeflate, as stores wrote items from issue 17's
// round 6 to its round 9 (klauspost/compress/flate at BestSpeed).
func deflateRecord(t testing.TB, j []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(formDeflate)
	b.Write(binary.AppendUvarint(nil, uint64(len(j))))
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(j)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func FuzzDecodeItem(f *testing.F) {
	data, _ := EncodeItem(sample(strings.Repeat("<p>뉴스</p>", 100)))
	f.Add(data)
	j, _, _ := decompressItem(data)
	f.Add(deflateRecord(f, j))
	f.Add([]byte(`{"title":"t"}`))
	f.Add([]byte{formDeflate})
	f.Add([]byte{formZstd})
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeItem("s", "k", data) // must not panic
	})
}

// TestItemFormsOfBefore: the DEFLATE records of stores written before
// Zstandard decode to their items, whether compress/flate wrote them
// (before klauspost/compress) or klauspost/compress/flate.
func TestItemFormsOfBefore(t *testing.T) {
	it := sample(strings.Repeat("<p>북한 미사일 발사, a story told again and again.</p>", 40))
	j, err := Marshal(toRecord(it)) // the JSON of before: Seq, Rev and IDShared inside
	if err != nil {
		t.Fatal(err)
	}
	var std bytes.Buffer
	std.WriteByte(formDeflate)
	std.Write(binary.AppendUvarint(nil, uint64(len(j))))
	w, _ := stdflate.NewWriter(&std, stdflate.BestSpeed)
	w.Write(j)
	w.Close()
	for name, old := range map[string][]byte{"compress/flate": std.Bytes(), "klauspost/compress/flate": deflateRecord(t, j)} {
		got, err := DecodeItem(it.SourceID, it.Key, old)
		if err != nil || !reflect.DeepEqual(got, it) {
			t.Errorf("a record %s wrote: %v\n got %+v\nwant %+v", name, err, got, it)
		}
	}
}

// TestPrepared: a record made from a Prepared carries the Seq, Rev and
// IDShared decided after it, and its compressed JSON is the one prepared;
// an item that changed in any other way since is encoded afresh.
func TestPrepared(t *testing.T) {
	it := sample(strings.Repeat("<p>통일부 발표, a statement.</p>", 30))
	p, err := Prepare(it)
	if err != nil || p.body == nil {
		t.Fatalf("Prepare: %v, body %d bytes", err, len(p.body))
	}
	decided := it
	decided.Seq, decided.Rev, decided.IDShared = 1<<40, 3, true
	rec, err := p.Record(decided)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(rec, p.body) {
		t.Error("the record does not end with the prepared frame")
	}
	if got, err := DecodeItem(it.SourceID, it.Key, rec); err != nil || !reflect.DeepEqual(got, decided) {
		t.Errorf("decoded %+v, %v\nwant %+v", got, err, decided)
	}
	changed := decided
	changed.Title = "다른 제목"
	rec, err = p.Record(changed)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeItem(it.SourceID, it.Key, rec); err != nil || !reflect.DeepEqual(got, changed) {
		t.Errorf("changed: decoded %+v, %v\nwant %+v", got, err, changed)
	}
	small := feed.Item{SourceID: "s", Key: "k", Title: "t", Seq: 2}
	ps, _ := Prepare(small)
	if ps.body != nil {
		t.Error("a small item was compressed")
	}
	small.Seq = 3
	if rec, err := ps.Record(small); err != nil || rec[0] != '{' {
		t.Errorf("small item from its Prepared: %q, %v; want the JSON form", rec, err)
	} else if got, _ := DecodeItem("s", "k", rec); got.Seq != 3 {
		t.Errorf("small item from its Prepared: seq %d, want 3", got.Seq)
	}
	small.Seq = 2
	if rec, err := EncodeItem(small); err != nil || rec[0] != '{' {
		t.Errorf("small item: %q, %v; want the JSON form", rec, err)
	} else if got, _ := DecodeItem("s", "k", rec); got.Seq != 2 {
		t.Errorf("small item: seq %d, want 2", got.Seq)
	}
}
