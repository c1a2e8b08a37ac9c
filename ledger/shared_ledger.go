package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// minAWSCheckpointInterval is the AWS driver's minimum.
const minAWSCheckpointInterval = time.Second

// openAWS opens a frontend on Tessera's AWS driver: the log in the bucket,
// Tessera's coordination and acdledger's admission state in the database.
// The ledger directory holds this frontend's configuration only.
func openAWS(ctx context.Context, dir string, opts Options, lock *os.File, signer note.Signer, cfg *dirConfig, st Storage) (*Ledger, error) {
	verifier, reg := cfg.verifier, cfg.registry
	dsn, err := st.resolvedDSN()
	if err != nil {
		return nil, err
	}
	owner := st.Frontend
	if owner == "" {
		host, _ := os.Hostname()
		abs, _ := filepath.Abs(dir)
		owner = host + ":" + abs
	}
	ttl := time.Duration(st.ReservationTTL)
	if ttl <= 0 {
		ttl = time.Minute
	}
	// A missing database or bucket is named, with how to create it, rather
	// than left to surface as a driver error (Error 1049, NoSuchBucket).
	if err := checkAWS(ctx, st, dsn); err != nil {
		return nil, err
	}
	sh, err := openShared(ctx, dsn, owner, ttl, signer.Name(), cfg.vkey, opts.Logger)
	if err != nil {
		return nil, err
	}
	sh.pushbackLimit = opts.PushbackLimit
	if err := sh.beat(ctx); err != nil {
		sh.db.Close()
		return nil, err
	}
	driver, readRes, err := newAWSDriver(ctx, st, dsn)
	if err != nil {
		sh.db.Close()
		return nil, err
	}
	where := func(name string) string {
		return "s3://" + st.Bucket + "/" + strings.TrimPrefix(st.Prefix+"/"+name, "/")
	}
	if err := checkOnOpen(ctx, dir, verifier, readRes, where); err != nil {
		sh.db.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	aopts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		// As for POSIX, exactly the sequencer's round: a full round is cut
		// by its own last Add, a partial one by the timer (see sequencer,
		// which proves each round one batch, and why the AWS driver's
		// queue gives the same guarantees).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithCheckpointInterval(max(opts.CheckpointInterval, minAWSCheckpointInterval)).
		// Admission refuses new entries at PushbackLimit (ErrPushback);
		// Tessera's own limit, which would fail entries already admitted,
		// sits far above it.
		WithPushback(uint(opts.PushbackLimit)+1<<16).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil)
	if len(opts.WitnessPolicy) > 0 {
		group, _, err := witnessGroup(opts.WitnessPolicy, verifier)
		if err != nil {
			cancel()
			sh.db.Close()
			return nil, fmt.Errorf("witness policy: %w", err)
		}
		aopts = aopts.WithWitnesses(group, &tessera.WitnessOptions{Timeout: opts.WitnessTimeout})
	}
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, aopts)
	if err != nil {
		cancel()
		sh.db.Close()
		return nil, fmt.Errorf("starting the Tessera appender on the AWS driver: %w", err)
	}
	l := &Ledger{
		dir: dir, origin: signer.Name(), registry: reg, verifier: verifier, storage: st, shared: sh, readRes: readRes,
		shutdown: shutdown, reader: reader, cancel: cancel, lock: lock,
		awaiter: tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, 100*time.Millisecond),
		state:   specs.NewLogState(),
		changed: make(chan struct{}), advanced: map[agencySeq]chan struct{}{},
		local: map[string]time.Time{},
	}
	l.seq = newSequencer(appender.Add, int(opts.BatchMaxSize), opts.BatchMaxAge, l.fail)
	go l.seq.run(bg)
	// Record what the log holds beyond the last scan (all of it after a
	// migration), then settle this frontend's own unfinished admissions
	// from before a restart: nothing of the old process can still add them.
	if err := sh.catchUp(ctx, l); err != nil {
		l.Close(context.Background())
		return nil, fmt.Errorf("rebuilding the shared admission state from the log: %w", err)
	}
	if err := sh.settle(ctx, l, true, nil); err != nil {
		l.Close(context.Background())
		return nil, fmt.Errorf("settling this frontend's unfinished admissions: %w", err)
	}
	// Entries this frontend parked before a restart: their clients are
	// gone and send them again.
	if err := sh.unparkAll(ctx); err != nil {
		l.Close(context.Background())
		return nil, fmt.Errorf("dropping this frontend's parked entries from before a restart: %w", err)
	}
	if err := sh.countPeers(ctx); err != nil {
		l.Close(context.Background())
		return nil, err
	}
	go sh.settleLoop(bg, l)
	l.hold = newHoldQueue(l)
	go l.hold.run(bg)
	return l, nil
}

// handedOver says this frontend has handed the entry to Tessera and it is
// not yet recorded as sequenced.
// Entries stay known for a while after they are recorded: a reservation
// may read such an entry's row as unsequenced just before the recording
// commits, and ask here just after.
func (l *Ledger) handedOver(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.local[id]
	return ok
}

// localKeep is how long an entry is remembered by handedOver once recorded.
const localKeep = time.Minute

// admitShared reserves the batch in the shared state, then hands it to
// Tessera. A background confirmation records the indexes once sequenced;
// only then does Index (and so any acknowledgement) return.
func (l *Ledger) admitShared(ctx context.Context, admitted []*specs.Admitted) ([]*Pending, earliness, error) {
	return l.admitClaimed(ctx, admitted, nil)
}

// admitClaimed is admitShared for a batch that also claims parked entries
// of other frontends (shared_park.go): claims are the parked rows among
// admitted.
func (l *Ledger) admitClaimed(ctx context.Context, admitted []*specs.Admitted, claims []parkedKey) ([]*Pending, earliness, error) {
	if err := l.Healthy(); err != nil {
		return nil, notEarly, fmt.Errorf("ledger stopped admitting: %w", err)
	}
	// The gate's reading of the next index (at most 100ms old) is a valid
	// floor: the index only grows, so the batch's leaves lie at or after
	// it. One Tessera round trip fewer per batch.
	floor, err := l.shared.gate(ctx, l)
	if err != nil {
		return nil, notEarly, err
	}
	if early, err := l.shared.reserve(ctx, admitted, claims, floor, l.handedOver); err != nil {
		return nil, early, err
	}
	out := make([]*Pending, len(admitted))
	for i, a := range admitted {
		out[i] = &Pending{Admitted: a, future: l.seq.submit(a.Envelope.Raw, ""), confirmed: make(chan struct{})}
	}
	// Only now that the sequencer has them (in order) may this frontend admit
	// what follows them; wake those waiting.
	l.mu.Lock()
	for _, a := range admitted {
		l.local[a.Entry.ID] = time.Time{}
	}
	l.signalAdmitted(admitted)
	l.mu.Unlock()
	l.shared.inHand.Add(int64(len(out)))
	go l.confirmShared(slices.Clone(out)) // the caller may clear its slice
	return out, notEarly, nil
}

// confirmShared waits for the batch's indexes, records them, then releases
// the waiters. Entries whose Add failed are settled at once (recorded if
// they were sequenced after all, else released for the agency to retry).
func (l *Ledger) confirmShared(ps []*Pending) {
	ctx := context.Background()
	var ids []string
	var idxs []uint64
	var failed []string
	var ferr error
	for _, p := range ps {
		idx, err := p.future()
		if err != nil {
			p.err = err
			if errors.Is(err, tessera.ErrPushback) {
				p.err = fmt.Errorf("%w (%v)", ErrPushback, err)
			}
			failed = append(failed, p.Admitted.Entry.ID)
			ferr = err
			continue
		}
		p.idx = idx.Index
		ids = append(ids, p.Admitted.Entry.ID)
		idxs = append(idxs, idx.Index)
	}
	var cerr error
	for attempt := 0; attempt < 20; attempt++ {
		if cerr = l.shared.confirm(ctx, ids, idxs); cerr == nil || strings.HasPrefix(cerr.Error(), "integrity") {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	if cerr != nil {
		// The entries are in the log; a later scan records them.
		for _, p := range ps {
			if p.err == nil {
				p.err = fmt.Errorf("entry sequenced at index %d, but recording it failed: %w", p.idx, cerr)
			}
		}
	}
	l.shared.inHand.Add(-int64(len(ps)))
	now := time.Now()
	l.mu.Lock()
	for _, p := range ps {
		if p.err == nil {
			l.local[p.Admitted.Entry.ID] = now
		} else {
			delete(l.local, p.Admitted.Entry.ID)
		}
		close(p.confirmed)
	}
	if now.Sub(l.localPurged) > localKeep/4 {
		l.localPurged = now
		for id, at := range l.local {
			if !at.IsZero() && now.Sub(at) > localKeep {
				delete(l.local, id)
			}
		}
	}
	l.mu.Unlock()
	if len(failed) > 0 {
		// Entries this frontend admitted after these may already be in the
		// log: stop admitting, as the POSIX ledger does (docs/deploy.md).
		l.fail(ferr)
		l.shared.log.Warn("Tessera did not sequence admitted entries; settling them", "count", len(failed), "err", ferr)
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := l.shared.settle(sctx, l, false, failed); err != nil {
			l.shared.log.Warn("settling failed entries (the periodic pass will retry)", "err", err)
		}
	}
}
