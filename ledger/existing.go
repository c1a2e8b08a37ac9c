package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// ErrInFlight says an envelope with this id was admitted moments ago and is
// not sequenced yet: a retry should come back shortly.
var ErrInFlight = errors.New("an entry with this id is being appended; retry shortly")

// Existing makes retries safe: if the log already holds this entry (found
// by its id), it returns that entry's receipt instead of appending a second
// leaf. Retries are idempotent by content, not by bytes: the submission is
// read as the ledger would store it (canonical encoding, so spacing and
// member order do not matter), and a submission whose payload is the one
// in the log, signed again with the same key (an ECDSA signature differs
// each time), is the same entry too. ok is false when the id is not in the
// log or holds another entry; admission then decides (and rejects a reused
// id or seq).
func (l *Ledger) Existing(ctx context.Context, raw []byte) (r *Receipt, ok bool, err error) {
	env, id, ok := readSubmission(raw)
	if !ok {
		return nil, false, nil
	}
	idx, leaf, ok, err := l.logged(ctx, id, env.Raw, func(leaf []byte) bool { return l.sameEntry(leaf, raw) })
	if !ok || err != nil {
		return nil, false, err
	}
	return l.existingReceipt(ctx, idx, leaf, id)
}

// existingReceipt is the receipt of an entry found in the log by logged.
func (l *Ledger) existingReceipt(ctx context.Context, idx uint64, leaf []byte, id string) (*Receipt, bool, error) {
	cp, err := l.checkpointCovering(ctx, idx)
	if err != nil {
		return nil, false, err
	}
	r, err := l.receipt(ctx, idx, leaf, id, cp)
	return r, err == nil, err
}

// readSubmission reads a submission's envelope and entry id, once, for the
// retry checks; ok is false when it cannot be read (admission then refuses
// it, naming the rule).
func readSubmission(raw []byte) (env *specs.Envelope, id string, ok bool) {
	env, err := specs.ReadEnvelope(raw)
	if err != nil {
		return nil, "", false
	}
	var h specs.Header
	if err := jsonUnmarshal(env.Payload, &h); err != nil {
		return nil, "", false
	}
	return env, h.ID, true
}

// logged finds the entry with this id in the log and says whether it is
// the submission whose canonical envelope is leaf0: the same leaf, or
// (resigned, when the bytes differ) what resigned says. ok is false when
// the id is not in the log or holds another entry; err is ErrInFlight
// while the id is admitted but not yet sequenced.
func (l *Ledger) logged(ctx context.Context, id string, leaf0 []byte, resigned func(leaf []byte) bool) (idx uint64, leaf []byte, ok bool, err error) {
	var found bool
	if l.shared != nil {
		var hash []byte
		if idx, hash, found, err = l.shared.lookup(ctx, id); err != nil {
			return 0, nil, false, err
		}
		if sum := sha256.Sum256(leaf0); found && idx == specs.PendingIndex && !bytes.Equal(hash, sum[:]) {
			return 0, nil, false, nil // another envelope with this id, still in flight: admission refuses it
		}
	} else {
		l.mu.Lock()
		idx, found = l.state.IndexOf(id)
		l.mu.Unlock()
	}
	switch {
	case !found:
		return 0, nil, false, nil
	case idx == specs.PendingIndex:
		return 0, nil, false, ErrInFlight
	}
	if leaf, err = l.leaf(ctx, idx); err != nil {
		return 0, nil, false, err
	}
	if !bytes.Equal(leaf, leaf0) && !resigned(leaf) {
		return 0, nil, false, nil
	}
	return idx, leaf, true, nil
}

// sameEntry says whether a submission is the logged leaf's payload signed
// again by the same key, with a signature that verifies.
func (l *Ledger) sameEntry(leaf, submitted []byte) bool {
	a, err := l.currentRegistry().VerifySubmitted(submitted)
	return err == nil && sameVerified(leaf, a)
}

// sameVerified says whether a verified submission is the logged leaf's
// payload signed by the same key.
func sameVerified(leaf []byte, a *specs.Admitted) bool {
	logged, err := specs.ReadEnvelope(leaf)
	return err == nil && bytes.Equal(a.Envelope.Payload, logged.Payload) && a.Envelope.KeyID == logged.KeyID
}

// leaf reads one entry back from the integrated tree.
func (l *Ledger) leaf(ctx context.Context, idx uint64) ([]byte, error) {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := l.bundle(ctx, idx/layout.EntryBundleWidth, size)
	if err != nil {
		return nil, err
	}
	i := idx % layout.EntryBundleWidth
	if i >= uint64(len(entries)) {
		return nil, errors.New("entry not in its bundle")
	}
	return entries[i], nil
}

// bundle reads entry bundle n of the integrated tree of that size.
func (l *Ledger) bundle(ctx context.Context, n, size uint64) ([][]byte, error) {
	raw, err := l.reader.ReadEntryBundle(ctx, n, layout.PartialTileSize(0, n, size))
	if err != nil {
		return nil, err
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, err
	}
	return b.Entries, nil
}

// published returns the latest published checkpoint and its size.
func (l *Ledger) published(ctx context.Context) (uint64, []byte, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return 0, nil, err
	}
	cp, err := l.parseCheckpoint(raw)
	if err != nil {
		return 0, nil, err
	}
	return cp.Size, raw, nil
}

// PublishedSize is the tree size of the latest published checkpoint (0 if
// it cannot be read).
func (l *Ledger) PublishedSize(ctx context.Context) uint64 {
	size, _, _ := l.published(ctx)
	return size
}

// checkpointCovering waits until a published checkpoint includes idx.
func (l *Ledger) checkpointCovering(ctx context.Context, idx uint64) ([]byte, error) {
	for {
		if size, raw, err := l.published(ctx); err == nil && size > idx {
			return raw, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Healthy reports why the ledger cannot admit entries, or nil.
func (l *Ledger) Healthy() error {
	l.mu.Lock()
	broken := l.broken
	l.mu.Unlock()
	if broken == nil && l.shared != nil {
		return l.shared.alarmed()
	}
	return broken
}

// ReadResource reads one tlog-tiles resource of the log by its path
// ("checkpoint", "tile/0/000", "tile/entries/001.p/12"), from the log
// directory or the bucket. A missing one is fs.ErrNotExist.
func (l *Ledger) ReadResource(ctx context.Context, name string) ([]byte, error) {
	return l.readRes(ctx, name)
}

// Storage is the ledger's storage settings (without credentials).
func (l *Ledger) Storage() Storage { return l.storage }
