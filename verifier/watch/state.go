package watch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/jsonmsg"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// stateVersion is the version of the state file format
// (specs/watch-state.md). Version 3: a head and a bulk file. Version 2,
// one file holding everything, is read and rewritten as version 3.
const (
	stateVersion  = 3
	legacyVersion = 2
)

// headFile is the state file proper: what every poll reads.
type headFile struct {
	Version      int        `json:"version"`
	Checkpoint   string     `json:"checkpoint"` // the signed note, verbatim
	Edge         *tlog.Edge `json:"edge"`
	SeenAt       time.Time  `json:"seen_at"`
	NextDeadline time.Time  `json:"next_deadline,omitzero"`
	Bulk         string     `json:"bulk_sha256"` // of the bulk file, which is named after it
}

// bulkFile is the rest, in the file State + ".bulk-" + the first 16 hex
// digits of its SHA-256.
type bulkFile struct {
	Version   int                  `json:"version"`
	TreeSize  uint64               `json:"tree_size"` // the head's checkpoint's
	Admission *specs.LogState      `json:"admission"`
	Rules     json.RawMessage      `json:"rules"`
	Trust     *registrylog.History `json:"trust,omitempty"`
}

// legacyFile is version 2.
type legacyFile struct {
	Version    int                  `json:"version"`
	Checkpoint string               `json:"checkpoint"`
	Edge       *tlog.Edge           `json:"edge"`
	SeenAt     time.Time            `json:"seen_at"`
	Admission  *specs.LogState      `json:"admission"`
	Rules      json.RawMessage      `json:"rules"`
	Trust      *registrylog.History `json:"trust,omitempty"`
}

var sumRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// bulkPath is where the bulk file of digest sum lives.
func bulkPath(state, sum string) string { return state + ".bulk-" + sum[:16] }

// strictDecode reads one JSON value with no unknown member and nothing
// after it.
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonmsg.Describe(err)
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// load reads the state file: a head (version 3), or a version 2 file,
// which it reports so that Open rewrites it.
func (w *Watcher) load(raw []byte) (migrated bool, err error) {
	var v struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, jsonmsg.Describe(err)
	}
	switch v.Version {
	case stateVersion:
		return false, w.loadHead(raw)
	case legacyVersion:
		return true, w.loadLegacy(raw)
	}
	return false, fmt.Errorf("version: %d, want %d (saved by another acdledger: delete it and its .bulk-* files to replay the log from its start)", v.Version, stateVersion)
}

func (w *Watcher) loadHead(raw []byte) error {
	var h headFile
	if err := strictDecode(raw, &h); err != nil {
		return err
	}
	if again, err := marshalHead(&h); err != nil || !bytes.Equal(again, raw) {
		return errors.New("not in its one encoding (compact JSON, members in order, one final newline): acdledger writes it, do not edit it")
	}
	if !sumRe.MatchString(h.Bulk) {
		return fmt.Errorf("bulk_sha256: %q is not 64 lowercase hex digits", h.Bulk)
	}
	cp, edge, err := w.checkHead(h.Checkpoint, h.Edge)
	if err != nil {
		return err
	}
	w.cp, w.edge, w.seen, w.next, w.sum = cp, edge, h.SeenAt, h.NextDeadline, h.Bulk
	return nil
}

// checkHead verifies the saved checkpoint against the trust and the edge
// against the checkpoint.
func (w *Watcher) checkHead(note string, edge *tlog.Edge) (*tlog.Checkpoint, *tlog.Edge, error) {
	cp, err := tlog.VerifyCheckpoint([]byte(note), w.opts.Trust)
	if err != nil {
		return nil, nil, err
	}
	if edge == nil {
		return nil, nil, errors.New("edge: no tree edge")
	}
	if err := edge.Check(cp); err != nil {
		return nil, nil, fmt.Errorf("edge: %w", err)
	}
	return cp, edge, nil
}

func (w *Watcher) loadLegacy(raw []byte) error {
	var s legacyFile
	s.Admission = specs.NewLogState()
	if err := strictDecode(raw, &s); err != nil {
		return err
	}
	cp, edge, err := w.checkHead(s.Checkpoint, s.Edge)
	if err != nil {
		return err
	}
	b, err := w.restoreBulk(cp, s.Admission, s.Rules, s.Trust)
	if err != nil {
		return err
	}
	w.cp, w.edge, w.seen, w.bulk = cp, edge, s.SeenAt, b
	return nil
}

// restoreBulk checks what a bulk holds against the head's checkpoint.
func (w *Watcher) restoreBulk(cp *tlog.Checkpoint, adm *specs.LogState, rulesState json.RawMessage, hist *registrylog.History) (*bulk, error) {
	if adm == nil || uint64(adm.Len()) > cp.Size {
		return nil, errors.New("admission: holds more entries than the checkpoint's tree")
	}
	eng, err := rules.RestoreEngine(w.opts.Rules, rulesState)
	if err != nil {
		return nil, err
	}
	if w.opts.Root != "" && hist == nil && cp.Size > 0 {
		return nil, errors.New("trust: no trust history saved (the state was made without --root-key): delete it to replay the log from its start")
	}
	return &bulk{adm: adm, eng: eng, hist: hist}, nil
}

// loadBulk reads the bulk file the head names, if it is not in memory.
func (w *Watcher) loadBulk() error {
	if w.bulk != nil {
		return nil
	}
	if w.sum == "" {
		w.bulk = w.emptyBulk()
		return nil
	}
	path := bulkPath(w.opts.State, w.sum)
	b, err := w.readBulk(path)
	if err != nil {
		return fmt.Errorf("watch: state file %s: %w", path, err)
	}
	w.bulk = b
	return nil
}

func (w *Watcher) readBulk(path string) (*bulk, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != w.sum {
		return nil, fmt.Errorf("sha256 %x, the state file names %s: not the bulk saved with it", sum, w.sum)
	}
	var f bulkFile
	f.Admission = specs.NewLogState()
	if err := strictDecode(raw, &f); err != nil {
		return nil, err
	}
	switch {
	case f.Version != stateVersion:
		return nil, fmt.Errorf("version: %d, want %d", f.Version, stateVersion)
	case f.TreeSize != w.cp.Size:
		return nil, fmt.Errorf("tree_size: %d, the state file's checkpoint is of %d", f.TreeSize, w.cp.Size)
	}
	return w.restoreBulk(w.cp, f.Admission, f.Rules, f.Trust)
}

func marshalHead(h *headFile) ([]byte, error) {
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	return append(raw, '\n'), nil
}

// testHookBulkSaved, if set, runs between writing the bulk and the head:
// tests fail there to show that a crash between the writes loses nothing.
var testHookBulkSaved func() error

// save writes the state after the tree of cp (edge, first seen at seen)
// with the bulk in memory: the bulk file first, under a name of its own,
// then the head naming it (the commit), then it removes the bulk files the
// head no longer names. A crash before the head is written leaves the old
// head and its bulk, which are still whole; the next poll then reads and
// reports the same entries again, once.
func (w *Watcher) save(cp *tlog.Checkpoint, edge *tlog.Edge, seen time.Time) error {
	b := w.bulk
	rs, err := b.eng.MarshalState()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(bulkFile{Version: stateVersion, TreeSize: cp.Size, Admission: b.adm, Rules: rs, Trust: b.hist})
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	s := sha256.Sum256(raw)
	sum := hex.EncodeToString(s[:])
	if sum != w.sum {
		if err := atomicfile.Write(bulkPath(w.opts.State, sum), raw, 0o600); err != nil {
			return fmt.Errorf("watch: saving state: %w", err)
		}
	}
	if testHookBulkSaved != nil {
		if err := testHookBulkSaved(); err != nil {
			return err
		}
	}
	head := &headFile{Version: stateVersion, Checkpoint: string(cp.Raw), Edge: edge, SeenAt: seen, NextDeadline: b.eng.NextDeadline(), Bulk: sum}
	hraw, err := marshalHead(head)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(w.opts.State, hraw, 0o600); err != nil {
		return fmt.Errorf("watch: saving state: %w", err)
	}
	w.sum, w.next = sum, head.NextDeadline
	w.removeStale()
	return nil
}

// removeStale removes the bulk files of earlier saves (and of saves a
// crash cut short). A failure leaves a file behind, nothing worse.
func (w *Watcher) removeStale() {
	dir, base := filepath.Split(w.opts.State)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	keep := filepath.Base(bulkPath(w.opts.State, w.sum))
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, base+".bulk-") && n != keep {
			os.Remove(filepath.Join(dir, n))
		}
	}
}
