package ledger

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Health is why the ledger is degraded, for /healthz and the metrics.
type Health struct {
	// Admitting is nil when new entries are admitted; else why not. Its
	// message names no server path (see PublicError).
	Admitting error
	// Storage is the storage failure admission stopped on ("" if none);
	// the ledger retries by itself and resumes once the storage takes
	// writes again (see recoverStorage).
	Storage string
	// Witnesses is every witness of the serve policy as last seen; nil
	// without a policy.
	Witnesses []WitnessState
	// QuorumLost: the witnesses not failing cannot meet the quorum, so no
	// new checkpoint is published (entries are still sequenced).
	QuorumLost bool
	Failing    []string // names of the witnesses whose last request failed
	Recoveries uint64   // times admission resumed after a storage failure
}

// Health reports the ledger's state.
func (l *Ledger) Health() Health {
	var h Health
	if err := l.Healthy(); err != nil {
		h.Admitting = errors.New(l.PublicError(err))
	}
	l.mu.Lock()
	if l.broken != nil {
		h.Storage = l.PublicError(l.broken)
	}
	h.Recoveries = l.recoveries
	l.mu.Unlock()
	if l.witnesses != nil {
		h.Witnesses = l.witnesses.states()
		h.QuorumLost, h.Failing = l.witnesses.quorumLost()
	}
	return h
}

// absPath is an absolute path in an error message (a Go *PathError prints
// its path as is).
var absPath = regexp.MustCompile(`(^|[\s"'(=])/[^\s"'):]+`)

// PublicError is err's message without server paths, for HTTP answers:
// the ledger directory becomes relative ("log/tile/0/000") and any other
// absolute path is replaced by "<path>". Operators see the full error in
// the server's log.
func (l *Ledger) PublicError(err error) string {
	msg := err.Error()
	if abs, aerr := filepath.Abs(l.dir); aerr == nil {
		msg = strings.ReplaceAll(msg, abs+string(filepath.Separator), "")
	}
	if l.dir != "" {
		msg = strings.ReplaceAll(msg, filepath.Clean(l.dir)+string(filepath.Separator), "")
	}
	return absPath.ReplaceAllString(msg, "$1<path>")
}

// Sequenced answers a retry that needs no receipt (?wait=false): if the
// log already holds this entry (the same test as Existing), its index and
// id, at once, without waiting for a checkpoint to cover it.
func (l *Ledger) Sequenced(ctx context.Context, raw []byte) (idx uint64, id string, ok bool, err error) {
	env, id, ok := readSubmission(raw)
	if !ok {
		return 0, "", false, nil
	}
	idx, _, ok, err = l.logged(ctx, id, env.Raw, func(leaf []byte) bool { return l.sameEntry(leaf, raw) })
	if !ok || err != nil {
		return 0, "", false, err
	}
	return idx, id, true, nil
}

// republishUncosigned makes Tessera publish the current tree again, now,
// when the published checkpoint lacks the policy's quorum: a policy turned
// on for an existing log then gets that checkpoint cosigned (and earlier
// receipts a checkpoint to be checked against, see `verify receipt`)
// without waiting for a new entry. Tessera republishes an unchanged tree
// once the checkpoint file is older than its republish interval, judged by
// the file's modification time; dating the file back is that trigger.
func republishUncosigned(logDir string, p *tlog.Policy) (marked bool, err error) {
	name := filepath.Join(logDir, "checkpoint")
	raw, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // a fresh log: Tessera publishes (and has cosigned) its first checkpoint
	}
	if err != nil {
		return false, fmt.Errorf("reading the checkpoint: %w", err)
	}
	if p.Satisfied(raw) {
		return false, nil
	}
	old := time.Unix(0, 0)
	if err := os.Chtimes(name, old, old); err != nil {
		return false, fmt.Errorf("marking the uncosigned checkpoint for republication: %w", err)
	}
	return true, nil
}

// awaitCosigned waits, at most timeout, for the republished checkpoint to
// carry the quorum, so that a server started with a new policy hands out
// cosigned receipts from its first answer. If the witnesses do not answer
// in time it starts anyway (Tessera keeps trying; /healthz names them).
func (l *Ledger) awaitCosigned(ctx context.Context, p *tlog.Policy, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if raw, err := l.reader.ReadCheckpoint(ctx); err == nil && p.Satisfied(raw) {
			return
		}
		select {
		case <-ctx.Done():
			l.log.Warn("the current checkpoint lacks the policy's quorum and the witnesses did not cosign it in time; still trying", "timeout", timeout)
			return
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// tessTile is the tlog-tiles name of a tile or entry bundle (as in
// ledger/server).
var tessTile = regexp.MustCompile(`^tile/(entries|[0-9]|[1-5][0-9]|6[0-3])/(x[0-9]{3}/)*[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?$`)

// isTesseraTemp says whether a file of the log directory (slash path,
// relative) is one of Tessera's POSIX temp files: the target's name
// followed by a random decimal number (storage/posix/file_ops.go,
// createTemp). Tessera removes them, except when writing one fails (a full
// disk): its clean-up then removes "" instead (the named result is reset by
// the return), and the partial file stays in the published tree. No real
// file outside tile/ has a name ending in a digit; inside, the real ones
// are exactly the tlog-tiles names.
func isTesseraTemp(rel string) bool {
	base := path.Base(rel)
	if base == "" || base[len(base)-1] < '0' || base[len(base)-1] > '9' {
		return false
	}
	if strings.HasPrefix(rel, "tile/") {
		return !tessTile.MatchString(rel)
	}
	// The checkpoint archive's files are named by tree size; it is not
	// Tessera's, and removes its own temp files (ledger/archive).
	return !strings.HasPrefix(rel, "checkpoints/")
}

// sweepTemp removes Tessera's leftover temp files older than minAge (a
// younger one may belong to a write in progress) and says how many.
func sweepTemp(logDir string, minAge time.Duration, log *slog.Logger) int {
	if logDir == "" {
		return 0
	}
	n := 0
	filepath.WalkDir(logDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, rerr := filepath.Rel(logDir, p)
		if rerr == nil && removeTemp(logDir, filepath.ToSlash(rel), minAge, log) {
			n++
		}
		return nil
	})
	return n
}

// removeTemp removes one file of the log directory (a slash path relative
// to it) if it is a Tessera temp file at least minAge old.
func removeTemp(logDir, rel string, minAge time.Duration, log *slog.Logger) bool {
	if !isTesseraTemp(rel) {
		return false
	}
	p := filepath.Join(logDir, filepath.FromSlash(rel))
	if info, err := os.Lstat(p); err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < minAge {
		return false
	}
	if os.Remove(p) != nil {
		return false
	}
	log.Info("removed a temp file left by a failed write", "file", path.Join(LogDir, rel))
	return true
}

// probeSize is what the storage must take before admission resumes: more
// than the largest file one round writes (a full entry bundle of maximum
// size entries is 256 × 64 KiB at worst, but rounds write at most a few
// bundles; 1 MiB is a margin, not a guarantee).
const probeSize = 1 << 20

// probeSpace writes and removes a file next to the log (not in it: the
// log directory is published).
func probeSpace(dir string) error {
	f, err := os.CreateTemp(dir, ".space-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err = f.Write(make([]byte, probeSize)); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// recoveryInterval is how often a stopped ledger tries its storage again.
const recoveryInterval = time.Second

// startRecovery starts the loop that resumes admission after a storage
// failure (POSIX driver; the shared state has its own alarm). l.mu is held.
func (l *Ledger) startRecovery() {
	if l.shared != nil || l.logDir == "" || l.recovering || l.bg == nil || l.closing {
		return
	}
	l.recovering = true
	if errors.Is(l.broken, specs.ErrTableFault) {
		l.log.Error("admission stopped until the state is rebuilt from the log", "err", l.broken)
	} else {
		l.log.Error("storage failure: admission stopped until the storage takes writes again", "err", l.broken)
	}
	l.tableWG.Add(1) // it may read a mapped snapshot: Close waits for it
	go l.recoverStorage()
}

// recoverStorage waits until the storage takes writes again, then rebuilds
// the admission state from the log (the only durable state: an entry whose
// write failed is in it or not, and the log says which) and resumes
// admission. Admission stays refused meanwhile, so the state cannot move
// under it.
func (l *Ledger) recoverStorage() {
	defer l.tableWG.Done()
	t := time.NewTicker(recoveryInterval)
	defer t.Stop()
	for {
		select {
		case <-l.bg.Done():
			return
		case <-t.C:
		}
		l.seq.drain() // entries admitted before the failure have their outcome
		sweepTemp(l.logDir, recoveryInterval, l.log)
		if err := probeSpace(l.dir); err != nil {
			continue
		}
		l.mu.Lock()
		old := l.state
		l.state = specs.NewLogState()
		if err := l.restore(l.bg); err != nil {
			l.state = old
			l.mu.Unlock()
			continue
		}
		cause := l.broken
		l.broken, l.recovering = nil, false
		st := l.state
		l.recoveries++
		l.mu.Unlock()
		l.log.Info("storage takes writes again: admission resumed", "after", cause, "entries", l.Len())
		// A state restored from the snapshot again is checked as at open.
		l.checkTable(l.bg, st, nil)
		return
	}
}
