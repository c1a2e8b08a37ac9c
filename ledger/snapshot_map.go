package ledger

import (
	"fmt"
	"os"
	"syscall"
)

// mapSnapshot maps the snapshot file read-only instead of reading it:
// opening a ledger then touches only the pages it checks (the header, the
// block index, the blocks its lookups land in), not the whole id table,
// which the background check reads on the other core. The mapping is
// kept until Close (l.maps), since the state read from it points into it.
//
// Sound because the file is only ever replaced by rename (atomicfile): a
// new snapshot is a new file, and the mapped one stays as it was while
// mapped. What a mapping cannot defend against is another process writing
// into the file in place or truncating it (the ledger's directory is its
// own, under its lock): a byte changed after its block was checked would
// be used unchecked, and a truncation is a SIGBUS. That is the same trust
// the ledger puts in its log's files; the log stays the truth either way.
func (l *Ledger) mapSnapshot(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	if fi.Size() != int64(int(fi.Size())) {
		return nil, fmt.Errorf("%s: %d bytes is too large to map", path, fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		// A file system without mmap: read it.
		return os.ReadFile(path)
	}
	l.maps = append(l.maps, data)
	return data, nil
}

// unmapSnapshots releases the mappings, once nothing can read the states
// that point into them (the end of Close).
func (l *Ledger) unmapSnapshots() {
	for _, m := range l.maps {
		syscall.Munmap(m)
	}
	l.maps = nil
}
