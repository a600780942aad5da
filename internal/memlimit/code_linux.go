package memlimit

import (
	"bufio"
	"debug/elf"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ownCode is the program file's read-only mappings in this process: its
// code and constant data. Only for an executable the loader does not
// relocate (ELF ET_EXEC, Go's default on Linux): no page of those mappings
// was ever written, so giving them back loses nothing. A position-
// independent build's read-only data may hold relocated pages of the
// process's own; it gets ErrUnsupported.
func ownCode() ([]span, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return nil, err
	}
	typ := f.Type
	f.Close()
	if typ != elf.ET_EXEC {
		return nil, errors.ErrUnsupported
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer maps.Close()
	return readOnlyMappings(maps, exe)
}

// readOnlyMappings are the private, read-only mappings of file in a
// /proc/PID/maps listing.
func readOnlyMappings(maps io.Reader, file string) ([]span, error) {
	var out []span
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode path; the path is the rest of
		// the line, spaces and all
		f := strings.Fields(sc.Text())
		if len(f) < 6 || len(f[1]) != 4 || f[1][0] != 'r' || f[1][1] != '-' || f[1][3] != 'p' {
			continue
		}
		if pathOf(sc.Text()) != file {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		out = append(out, span{uintptr(a), uintptr(b - a)})
	}
	return out, sc.Err()
}

// pathOf is the path of a /proc/PID/maps line: what follows its first
// five fields.
func pathOf(line string) string {
	for range 5 {
		line = strings.TrimLeft(line, " ")
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			return ""
		}
		line = line[i:]
	}
	return strings.TrimLeft(line, " ")
}

// drop advises the kernel that the pages of ss are not needed
// (MADV_DONTNEED): the page table entries go, the file's pages stay in the
// page cache, and the next instruction or constant read from one maps it
// again from there (a minor fault).
func drop(ss []span) error {
	for _, s := range ss {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, s.addr, s.len, syscall.MADV_DONTNEED); e != 0 {
			return e
		}
	}
	return nil
}
