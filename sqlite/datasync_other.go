//go:build !linux

package sqlite

import "os"

// datasync flushes f to disk (fsync, F_FULLFSYNC on macOS).
func datasync(f *os.File) error { return f.Sync() }

// isFileAt reports whether f is still the file at path.
func isFileAt(f *os.File, path string) bool { return sameFileStat(f, path) }
