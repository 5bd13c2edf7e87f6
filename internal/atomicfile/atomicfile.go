// Package atomicfile writes files so that a reader never sees a half-written one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to a temporary file next to path, syncs it, and renames
// it into place with the given permissions. A reader (a client loading
// SSL_CERT_FILE, a restarted emulator loading its state) sees either the old
// content or the new, never a part.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
