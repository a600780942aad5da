package bolt

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder names the process holding the lock on the file at path, as
// "; process 1234 (aggregator) holds it", from Linux's /proc/locks. It
// returns "" when it cannot tell (another system, no /proc, or this very
// process holding it).
func lockHolder(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer f.Close()
	// A line reads "1: FLOCK  ADVISORY  WRITE 4242 08:01:1319 0 EOF": the
	// pid, then major:minor:inode of the locked file.
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || !strings.HasSuffix(fields[5], ino) {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid == os.Getpid() {
			continue
		}
		name := "unknown program"
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			name = strings.TrimSpace(string(comm))
		}
		return fmt.Sprintf("; process %d (%s) holds it", pid, name)
	}
	return ""
}
