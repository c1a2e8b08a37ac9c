package ckptarchive

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/acdledger/acdledger/verifier/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Times is what a checkpoint's witness cosignatures say about when the log
// held its tree. Each tlog-cosignature/v1 carries the time its witness
// cosigned; a witness cosigns only the checkpoint the log shows it, after
// checking it extends the last one it cosigned, so an honest witness's
// timestamp is a moment the log held (and offered) that tree.
//
// The policy trusts a quorum, not each witness: any set of witnesses that
// meets the quorum is assumed to contain an honest one (for k of n: fewer
// than k witnesses lie). Hence:
//
//   - Reached is the earliest time by which the cosigners meet the quorum:
//     sort the cosignatures by time, take the shortest prefix that
//     satisfies the quorum, its last time (for k of n: the k-th smallest).
//     The witnesses of that prefix form a quorum, so one is honest, and its
//     timestamp is at or before Reached: the tree existed by Reached. The
//     median is not needed, and a lying witness can move Reached only
//     within the honest witnesses' times.
//   - Held is the mirror: the latest time such that the cosigners at or
//     after it meet the quorum (for k of n: the k-th largest). One of them
//     is honest and saw this tree, not a larger one, at or after Held.
//
// Quorum is false when the valid cosignatures do not meet the quorum (or
// there is no policy, or "quorum none"): the checkpoint then gives no
// witness time.
type Times struct {
	Quorum  bool      `json:"quorum"`
	Reached time.Time `json:"quorum_reached,omitzero"`
	Held    time.Time `json:"quorum_held,omitzero"`
}

// TimesOf computes the witness time of the checkpoint raw under policy p.
func TimesOf(p *tlog.Policy, raw []byte) Times {
	if p == nil || !p.QuorumSet || p.Quorum == nil {
		return Times{}
	}
	type cosig struct {
		name string
		at   time.Time
	}
	var cs []cosig
	for _, w := range p.Witnesses {
		n, err := note.Open(raw, note.VerifierList(w.Verifier))
		if err != nil {
			continue
		}
		// note.Open lists in Sigs only the signatures this witness's key
		// verified; one witness's time is its earliest, if it signed twice.
		var at time.Time
		for _, s := range n.Sigs {
			if t, err := fnote.CoSigV1Timestamp(s); err == nil && (at.IsZero() || t.Before(at)) {
				at = t
			}
		}
		if !at.IsZero() {
			cs = append(cs, cosig{w.Name, at})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].at.Before(cs[j].at) })
	var t Times
	var names []string
	for _, c := range cs {
		names = append(names, c.name)
		if p.SatisfiedBy(names) {
			t.Quorum, t.Reached = true, c.at
			break
		}
	}
	if !t.Quorum {
		return Times{}
	}
	names = names[:0]
	for _, c := range slices.Backward(cs) {
		names = append(names, c.name)
		if p.SatisfiedBy(names) {
			t.Held = c.at
			break
		}
	}
	return t
}

// Bound is one end of the interval in which an entry was logged.
type Bound struct {
	Time time.Time `json:"time"`
	// Size is the tree size of the archived checkpoint it comes from.
	Size uint64 `json:"checkpoint_size"`
}

// Bounds is when the entry at one index was logged, by witness time:
// after After (the last quorum-cosigned archived checkpoint that did not
// cover it: its quorum still held the smaller tree then), by By (the first
// that did: a quorum had cosigned a tree holding it). Either is nil when
// the archive has no such checkpoint.
type Bounds struct {
	After *Bound `json:"after,omitempty"`
	By    *Bound `json:"by,omitempty"`
}

// Bounds returns the witness-time bounds of the entry at index i.
func (a *Archive) Bounds(i uint64) Bounds {
	cps := a.Checkpoints
	// The first checkpoint that covers i: size > i.
	k := sort.Search(len(cps), func(j int) bool { return cps[j].Size > i })
	var b Bounds
	for j := k - 1; j >= 0; j-- {
		if cps[j].Quorum {
			b.After = &Bound{Time: cps[j].Held, Size: cps[j].Size}
			break
		}
	}
	for j := k; j < len(cps); j++ {
		if cps[j].Quorum {
			b.By = &Bound{Time: cps[j].Reached, Size: cps[j].Size}
			break
		}
	}
	return b
}

// Cosigned counts the archived checkpoints that carry the quorum.
func (a *Archive) Cosigned() int {
	n := 0
	for _, e := range a.Checkpoints {
		if e.Quorum {
			n++
		}
	}
	return n
}

// String describes a bound for messages: which checkpoint and which time.
func (b *Bound) String() string {
	return fmt.Sprintf("witness time of %s: %s", Path(b.Size), b.Time.UTC().Format(time.RFC3339))
}
