package bolt

import "syscall"

// dropMapped advises the kernel that the n bytes mapped at addr are not
// needed (madvise MADV_DONTNEED); on a shared file mapping that drops the
// page table entries and keeps the file's cached pages.
func dropMapped(addr uintptr, n int64) error {
	if n <= 0 {
		return nil
	}
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED); e != 0 {
		return e
	}
	return nil
}
