package search

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// TestSources: the sources with an item in the index, each once; a source
// whose last item left the index (hidden, unpublished) is no longer one,
// after the write that took it out.
func TestSources(t *testing.T) {
	db := openStore(t)
	ix := openIndex(t, filepath.Join(t.TempDir(), "ix"))
	sources := func() []string {
		t.Helper()
		got, err := ix.Sources()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := sources(); len(got) != 0 {
		t.Errorf("empty index: sources %q", got)
	}
	save(t, db, "yonhap", item("yonhap", "y1", "북한", "", day0), item("yonhap", "y2", "남한", "", day0))
	save(t, db, "38north", item("38north", "n1", "Yongbyon", "", day0))
	save(t, db, "keia", item("keia", "k1", "Alliance", "", day0))
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if got, want := sources(), []string{"38north", "keia", "yonhap"}; !slices.Equal(got, want) {
		t.Errorf("sources %q, want %q", got, want)
	}
	// keia's only item and one of yonhap's two are no longer published.
	db.hidden["k1"], db.hidden["y1"] = true, true
	save(t, db, "keia", item("keia", "k1", "Alliance, edited", "", day0))
	save(t, db, "yonhap", item("yonhap", "y1", "북한, 수정", "", day0), item("yonhap", "y2", "남한", "", day0))
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if got, want := sources(), []string{"38north", "yonhap"}; !slices.Equal(got, want) {
		t.Errorf("after the hide: sources %q, want %q", got, want)
	}
}
