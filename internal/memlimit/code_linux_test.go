package memlimit

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMappingsKeepsOnlyTheFilesPrivateReadOnlyOnes(t *testing.T) {
	const maps = `00400000-01144000 r-xp 00000000 fe:00 9978207                            /srv/aggregator
01144000-0201a000 r--p 00d44000 fe:00 9978207                            /srv/aggregator
0201a000-021df000 rw-p 01c1a000 fe:00 9978207                            /srv/aggregator
021df000-021e0000 r--s 00000000 fe:00 9978207                            /srv/aggregator
7f0000000000-7f0000001000 r-xp 00000000 fe:00 1234                       /lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r--p 00000000 fe:00 1234                       /srv/aggregator-old
7f0000004000-7f0000005000 rw-p 00000000 00:00 0
7f0000006000-7f0000005000 r--p 00000000 fe:00 9978207                    /srv/aggregator
zzzz-7f0000007000 r--p 00000000 fe:00 9978207                            /srv/aggregator
7f0000008000-7f0000009000 r--p 00000000 fe:00 9978207                    /srv/aggregator (deleted)
`
	got, err := readOnlyMappings(strings.NewReader(maps), "/srv/aggregator")
	if err != nil {
		t.Fatal(err)
	}
	spaced, err := readOnlyMappings(strings.NewReader("00400000-01144000 r-xp 00000000 fe:00 42      /opt/my apps/aggregator\n"+
		"01144000-0201a000 r--p 00d44000 fe:00 42      /opt/my apps/aggregator-old\n"), "/opt/my apps/aggregator")
	if err != nil || len(spaced) != 1 || spaced[0] != (span{0x400000, 0x1144000 - 0x400000}) {
		t.Errorf("a path with a space: got %x, %v; want the one mapping of that file", spaced, err)
	}
	want := []span{{0x400000, 0x1144000 - 0x400000}, {0x1144000, 0x201a000 - 0x1144000}}
	if len(got) != len(want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: got %x, want %x", i, got[i], want[i])
		}
	}
}

// codeRSS is the resident KB of the test binary's read-only mappings,
// from /proc/self/smaps.
func codeRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			ours = len(fields) == 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
		case ours && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// TestDropGivesCodeBack: the test binary's code pages leave the RSS and
// the program goes on running from them, mapped again on use.
func TestDropGivesCodeBack(t *testing.T) {
	code, err := ownCode()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("a position-independent test binary: its read-only pages are left mapped")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(code) == 0 {
		t.Fatal("no read-only mapping of the test binary found")
	}
	before := codeRSS(t)
	if err := drop(code); err != nil {
		t.Fatal(err)
	}
	// Reading smaps maps again the pages it runs (and their 64 KB
	// around): what the start-up and the tests before ran stays out.
	after := codeRSS(t)
	if before-after < 64 {
		t.Errorf("code RSS %d KB before, %d KB after: want at least a fault-around window (64 KB) less", before, after)
	}
	// Running on, through code and tables unmapped a moment ago.
	if got := Next(Floor(1000), 1<<30); got != 1<<30+1<<29+overhead {
		t.Errorf("Next after the drop = %d", got)
	}
	if got := codeRSS(t); got == 0 {
		t.Error("no code mapped while running")
	}
}
