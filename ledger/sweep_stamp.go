package ledger

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// SweptFile, in the ledger directory (beside the published log/, not in
// it), records what the last Close's sweep left at the tree's edge, so
// that the next open need not list those directories again.
//
// Why listing is worth skipping: a directory of full tiles holds up to
// 1,000 tiles and their ".p" directories, and the kernel's listing of the
// edge's (≈1,500 names at a million entries, ≈80 at 10k) was most of what
// opening a large ledger cost. Why a stamp is enough: a temp file is a
// name added to a directory, and adding or removing a name sets the
// directory's change time (ctime, which no user call can set back, unlike
// mtime) to the clock's time. So if every edge directory has the inode and
// change time it had right after Close swept it (and the ones absent then
// are still absent), no name was added to any of them since, and no temp
// file can be there: the sweep it would do finds nothing. The stamp is
// bound to the tree state the sweep saw and the margin it used (which
// fix the set of edge directories); a ".p" directory created since would
// have changed its parent's stamp. Any difference, an unreadable or
// missing file, or a platform without change times, and open sweeps as
// before: the file can make a start skip a listing, never skip a temp
// file. It is written only once Tessera has stopped writing (Close), and
// a crash leaves a stale one, which the first changed stamp refutes.
const SweptFile = "log.swept"

type sweptState struct {
	TreeState string              `json:"tree_state"` // .state/treeState as the sweep saw it
	Margin    uint64              `json:"margin"`
	Dirs      map[string]dirStamp `json:"dirs"` // slash paths relative to log/
}

// dirStamp identifies a directory's set of names; the zero stamp is an
// absent directory.
type dirStamp struct {
	Ino   uint64 `json:"ino"`
	Ctime int64  `json:"ctime_ns"`
}

func sweptPath(logDir string) string { return filepath.Join(filepath.Dir(logDir), SweptFile) }

// edgeDirs calls visit with each directory of the tiles and bundles
// covering [from, end) and says, for a ".p" directory's path, whether it
// is one of those tiles' partials' (see sweepEdge).
func edgeDirs(from, end uint64, visit func(dir string, partial func(rel string) bool)) {
	// Level -1 stands for the entry bundles; level L ≥ 0 holds the nodes
	// at height 8L, which exist once the tree has 2^(8L) leaves.
	for level := -1; level < 8 && (level < 0 || end>>(8*uint(level)) > 0); level++ {
		shift := 8 * uint(max(level, 0)+1) // a bundle and a level-0 tile both span 256 leaves
		lo, hi := from>>shift, (end-1)>>shift
		tilePath := func(t uint64) string {
			if level < 0 {
				return layout.EntriesPath(t, 0)
			}
			return layout.TilePath(uint64(level), t, 0)
		}
		prefix := path.Dir(tilePath(0)) + "/" // "tile/entries/", "tile/0/"
		partial := func(rel string) bool {
			index, ok := strings.CutPrefix(rel, prefix)
			if !ok || !strings.HasSuffix(index, ".p") {
				return false
			}
			t, _, err := layout.ParseTileIndexPartial(index + "/1")
			return err == nil && lo <= t && t <= hi
		}
		// A directory holds 1,000 consecutive indices ("x003/000" to
		// "x003/999").
		for d := lo / 1000; d <= hi/1000; d++ {
			visit(path.Dir(tilePath(d*1000)), partial)
		}
	}
}

// edgeStamps stamps the edge directories of [size, size+margin) and the
// ".p" directories among them of those tiles (listing them: Close's
// time, not open's).
func edgeStamps(logDir string, size, margin uint64) (map[string]dirStamp, bool) {
	out := map[string]dirStamp{}
	ok := true
	edgeDirs(size, size+max(margin, 1), func(dir string, partial func(string) bool) {
		st, have := statDir(filepath.Join(logDir, filepath.FromSlash(dir)))
		if !have {
			ok = false
			return
		}
		out[dir] = st
		if st == (dirStamp{}) {
			return
		}
		f, err := os.Open(filepath.Join(logDir, filepath.FromSlash(dir)))
		if err != nil {
			ok = false
			return
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			ok = false
		}
		for _, name := range names {
			if rel := dir + "/" + name; partial(rel) {
				if out[rel], have = statDir(filepath.Join(logDir, filepath.FromSlash(rel))); !have {
					ok = false
				}
			}
		}
	})
	return out, ok
}

// writeSwept records the stamps after a sweep that left no temp file at
// the edge (Close, once Tessera has stopped). Failing to write it only
// costs the next open a listing.
func writeSwept(logDir string, margin uint64) {
	if logDir == "" {
		return // the AWS driver's log is not on this disk
	}
	raw, err := os.ReadFile(filepath.Join(logDir, ".state", "treeState"))
	if err != nil {
		return
	}
	size, err := treeStateSize(logDir)
	if err != nil {
		return
	}
	dirs, ok := edgeStamps(logDir, size, margin)
	if !ok {
		os.Remove(sweptPath(logDir))
		return
	}
	data, err := json.Marshal(sweptState{TreeState: string(raw), Margin: margin, Dirs: dirs})
	if err == nil {
		err = os.WriteFile(sweptPath(logDir)+".new", data, 0o644)
	}
	if err == nil {
		err = os.Rename(sweptPath(logDir)+".new", sweptPath(logDir))
	}
	if err != nil {
		os.Remove(sweptPath(logDir) + ".new")
	}
}

// edgeUnchanged says whether the edge directories are as the last Close's
// sweep left them (see SweptFile): the same tree state and margin, and
// every directory it stamped with the same stamp. It removes the file:
// the stamp vouches only for the time between a Close and the next open,
// when no writer of this ledger runs (it holds the directory lock). Were
// it kept, a session that reopened within one tick of the clock that sets
// change times (a few milliseconds) and crashed mid-write could leave a
// temp file under an unchanged stamp. (The removal is not synced: ext4's
// journal commits it no later than the session's first file creation.)
func edgeUnchanged(logDir string, rawTreeState []byte, margin uint64) bool {
	data, err := os.ReadFile(sweptPath(logDir))
	if err != nil {
		return false
	}
	if os.Remove(sweptPath(logDir)) != nil {
		return false
	}
	var s sweptState
	if json.Unmarshal(data, &s) != nil || !bytes.Equal([]byte(s.TreeState), rawTreeState) || s.Margin != margin || len(s.Dirs) == 0 {
		return false
	}
	for dir, want := range s.Dirs {
		if !fsLocal(dir) {
			return false
		}
		if got, ok := statDir(filepath.Join(logDir, filepath.FromSlash(dir))); !ok || got != want {
			return false
		}
	}
	return true
}

// fsLocal says whether a recorded path is one edgeDirs makes (relative,
// under tile/, no "..").
func fsLocal(dir string) bool {
	return strings.HasPrefix(dir, "tile/") && path.Clean(dir) == dir && filepath.IsLocal(filepath.FromSlash(dir))
}
