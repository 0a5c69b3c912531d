package sqlite

import (
	"os"
	"syscall"
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
