package verifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Sources of the log time R15 (time.recorded) judges entries by
// (specs/checkpoints.md, "How audit uses it").
const (
	// LogTimeWitnessArchive: per-entry bounds from the cosigned-checkpoint
	// archive's witness timestamps.
	LogTimeWitnessArchive = "witness-archive"
	// LogTimeCheckpoint: the current checkpoint's newest witness
	// cosignature as an upper bound for every entry; no lower bound.
	LogTimeCheckpoint = "checkpoint-cosignature"
	// LogTimeAuditClock: no witness time; the time of the audit as upper
	// bound; no lower bound.
	LogTimeAuditClock = "audit-clock"
)

// LogTime says which bounds R15 used, in the audit's report.
type LogTime struct {
	Source string `json:"source"`
	// Fallback says why there is no witness archive time, when Source is
	// not LogTimeWitnessArchive.
	Fallback string `json:"fallback,omitempty"`
	// Archived and Cosigned count the archived checkpoints read and those
	// carrying the quorum (with LogTimeWitnessArchive).
	Archived int `json:"archived_checkpoints,omitempty"`
	Cosigned int `json:"quorum_cosigned,omitempty"`
}

// String is the one line the text output prints.
func (t *LogTime) String() string {
	switch t.Source {
	case LogTimeWitnessArchive:
		return fmt.Sprintf("log time: witness time from the checkpoint archive (%d archived checkpoints, %d with the quorum): R15 checks back-dating and entries from the future per entry", t.Archived, t.Cosigned)
	case LogTimeCheckpoint:
		return "log time: the current checkpoint's newest witness cosignature, no lower bound (" + t.Fallback + "): R15 checks only entries from the future"
	}
	return "log time: the time of the audit, no witness time (" + t.Fallback + "): R15 checks only entries from the future"
}

// ReadWitnessTime reads the cosigned-checkpoint archive of src for an
// audit of cp. It returns a nil archive and the fallback when the pins
// have no witness quorum or the log publishes no archive; an archive that
// breaks its rules (specs/checkpoints.md) is an error.
func (p *Pins) ReadWitnessTime(ctx context.Context, src *tlog.Source, cp *tlog.Checkpoint) (*ckptarchive.Archive, *LogTime, error) {
	pol := p.Trust.Policy
	if pol == nil || !pol.QuorumSet {
		why := "the log is pinned by its key alone (--vkey), without a witness policy"
		if pol != nil {
			why = "the policy says quorum none"
		}
		return nil, fallbackTime(cp, why), nil
	}
	a, err := ckptarchive.Read(ctx, src, p.Trust, ckptarchive.Options{Current: cp})
	if errors.Is(err, ckptarchive.ErrNoArchive) {
		return nil, fallbackTime(cp, "the log publishes no "+ckptarchive.IndexPath), nil
	}
	if err != nil {
		return nil, nil, err
	}
	return a, &LogTime{Source: LogTimeWitnessArchive, Archived: len(a.Checkpoints), Cosigned: a.Cosigned()}, nil
}

func fallbackTime(cp *tlog.Checkpoint, why string) *LogTime {
	if cp.CosignedAt.IsZero() {
		return &LogTime{Source: LogTimeAuditClock, Fallback: why}
	}
	return &LogTime{Source: LogTimeCheckpoint, Fallback: why}
}

// logTimes gives each entry its R15 coverage: from the archive when there
// is one, else the one upper bound for every entry.
type logTimes struct {
	archive *ckptarchive.Archive
	current ckptarchive.Times // the audited checkpoint's witness time
	by      time.Time         // the fallback upper bound
	byNote  string
}

func (lt *logTimes) coverage(i uint64) rules.Coverage {
	if lt.archive == nil {
		return rules.Coverage{By: lt.by, ByNote: lt.byNote}
	}
	b := lt.archive.Bounds(i)
	var c rules.Coverage
	if b.After != nil {
		c.After, c.AfterNote = b.After.Time, fmt.Sprintf("witness time: %s did not cover it and its quorum still held that tree at %s", ckptarchive.Path(b.After.Size), b.After.Time.UTC().Format(time.RFC3339))
	}
	switch {
	case b.By != nil:
		c.By, c.ByNote = b.By.Time, fmt.Sprintf("witness time: a quorum had cosigned %s, which covers it, by %s", ckptarchive.Path(b.By.Size), b.By.Time.UTC().Format(time.RFC3339))
	case lt.current.Quorum:
		c.By, c.ByNote = lt.current.Reached, fmt.Sprintf("witness time: a quorum had cosigned the current checkpoint, which covers it, by %s", lt.current.Reached.UTC().Format(time.RFC3339))
	default:
		c.By, c.ByNote = lt.by, lt.byNote
	}
	return c
}
