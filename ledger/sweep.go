package ledger

import (
	"encoding/json"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
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
// what its session wrote, [openSize, size+margin).
func sweepEdge(logDir string, from, margin uint64, log *slog.Logger) int {
	if logDir == "" {
		return 0
	}
	size, err := treeStateSize(logDir)
	if err != nil {
		return sweepTemp(logDir, 0, log)
	}
	n := sweepDir(logDir, "", nil, log) + sweepDir(logDir, ".state", nil, log)
	end := size + max(margin, 1)
	size = min(size, from)
	// Level -1 stands for the entry bundles; level L ≥ 0 holds the nodes
	// at height 8L, which exist once the tree has 2^(8L) leaves.
	for level := -1; level < 8 && (level < 0 || end>>(8*uint(level)) > 0); level++ {
		shift := 8 * uint(max(level, 0)+1) // a bundle and a level-0 tile both span 256 leaves
		tilePath := func(t uint64) string {
			if level < 0 {
				return layout.EntriesPath(t, 0)
			}
			return layout.TilePath(uint64(level), t, 0)
		}
		partial := map[string]bool{}
		var dirs []string
		for t := size >> shift; t <= (end-1)>>shift; t++ {
			p := tilePath(t)
			partial[p+".p"] = true
			if d := path.Dir(p); len(dirs) == 0 || dirs[len(dirs)-1] != d {
				dirs = append(dirs, d)
			}
		}
		for _, d := range dirs {
			n += sweepDir(logDir, d, partial, log)
		}
	}
	return n
}

// sweepDir removes the temp files in one directory of the log (a slash
// path relative to it), and in those of its subdirectories named in sub.
func sweepDir(logDir, dir string, sub map[string]bool, log *slog.Logger) int {
	des, err := os.ReadDir(filepath.Join(logDir, filepath.FromSlash(dir)))
	if err != nil {
		return 0 // absent: nothing was written there
	}
	n := 0
	for _, de := range des {
		rel := path.Join(dir, de.Name())
		switch {
		case de.Type().IsRegular():
			if removeTemp(logDir, rel, 0, log) {
				n++
			}
		case de.IsDir() && sub[rel] && strings.HasSuffix(rel, ".p"):
			n += sweepDir(logDir, rel, nil, log)
		}
	}
	return n
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
// reach: one Tessera batch (twice the ledger's round, see open), with room
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
		return
	}
	sweepEdge(l.logDir, from, l.sweepMargin, l.log)
}
