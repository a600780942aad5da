package canon

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestTitleFoldsToTheSameKey(t *testing.T) {
	groups := [][]string{
		{ // one Yonhap story as three outlets title it: quotes, dots, spaces
			"‘삶은 소대가리’ 막말한 北, 간부들엔 “언어예절 지키라우”",
			"'삶은 소대가리' 막말한 北…간부들엔 \"언어예절 지키라우\"",
			"삶은 소대가리 막말한 北 간부들엔 언어예절 지키라우",
		},
		{ // labels outlets put in front, and spacing of compounds
			"[속보] 윤석열 대통령 취임식 거행",
			"【속보】윤석열 대통령 취임식 거행",
			"윤석열 대통령  취임식   거행",
			"윤석열대통령 취임식 거행",
		},
		{ // full-width forms, case, middle dots
			"ＵＳ－ＲＯＫ Ａｌｌｉａｎｃｅ ７０ｔｈ Ａｎｎｉｖｅｒｓａｒｙ",
			"US-ROK alliance 70th anniversary",
			"U.S.·ROK Alliance: 70th Anniversary!",
		},
		{ // Hangul composed and decomposed (NFD, as macOS writes file names), middle dot ㆍ
			"한미ㆍ한일 정상회담 결과 발표",
			norm.NFD.String("한미·한일 정상회담 결과 발표"),
		},
		{ // half-width Hangul letters
			"ﾡ 한국 북한 대화 재개 합의",
			"ㄱ 한국 북한 대화 재개 합의",
		},
	}
	for _, g := range groups {
		want := Title(g[0])
		if want == "" {
			t.Fatalf("Title(%q) is empty", g[0])
		}
		for _, s := range g[1:] {
			if got := Title(s); got != want {
				t.Errorf("Title(%q)\n = %q\nwant %q (as for %q)", s, got, want, g[0])
			}
		}
	}
}

func TestTitleKeepsStoriesApart(t *testing.T) {
	pairs := [][2]string{
		{"북한 단거리 탄도미사일 3발 발사", "북한 단거리 탄도미사일 4발 발사"},
		{"Seoul and Tokyo agree on talks", "Seoul and Beijing agree on talks"},
		{"[사설] 북한 미사일 도발 규탄한다", "북한 미사일 도발 규탄한다 사설"},
	}
	for _, p := range pairs {
		if a, b := Title(p[0]), Title(p[1]); a == b {
			t.Errorf("Title(%q) = Title(%q) = %q", p[0], p[1], a)
		}
	}
}

func TestTitleTooShort(t *testing.T) {
	for _, s := range []string{"", "사설", "오늘의 운세", "[포토] 사진", "Photos", "…!?", strings.Repeat("·", 40)} {
		if got := Title(s); got != "" {
			t.Errorf("Title(%q) = %q, want \"\" (too short to identify a story)", s, got)
		}
	}
	if got := Title("[속보]"); got != "" {
		t.Errorf("a label alone: %q", got)
	}
	if got, want := Title("Korea Economic Institute"), "koreaeconomicinstitute"; got != want {
		t.Errorf("Title = %q, want %q", got, want)
	}
}

func FuzzTitle(f *testing.F) {
	for _, s := range []string{"[속보] 윤석열", "ＡＢＣ", norm.NFD.String("한국"), "[", "<<>>", "[a]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Title(s)
		if !utf8.ValidString(k) || strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) }) >= 0 {
			t.Errorf("Title(%q) = %q: invalid UTF-8, or space or punctuation left", s, k)
		}
		if k != Title(s) {
			t.Errorf("Title(%q) not deterministic", s)
		}
	})
}
