package sqlite

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data to disk with fdatasync, which also writes
// the file's size when it grew but skips its timestamps, which a commit
// does not need.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// isFileAt reports whether f is still the file at path. It asks statx
// for the file's identity only: a stat that reads the timestamps
// (os.Stat, f.Stat) makes the kernel give the file's next write a
// fine-grained modification time (multigrain timestamps, Linux 6.13+),
// and then on some file systems (ext4 without a journal) the next
// fdatasync writes the inode as well, a second I/O in every sync.
// A kernel without statx (before 4.11) or a seccomp profile that refuses
// it falls back to os.Stat: the check must not fail, or the syncer would
// reopen the WAL before every sync.
func isFileAt(f *os.File, path string) bool {
	var a, b unix.Statx_t
	const mask = unix.STATX_INO
	err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH, mask, &a)
	if err == nil {
		err = unix.Statx(unix.AT_FDCWD, path, 0, mask, &b)
	}
	switch err {
	case nil:
		return a.Ino == b.Ino && a.Dev_major == b.Dev_major && a.Dev_minor == b.Dev_minor
	case unix.ENOSYS, unix.EPERM:
		return sameFileStat(f, path)
	}
	return false
}
