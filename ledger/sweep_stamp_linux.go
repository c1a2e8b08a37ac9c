package ledger

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// statDir stamps a directory: its inode and change time, the zero stamp
// if it is absent; false if it cannot be told (another error, not a
// directory).
func statDir(p string) (dirStamp, bool) {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return dirStamp{}, true
	}
	if err != nil || !fi.IsDir() {
		return dirStamp{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirStamp{}, false
	}
	return dirStamp{Ino: st.Ino, Ctime: st.Ctim.Nano()}, true
}
