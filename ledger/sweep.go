package ledger

import (
	"encoding/json"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// sweepEdge is the sweep of an opening ledger: sweepTemp (any age, the
// log is not being written yet) of only the directories a write can have
// been left half-done in, so that a start does not read every file of a
// log of millions of entries. Tessera's POSIX driver writes next to its
// targets (storage/posix/file_ops.go): the checkpoint at the log's root,
// its state in .state/, and, while integrating leaves from the tree size
// in .state/treeState, the entry bundles and tiles of the tree's right
// edge from that size up to at most one sequencing batch beyond it (the
// integration is serialised, and the tree state is written after its
// tiles). A crash or a failed write therefore leaves its temp files in
// the directories of the tiles covering [size, size+margin), and their
// ".p" directories of partial tiles. Whatever was left earlier was swept
// by that start, by the recovery loop after a failed write, or by Close
// (see sweepOnClose). If the tree state cannot be read
// (another Tessera version, a new log), the whole log is swept as before.
//
// from widens the edge to the tiles from that tree size on: Close sweeps
// what its session wrote, [openSize, size+margin). An open whose edge
// directories are as the last Close's sweep left them (SweptFile: their
// change times prove that no name was added since) lists only the root
// and .state/.
func sweepEdge(logDir string, from, margin uint64, log *slog.Logger) int {
	if logDir == "" {
		return 0
	}
	raw, err := os.ReadFile(filepath.Join(logDir, ".state", "treeState"))
	size, serr := treeStateSize(logDir)
	if err != nil || serr != nil {
		return sweepTemp(logDir, 0, log)
	}
	n := sweepDir(logDir, "", nil, log) + sweepDir(logDir, ".state", nil, log)
	if edgeUnchanged(logDir, raw, margin) && from >= size {
		return n // as the last Close's sweep left it (see SweptFile)
	}
	edgeDirs(min(size, from), size+max(margin, 1), func(dir string, partial func(string) bool) {
		n += sweepDir(logDir, dir, partial, log)
	})
	return n
}

// sweepDir removes the temp files in one directory of the log (a slash
// path relative to it), and in those of its subdirectories named in sub.
//
// A directory of full tiles holds up to 1,000 tiles and their ".p"
// directories, so its listing grows as the tree fills it (at a million
// entries the edge's holds ≈1,500 names, at 10k ≈80) while the names that
// can be temp files are few. So the names are read unsorted, with no
// entry per name, and a name that is a tile's own ("123", "123.p",
// "x004") is passed over without building its path or matching it:
// Tessera's temp name is its target's followed by a random number, so in
// such a directory it is four digits or more, which the test below lets
// through to isTesseraTemp and removeTemp (which stat it: only a regular
// file is removed). What is left per name is the kernel's listing.
func sweepDir(logDir, dir string, sub func(rel string) bool, log *slog.Logger) int {
	f, err := os.Open(filepath.Join(logDir, filepath.FromSlash(dir)))
	if err != nil {
		return 0 // absent: nothing was written there
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	tiles := strings.HasPrefix(dir, "tile/") && !strings.HasSuffix(dir, ".p")
	n := 0
	for _, name := range names {
		if tiles && tileName(name) {
			if strings.HasSuffix(name, ".p") {
				if rel := dir + "/" + name; sub != nil && sub(rel) {
					n += sweepDir(logDir, rel, nil, log)
				}
			}
			continue
		}
		if removeTemp(logDir, path.Join(dir, name), 0, log) {
			n++
		}
	}
	return n
}

// tileName says whether name is one a tlog-tiles directory holds for
// itself: a tile or bundle ("123"), its partials' directory ("123.p") or a
// directory of the path's upper digits ("x004"), never a temp file's.
func tileName(name string) bool {
	switch {
	case len(name) == 3:
		return isDigits(name)
	case len(name) == 5 && name[3:] == ".p":
		return isDigits(name[:3])
	case len(name) == 4 && name[0] == 'x':
		return isDigits(name[1:])
	}
	return false
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// treeStateSize reads the integrated tree size from Tessera's POSIX state
// file (.state/treeState, JSON {"size":N,"root":…} in Tessera v1.0.4).
func treeStateSize(logDir string) (uint64, error) {
	raw, err := os.ReadFile(filepath.Join(logDir, ".state", "treeState"))
	if err != nil {
		return 0, err
	}
	var ts struct {
		Size *uint64 `json:"size"`
	}
	if err := json.Unmarshal(raw, &ts); err != nil {
		return 0, err
	}
	if ts.Size == nil {
		return 0, os.ErrNotExist
	}
	return *ts.Size, nil
}

// sweepMargin is how far past the integrated size a write in progress can
// reach: one Tessera batch (the size of a sequencer round, see open), with room
// for a larger batch size in an earlier run.
func sweepMargin(batch uint) uint64 { return max(2*uint64(batch), 1<<16) }

// sweepOnClose sweeps once Tessera has stopped writing. After a storage
// failure in this session (whose temp files the recovery loop may not
// have reached), the whole log; otherwise the tiles this session wrote.
func (l *Ledger) sweepOnClose() {
	l.mu.Lock()
	failed, from := l.recoveries > 0 || l.broken != nil, l.openSize
	l.mu.Unlock()
	if failed {
		sweepTemp(l.logDir, 0, l.log)
	} else {
		sweepEdge(l.logDir, from, l.sweepMargin, l.log)
	}
	writeSwept(l.logDir, l.sweepMargin)
}
