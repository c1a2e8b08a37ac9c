//go:build unix

package witness

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on path (created if missing), so that
// two witness processes never share a state directory: each would check
// the old size against its own copy of the state. flock belongs to the open
// file, so a second New on the same directory in one process is refused
// too.
func lockFile(path string) (func() error, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("in use by another witness (lock " + path + ")")
		}
		return nil, err
	}
	return f.Close, nil
}
