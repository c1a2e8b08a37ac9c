package ledger

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive flock on the ledger directory's lock file, so
// two processes never admit entries into one log at once (each would accept
// the same agency seq). flock, not fcntl: Tessera's own fcntl locks are
// per-process and would not exclude a second Open in this process either.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("the ledger is in use by another process (lock %s): %w", path, err)
	}
	return f, nil
}
