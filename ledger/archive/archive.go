// Package archive writes a log's cosigned-checkpoint archive
// (specs/checkpoints.md) in the POSIX log directory: every checkpoint the
// log publishes is kept as checkpoints/<size>, exactly as published, and
// listed in checkpoints/index. Auditors read it with verifier/ckptarchive
// to bound when each entry was logged by its witnesses' timestamps.
//
// Crash safety: a checkpoint's file is written atomically (temporary
// file, fsync, rename, directory fsync) before its index line is appended
// and fsynced, so every line names a durable file. A crash can leave a
// torn last index line, repaired on Open, or a file without its line,
// listed again on Open.
package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
)

// Writer appends to one log's archive. It is safe for concurrent use; one
// process writes a log directory (the ledger directory's lock).
type Writer struct {
	dir string // the log directory's checkpoints/
	log *slog.Logger

	mu    sync.Mutex
	last  uint64 // the largest archived size
	any   bool   // anything archived yet
	count int
}

// Open opens (creating it if need be) the archive of the POSIX log in
// logDir and repairs what a crash left: a torn last index line is cut off,
// files whose index line was lost are listed, temporary files are removed.
// An index that is not well formed for another reason is refused, naming
// the line and the rule: it is public, and is never rewritten.
func Open(logDir string, log *slog.Logger) (*Writer, error) {
	if log == nil {
		log = slog.Default()
	}
	w := &Writer{dir: filepath.Join(logDir, filepath.FromSlash(ckptarchive.Dir)), log: log}
	if err := os.Mkdir(w.dir, 0o755); err == nil {
		if err := atomicfile.SyncDir(logDir); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("checkpoint archive: %w", err)
	}
	index := filepath.Join(w.dir, "index")
	raw, err := os.ReadFile(index)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint archive: %w", err)
	}
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		keep := bytes.LastIndexByte(raw, '\n') + 1
		log.Warn("checkpoint archive: cutting off a torn last index line (a crash during an append)", "line", string(raw[keep:]))
		if err := truncate(index, int64(keep)); err != nil {
			return nil, fmt.Errorf("checkpoint archive: repairing %s: %w", ckptarchive.IndexPath, err)
		}
		raw = raw[:keep]
	}
	sizes, err := ckptarchive.ParseIndex(raw)
	if err != nil {
		return nil, err
	}
	if n := len(sizes); n > 0 {
		w.last, w.any, w.count = sizes[n-1], true, n
	}
	// Files beyond the last line: written, then a crash before their line.
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("checkpoint archive: %w", err)
	}
	var lost []uint64
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			os.Remove(filepath.Join(w.dir, name)) // a write that never completed
			continue
		}
		if n, err := ckptarchive.ParseSize(name); err == nil && e.Type().IsRegular() && (!w.any || n > w.last) {
			lost = append(lost, n)
		}
	}
	slices.Sort(lost)
	for _, n := range lost {
		log.Info("checkpoint archive: listing a checkpoint whose index line a crash lost", "size", n)
		if err := w.appendIndex(n); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func truncate(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(n); err != nil {
		return err
	}
	return f.Sync()
}

// Add archives raw, a checkpoint the log published, of tree size size
// (the caller has verified it). Only the first checkpoint published at a
// size is kept, and only sizes above the last archived one are added (the
// index is strictly ascending); anything else is a no-op.
func (w *Writer) Add(size uint64, raw []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.any && size <= w.last {
		return nil
	}
	path := filepath.Join(w.dir, strconv.FormatUint(size, 10))
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.Write(path, raw, 0o644); err != nil {
			return fmt.Errorf("checkpoint archive: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	// else: written before a crash lost its index line; the file is the
	// one first published at that size, and stays.
	return w.appendIndex(size)
}

// appendIndex appends size's line and makes it durable. w.mu is held (or
// Open runs).
func (w *Writer) appendIndex(size uint64) error {
	index := filepath.Join(w.dir, "index")
	_, statErr := os.Stat(index)
	f, err := os.OpenFile(index, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint archive: %w", err)
	}
	_, err = f.WriteString(strconv.FormatUint(size, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil {
		err = atomicfile.SyncDir(w.dir) // the index was created
	}
	if err != nil {
		return fmt.Errorf("checkpoint archive: appending to %s: %w", ckptarchive.IndexPath, err)
	}
	w.last, w.any = size, true
	w.count++
	return nil
}

// Len is the number of archived checkpoints.
func (w *Writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}
