package feed

import (
	"strings"
	"testing"
)

// BenchmarkIdentity is an item's key: from its upstream id (the common
// case), and from a hash of title and content when it has neither id nor
// link.
func BenchmarkIdentity(b *testing.B) {
	content := strings.Repeat("<p>한반도 뉴스 본문 text of a story.</p>", 40)
	b.Run("id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Identity("https://www.example.org/news/2026/11/27/story-12345", "https://www.example.org/news/12345", "Title", content)
		}
	})
	b.Run("hash", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Identity("", "", "A story without id or link", content)
		}
	})
}
