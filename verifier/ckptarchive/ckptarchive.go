// Package ckptarchive reads a log's cosigned-checkpoint archive
// (specs/checkpoints.md): every checkpoint the log published, under
// checkpoints/<size>, listed in checkpoints/index. The archive is outside
// input, so it is read strictly: one reading of every byte, and an error
// naming the file and the rule for anything else. Its checkpoints give
// auditors witness time: bounds on when each entry was logged, from the
// witnesses' cosignature timestamps, on a log they never watched.
package ckptarchive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/transparency-dev/tessera/client"
)

// Paths of the archive, relative to the log's root (beside checkpoint and
// tile/).
const (
	Dir       = "checkpoints"
	IndexPath = Dir + "/index"
)

// Path is the archive file of the checkpoint of tree size size.
func Path(size uint64) string { return Dir + "/" + strconv.FormatUint(size, 10) }

// ErrNoArchive: the log publishes no checkpoints/index (a log made before
// the archive, or served by something that does not serve it).
var ErrNoArchive = errors.New("the log publishes no cosigned-checkpoint archive (no " + IndexPath + ")")

// Rule ids of [*Error], for tests and scripts.
const (
	RuleIndexLine      = "index-line"      // a line is not a decimal size without leading zeros ending in "\n"
	RuleIndexAscending = "index-ascending" // sizes are not strictly ascending
	RuleFileSize       = "file-size"       // the checkpoint's tree size is not the one its name says
	RuleFileVerify     = "file-verify"     // the file is not a checkpoint signed by the pinned log key for its origin
	RuleConsistent     = "consistent"      // a checkpoint is not consistent with the next one (or with the current one)
	RuleMissing        = "missing"         // the index lists a size whose file is absent
	RulePrefix         = "prefix"          // a newer index does not extend one read before
)

// Error is an archive that breaks a rule of specs/checkpoints.md.
type Error struct {
	File string // "checkpoints/index" or "checkpoints/<size>"
	Line int    // index line (1-based), 0 when not about a line
	Rule string
	Msg  string
	Err  error // the underlying error, if any (e.g. *tlog.ForkError)
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	return fmt.Sprintf("checkpoint archive: %s: %s (rule %s)", where, e.Msg, e.Rule)
}

func (e *Error) Unwrap() error { return e.Err }

// ParseIndex reads checkpoints/index: one decimal size a line, no leading
// zeros ("0" itself is a size), no sign or space, each line ending in "\n",
// strictly ascending. An empty index lists nothing.
func ParseIndex(data []byte) ([]uint64, error) {
	var sizes []uint64
	line := 0
	for len(data) > 0 {
		line++
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return nil, &Error{File: IndexPath, Line: line, Rule: RuleIndexLine, Msg: "the last line does not end in \"\\n\""}
		}
		text := data[:nl]
		data = data[nl+1:]
		n, err := ParseSize(string(text))
		if err != nil {
			return nil, &Error{File: IndexPath, Line: line, Rule: RuleIndexLine, Msg: err.Error()}
		}
		if len(sizes) > 0 && n <= sizes[len(sizes)-1] {
			return nil, &Error{File: IndexPath, Line: line, Rule: RuleIndexAscending,
				Msg: fmt.Sprintf("size %d does not follow %d: sizes must be strictly ascending", n, sizes[len(sizes)-1])}
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// ParseSize reads one size as the archive writes it: decimal digits, no
// leading zero (except "0"), at most a uint64.
func ParseSize(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty line: want a decimal tree size")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal tree size (digits only, no sign or space)", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is larger than any tree size", s)
	}
	return n, nil
}

// ParseEntry verifies the archive file of tree size size: a checkpoint
// signed by trust's log key for its origin, of exactly that size. The
// witness quorum is not required here (a log may have published
// checkpoints before it had witnesses): see [Times] for what the
// cosignatures say.
func ParseEntry(size uint64, raw []byte, trust tlog.Trust) (*tlog.Checkpoint, error) {
	name := Path(size)
	cp, err := tlog.VerifyCheckpoint(raw, tlog.Trust{Origin: trust.Origin, Verifier: trust.Verifier})
	if err != nil {
		return nil, &Error{File: name, Rule: RuleFileVerify, Msg: err.Error(), Err: err}
	}
	if cp.Size != size {
		return nil, &Error{File: name, Rule: RuleFileSize, Msg: fmt.Sprintf("holds a checkpoint of tree size %d, not %d", cp.Size, size)}
	}
	if trust.Policy != nil {
		cp.CosignedAt = trust.Policy.CosignedAt(raw)
		cp.Cosigners, _ = trust.Policy.Cosigners(raw)
	}
	return cp, nil
}

// Archive is a log's archive as read and checked: its checkpoints in
// ascending size, each verified and consistent with the next.
type Archive struct {
	Checkpoints []*Entry
	policy      *tlog.Policy
}

// Entry is one archived checkpoint and its witness time (see [Times]).
type Entry struct {
	*tlog.Checkpoint
	Times
}

// Options tune Read.
type Options struct {
	// Current, if set, is the log's current checkpoint, already verified:
	// the last archived checkpoint must not be larger and must be
	// consistent with it (the archive then speaks of the same tree).
	Current *tlog.Checkpoint
	// Prefix, if set, is an index read before: the new one must extend it.
	Prefix []uint64
}

// Read reads and checks the archive of the log src under trust. Without a
// checkpoints/index it returns an error wrapping ErrNoArchive.
func Read(ctx context.Context, src *tlog.Source, trust tlog.Trust, opts Options) (*Archive, error) {
	raw, err := src.ReadResource(ctx, IndexPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", src, ErrNoArchive)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint archive: reading %s: %w", IndexPath, err)
	}
	sizes, err := ParseIndex(raw)
	if err != nil {
		return nil, err
	}
	if err := CheckPrefix(opts.Prefix, sizes); err != nil {
		return nil, err
	}
	a := &Archive{policy: trust.Policy}
	for _, size := range sizes {
		if opts.Current != nil && size > opts.Current.Size {
			// Archived after the current checkpoint was read: not part of
			// the tree being audited.
			break
		}
		b, err := src.ReadResource(ctx, Path(size))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: Path(size), Rule: RuleMissing, Msg: "listed in " + IndexPath + " but absent", Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoint archive: reading %s: %w", Path(size), err)
		}
		cp, err := ParseEntry(size, b, trust)
		if err != nil {
			return nil, err
		}
		a.Checkpoints = append(a.Checkpoints, &Entry{Checkpoint: cp, Times: TimesOf(trust.Policy, b)})
	}
	if err := a.checkConsistency(ctx, src, opts.Current); err != nil {
		return nil, err
	}
	return a, nil
}

// CheckPrefix checks that sizes, a newer index, extends prefix, one read
// before (the index is only ever appended to).
func CheckPrefix(prefix, sizes []uint64) error {
	if len(prefix) > len(sizes) {
		return &Error{File: IndexPath, Rule: RulePrefix, Msg: fmt.Sprintf("lists %d sizes, fewer than the %d read before", len(sizes), len(prefix))}
	}
	for i, s := range prefix {
		if sizes[i] != s {
			return &Error{File: IndexPath, Line: i + 1, Rule: RulePrefix, Msg: fmt.Sprintf("size %d where %d was read before: the index was rewritten", sizes[i], s)}
		}
	}
	return nil
}

// checkConsistency proves each archived checkpoint consistent with the
// next (and the last with current) by RFC 6962 consistency proofs built
// from the log's tiles and verified with transparency-dev/merkle
// (tlog.CompareCheckpoints). Tiles are shared between the proofs through
// one cache: consecutive trees mostly share them.
func (a *Archive) checkConsistency(ctx context.Context, src *tlog.Source, current *tlog.Checkpoint) error {
	cps := make([]*tlog.Checkpoint, 0, len(a.Checkpoints)+1)
	for _, e := range a.Checkpoints {
		cps = append(cps, e.Checkpoint)
	}
	if current != nil {
		cps = append(cps, current)
	}
	tiles := newTileCache(src)
	for i := 1; i < len(cps); i++ {
		prev, next := cps[i-1], cps[i]
		var p [][]byte
		if next.Size > prev.Size && prev.Size > 0 {
			pb, err := client.NewProofBuilder(ctx, next.Size, tiles.ReadTile)
			if err != nil {
				return fmt.Errorf("checkpoint archive: tiles of tree %d: %w", next.Size, err)
			}
			if p, err = pb.ConsistencyProof(ctx, prev.Size, next.Size); err != nil {
				return fmt.Errorf("checkpoint archive: consistency proof %d→%d: %w", prev.Size, next.Size, err)
			}
		}
		if err := tlog.CompareCheckpoints(prev, next, p); err != nil {
			file := Path(next.Size)
			if current != nil && i == len(cps)-1 {
				file = "checkpoint"
			}
			return &Error{File: file, Rule: RuleConsistent, Msg: fmt.Sprintf("not consistent with %s: %v", Path(prev.Size), err), Err: err}
		}
	}
	return nil
}

// tileCache keeps the tiles read for the consistency proofs, keyed by
// path; it is dropped whole when it grows past a bound (an archive of a
// large log is read in size order, so old tiles are rarely wanted again).
type tileCache struct {
	src *tlog.Source
	m   map[[3]uint64][]byte
}

const tileCacheMax = 4096

func newTileCache(src *tlog.Source) *tileCache {
	return &tileCache{src: src, m: map[[3]uint64][]byte{}}
}

func (c *tileCache) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	k := [3]uint64{level, index, uint64(p)}
	if b, ok := c.m[k]; ok {
		return b, nil
	}
	b, err := c.src.ReadTile(ctx, level, index, p)
	if err != nil {
		return nil, err
	}
	if len(c.m) >= tileCacheMax {
		clear(c.m)
	}
	c.m[k] = b
	return b, nil
}
