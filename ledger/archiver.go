package ledger

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/acdledger/acdledger/verifier/ckptarchive"
)

// Tessera v1.0.4 offers no hook on publication: the POSIX driver signs,
// collects the witnesses' cosignatures and overwrites the checkpoint file
// inside its own loop. So the archiver reads the published checkpoint
// four times per checkpoint interval (Tessera publishes at most once an
// interval) and archives each new one. A checkpoint replaced before the
// archiver read it (a machine so busy that a quarter interval stretched
// past a whole one) is missing from the archive: that loosens the time
// bounds auditors derive, and never makes them wrong (specs/checkpoints.md).
func (l *Ledger) startArchiver(interval time.Duration) {
	if l.archive == nil {
		return
	}
	ctx, stop := context.WithCancel(l.bg)
	l.archiveStop, l.archiveDone = stop, make(chan struct{})
	tick := max(interval/4, 10*time.Millisecond)
	go func() {
		defer close(l.archiveDone)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			l.archiveCurrent(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// stopArchiver stops the loop and archives the checkpoint published last
// (the one Tessera's shutdown waits for).
func (l *Ledger) stopArchiver() {
	if l.archiveStop == nil {
		return
	}
	l.archiveStop()
	<-l.archiveDone
	l.archiveCurrent(context.Background())
}

// archiveCurrent archives the published checkpoint if it is new.
func (l *Ledger) archiveCurrent(ctx context.Context) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return // none published yet
	}
	l.archivePublished(raw)
}

// archivePublished archives raw, a checkpoint read as published, if it
// is not the one archived last. Receipt calls it too, before handing out
// a receipt: every checkpoint a receipt carries is then in the archive.
func (l *Ledger) archivePublished(raw []byte) {
	if l.archive == nil {
		return
	}
	// Every receipt of a checkpoint asks: all but the first find it
	// archived without queueing on archiveMu behind each other (it was
	// 38% of the lock wait of in-process appends with receipts).
	if last := l.archivedRaw.Load(); last != nil && bytes.Equal(raw, *last) {
		return
	}
	l.archiveMu.Lock()
	defer l.archiveMu.Unlock()
	if last := l.archivedRaw.Load(); last != nil && bytes.Equal(raw, *last) {
		return
	}
	cp, err := l.parseCheckpoint(raw)
	if err == nil {
		err = l.archive.Add(cp.Size, raw)
	}
	if err != nil {
		// Retried at every check; logged when the error changes and at
		// most once a minute (a full disk would otherwise log 40 lines a
		// second).
		if msg := err.Error(); msg != l.archiveErr || time.Since(l.archiveErrAt) >= witnessRelog {
			l.archiveErr, l.archiveErrAt = msg, time.Now()
			l.log.Error("checkpoint archive: the published checkpoint is not archived yet (retried)", "err", err)
		}
		return
	}
	if l.archiveErr != "" {
		l.log.Info("checkpoint archive: archiving again", "size", cp.Size)
		l.archiveErr = ""
	}
	l.archivedRaw.Store(&raw)
}

// ArchiveResource reads a file of the cosigned-checkpoint archive for
// serving: "checkpoints/index" or "checkpoints/<size>". A checkpoint file
// is checked before it is served (it is cached for a year): it must verify
// under the log's key and hold the tree size its name says; one that does
// not is a *CorruptError. Any other name is fs.ErrNotExist.
func (l *Ledger) ArchiveResource(ctx context.Context, name string) ([]byte, error) {
	rest, ok := strings.CutPrefix(name, ckptarchive.Dir+"/")
	if !ok || l.archive == nil {
		return nil, fs.ErrNotExist
	}
	if rest == "index" {
		data, err := l.readRes(ctx, name)
		if err != nil {
			return nil, err
		}
		// Only whole lines: a line being appended, or torn by a crash
		// (repaired on the next open), is not served.
		return data[:bytes.LastIndexByte(data, '\n')+1], nil
	}
	size, err := ckptarchive.ParseSize(rest)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	data, err := l.readRes(ctx, name)
	if err != nil {
		return nil, err
	}
	cp, err := l.parseCheckpoint(data)
	if err == nil && cp.Size != size {
		err = fmt.Errorf("holds a checkpoint of tree size %d", cp.Size)
	}
	if err != nil {
		return nil, &CorruptError{File: name, Err: err}
	}
	return data, nil
}

// ArchivedCheckpoints is the number of checkpoints in the archive (0 on
// the AWS driver, which keeps none).
func (l *Ledger) ArchivedCheckpoints() int {
	if l.archive == nil {
		return 0
	}
	return l.archive.Len()
}
