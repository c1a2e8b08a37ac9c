// Package bundle exports a range of the log as one file (specs/bundle.md)
// and audits a chain of such files with no network: an air-gapped
// auditor takes a month away as one bundle, and a chain of bundles from
// index 0 gives the same verdict as a full audit of the log.
package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// ErrChain marks bundles that do not verify or do not chain.
var ErrChain = errors.New("bundle chain does not verify")

func chainErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrChain, fmt.Sprintf(format, args...))
}

var (
	hasher = rfc6962.DefaultHasher
	rf     = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// configText is the canonical text of a rules configuration and its digest
// (the same as an evidence package's settings).
func configText(cfg rules.Config) (string, string, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(b)
	return string(b), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Export reads the leaves [from, to) of the tree of cp (verified) and
// builds their bundle. registry is the registry file's text.
func Export(ctx context.Context, src *tlog.Source, p *verifier.Pins, cp *tlog.Checkpoint, from, to uint64, registry []byte, cfg rules.Config) (*specs.Bundle, error) {
	if from > to || to > cp.Size {
		return nil, fmt.Errorf("bundle: [from %d, to %d) is not a range of the tree of size %d", from, to, cp.Size)
	}
	text, digest, err := configText(cfg)
	if err != nil {
		return nil, err
	}
	b := &specs.Bundle{Format: specs.BundleFormat, Checkpoint: string(cp.Raw), From: from, To: to,
		Left: []string{}, Leaves: []string{}, Right: []string{}, Registry: string(registry), RulesConfig: text, RulesConfigDigest: digest}
	left := rf.NewEmptyRange(0)
	err = src.Leaves(ctx, cp, 0, to, func(i uint64, leaf []byte) error {
		if i < from {
			return left.Append(hasher.HashLeaf(leaf), nil)
		}
		b.Leaves = append(b.Leaves, b64(leaf))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, h := range left.Hashes() {
		b.Left = append(b.Left, b64(h))
	}
	right, err := src.RangeRight(ctx, cp, to)
	if err != nil {
		return nil, err
	}
	for _, h := range right {
		b.Right = append(b.Right, b64(h))
	}
	// Check what was read from unsigned tiles before handing it over.
	if _, err := verifyChain([]*specs.Bundle{b}, p, from); err != nil {
		return nil, err
	}
	return b, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeHashes(field string, ss []string) ([][]byte, error) {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(h) != sha256.Size {
			return nil, chainErr("%s[%d]: not a base64 SHA-256 hash", field, i)
		}
		out[i] = h
	}
	return out, nil
}

// Audit verifies a chain of bundles and replays their leaves with the
// audit's code: each bundle's checkpoint verifies under the pins, its left
// range, leaves and right range rebuild that checkpoint's root, and its
// left range is the compact range of every leaf of the bundles before it
// (so all the checkpoints agree on the common prefix). The chain starts at
// index start (0 for a whole audit). The registry and rules configuration
// every bundle carries must be the pinned ones (opts.Rules' configuration
// is given as cfg by the caller via opts; the digest check is the
// caller's, see CheckSettings). The report is that of a full audit at the
// last bundle's end.
func Audit(chain []*specs.Bundle, p *verifier.Pins, opts verifier.AuditOptions) (*verifier.AuditReport, error) {
	c, err := verifyChain(chain, p, 0)
	if err != nil {
		return nil, err
	}
	// The tree replayed is the one of size chain's end, a prefix of the
	// last checkpoint's: its root is the compact range's.
	root, err := c.seen.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	end := *c.last
	end.Size, end.Hash = c.seen.End(), root
	rp := p.NewReplay(&end, opts)
	for i, leaf := range c.leaves {
		rp.Add(uint64(i), leaf)
	}
	return rp.Finish(), nil
}

type chainState struct {
	leaves [][]byte
	seen   *compact.Range
	last   *tlog.Checkpoint
}

func verifyChain(chain []*specs.Bundle, p *verifier.Pins, start uint64) (*chainState, error) {
	if len(chain) == 0 {
		return nil, chainErr("no bundle")
	}
	if chain[0].From != start {
		return nil, chainErr("bundle 1 starts at %d, not %d", chain[0].From, start)
	}
	var leaves [][]byte
	seen := rf.NewEmptyRange(0) // the compact range of every leaf so far
	var last *tlog.Checkpoint
	for k, b := range chain {
		n := k + 1
		cp, err := tlog.VerifyCheckpoint([]byte(b.Checkpoint), p.Trust)
		if err != nil {
			return nil, chainErr("bundle %d: checkpoint: %v", n, err)
		}
		if b.To > cp.Size {
			return nil, chainErr("bundle %d: to %d is beyond its checkpoint's size %d", n, b.To, cp.Size)
		}
		if k > 0 && b.From != chain[k-1].To {
			return nil, chainErr("bundle %d starts at %d, bundle %d ended at %d: a gap or an overlap", n, b.From, k, chain[k-1].To)
		}
		lh, err := decodeHashes(fmt.Sprintf("bundle %d: left", n), b.Left)
		if err != nil {
			return nil, err
		}
		left, err := rf.NewRange(0, b.From, lh)
		if err != nil {
			return nil, chainErr("bundle %d: left: %v", n, err)
		}
		if k > 0 && !left.Equal(seen) {
			return nil, chainErr("bundle %d: its checkpoint's first %d leaves are not those of bundles 1–%d (the log forked between their checkpoints)", n, b.From, k)
		}
		if k == 0 {
			seen = left
		}
		// Version 2: each carried checkpoint and statement must be of the
		// tree the leaves give at its size (a prefix of this bundle's).
		targets, err := extraTargets(n, b, cp, p)
		if err != nil {
			return nil, err
		}
		for i, s := range b.Leaves {
			leaf, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, chainErr("bundle %d: leaves[%d]: not base64", n, i)
			}
			if err := seen.Append(hasher.HashLeaf(leaf), nil); err != nil {
				return nil, err
			}
			leaves = append(leaves, leaf)
			for len(targets) > 0 && targets[0].size == seen.End() {
				root, err := seen.GetRootHash(nil)
				if err != nil {
					return nil, err
				}
				if !bytes.Equal(root, targets[0].root) {
					return nil, chainErr("bundle %d: %s: its root is not that of the leaves [0, %d) (%s)", n, targets[0].what, targets[0].size, b64(root))
				}
				targets = targets[1:]
			}
		}
		rh, err := decodeHashes(fmt.Sprintf("bundle %d: right", n), b.Right)
		if err != nil {
			return nil, err
		}
		right, err := rf.NewRange(b.To, cp.Size, rh)
		if err != nil {
			return nil, chainErr("bundle %d: right: %v", n, err)
		}
		whole := rf.NewEmptyRange(0)
		if err := whole.AppendRange(seen, nil); err != nil {
			return nil, err
		}
		if err := whole.AppendRange(right, nil); err != nil {
			return nil, chainErr("bundle %d: right: %v", n, err)
		}
		root, err := whole.GetRootHash(nil)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(root, cp.Hash) {
			return nil, chainErr("bundle %d: its leaves and ranges yield root %s, not its checkpoint's (%s)", n, b64(root), cp)
		}
		if err := sameRegistry(b.Registry, p.Registry); err != nil {
			return nil, chainErr("bundle %d: registry: %v", n, err)
		}
		last = cp
	}
	return &chainState{leaves: leaves, seen: seen, last: last}, nil
}

// CheckSettings checks that every bundle carries the same rules
// configuration, with its digest, and returns it.
func CheckSettings(chain []*specs.Bundle) (rules.Config, error) {
	var cfg rules.Config
	for k, b := range chain {
		sum := sha256.Sum256([]byte(b.RulesConfig))
		if b.RulesConfigDigest != "sha256:"+hex.EncodeToString(sum[:]) {
			return cfg, chainErr("bundle %d: rules_config_digest: is not the SHA-256 of rules_config", k+1)
		}
		if b.RulesConfig != chain[0].RulesConfig {
			return cfg, chainErr("bundle %d: rules_config: differs from bundle 1's", k+1)
		}
	}
	cfg, err := rules.ParseConfig([]byte(chain[0].RulesConfig))
	if err != nil {
		return cfg, chainErr("bundle 1: rules_config: %v", err)
	}
	return cfg, nil
}

// sameRegistry checks that a bundle's registry is the pinned one: an
// auditor replays under the registry it pins, and a bundle made under
// another would not give the verdict its exporter saw.
func sameRegistry(text string, pinned *specs.Registry) error {
	if pinned == nil {
		return errors.New("no registry pinned")
	}
	r, err := specs.ParseRegistry([]byte(text))
	if err != nil {
		return err
	}
	a, err := r.Marshal()
	if err != nil {
		return err
	}
	b, err := pinned.Marshal()
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return errors.New("the registry in force is not the pinned one")
	}
	return nil
}
