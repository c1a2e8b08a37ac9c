// Package evidence builds and checks evidence packages (specs/evidence.md):
// one self-contained file per compliance violation or admission failure,
// that anyone holding only the pins (the log's key or witness policy and
// the agency registry) can check offline, re-deriving the verdict with the
// same replay code as `acdledger audit`.
//
// A package carries every leaf from index 0 up to the charged entry (or up
// to the checkpoint, for a deadline passed with no closing entry) with a
// range proof against a cosigned checkpoint. Proving that something is
// absent (an approval, a stop, a deletion) needs every leaf before it; the
// rules engine's state is a function of the whole prefix. A package can
// start later only from a state the commission cosigned (planned: the
// compliance statement's state digest); version 1 always starts at 0.
package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// ErrNotProven marks a package that does not prove its finding: the CLI
// exits 1 on it.
var ErrNotProven = errors.New("evidence does not prove its finding")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotProven, fmt.Sprintf(format, args...))
}

// ConfigJSON is the canonical text of a rules configuration in a package
// and its digest (rules.Config.Digest, the same a compliance statement
// names).
func ConfigJSON(cfg rules.Config) (string, string, error) {
	b, digest, err := cfg.Digest()
	return string(b), digest, err
}

// finding is one violation or admission failure seen by the audit.
type finding struct {
	violation *rules.Violation
	atEnd     bool
	failure   *verifier.EntryFailure
}

// Collector gathers an audit's findings (hook it with Hook) and writes
// their packages afterwards.
type Collector struct {
	cfg      rules.Config
	findings []finding
}

// NewCollector collects the findings of an audit run with cfg.
func NewCollector(cfg rules.Config) *Collector { return &Collector{cfg: cfg} }

// Hook sets opts' OnViolation and OnFailure to collect every finding.
func (c *Collector) Hook(opts *verifier.AuditOptions) {
	opts.OnViolation = func(v rules.Violation, atEnd bool) {
		c.findings = append(c.findings, finding{violation: &v, atEnd: atEnd})
	}
	opts.OnFailure = func(f verifier.EntryFailure, _ []byte) {
		c.findings = append(c.findings, finding{failure: &f})
	}
}

// Keep drops the findings for which keep is false: a watcher writes
// packages only for what it has just found. admission marks an admission
// failure (rule is then the admission rule's name).
func (c *Collector) Keep(keep func(rule string, index uint64, admission bool) bool) {
	var kept []finding
	for _, f := range c.findings {
		if f.violation != nil && keep(f.violation.Rule, f.violation.Index, false) ||
			f.failure != nil && keep(f.failure.Rule, f.failure.Index, true) {
			kept = append(kept, f)
		}
	}
	c.findings = kept
}

// Len is the number of findings collected.
func (c *Collector) Len() int { return len(c.findings) }

// Written is the outcome of [Collector.Write].
type Written struct {
	Paths []string `json:"paths"`
	// Unprovable are findings whose package would not verify, with why
	// (e.g. a deadline judged after the checkpoint's newest cosignature, or
	// a checkpoint with no cosignature to date it).
	Unprovable []string `json:"unprovable,omitempty"`
}

// Write builds one package per finding against cp (the checkpoint the
// audit replayed), checks each with [Verify] before writing it, and writes
// it into dir without overwriting anything.
func (c *Collector) Write(ctx context.Context, src *tlog.Source, pins *verifier.Pins, cp *tlog.Checkpoint, asOf time.Time, dir string) (*Written, error) {
	out := &Written{Paths: []string{}}
	cfgText, digest, err := ConfigJSON(c.cfg)
	if err != nil {
		return nil, err
	}
	for _, f := range c.findings {
		e := &specs.Evidence{Format: specs.EvidenceFormat, Checkpoint: string(cp.Raw)}
		var end uint64
		var base string
		if v := f.violation; v != nil {
			info, _ := rules.Info(v.Rule)
			e.Kind = specs.EvidenceViolation
			e.Rule = &specs.EvidenceRule{ID: info.ID, Name: info.Name, Version: info.Version}
			e.Settings = &specs.EvidenceSettings{Digest: digest, Config: cfgText, AtEnd: f.atEnd}
			e.Finding = specs.EvidenceFinding{Index: v.Index, EntryID: v.EntryID, Case: v.Case, Rule: v.Rule, Reason: v.Reason}
			end = v.Index + 1
			if f.atEnd {
				end = cp.Size
				e.Settings.AsOf = asOf.UTC().Format(time.RFC3339Nano)
			}
			base = fmt.Sprintf("violation-%s-%d-%s", v.Rule, v.Index, safe(v.EntryID))
		} else {
			fl := f.failure
			e.Kind = specs.EvidenceAdmission
			e.Finding = specs.EvidenceFinding{Index: fl.Index, EntryID: fl.EntryID, Field: fl.Field, Rule: fl.Rule, Reason: fl.Message}
			end = fl.Index + 1
			base = fmt.Sprintf("admission-%d-%s", fl.Index, safe(fl.EntryID))
		}
		if err := fill(ctx, src, cp, e, end); err != nil {
			return out, err
		}
		raw, err := e.Marshal()
		if err != nil {
			return out, err
		}
		if _, err := Verify(raw, pins); err != nil {
			out.Unprovable = append(out.Unprovable, fmt.Sprintf("%s: %v", base, err))
			continue
		}
		path, err := tlog.WriteEvidenceFile(dir, base, e)
		if err != nil {
			return out, err
		}
		out.Paths = append(out.Paths, path)
	}
	return out, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safe(id string) string {
	s := unsafeName.ReplaceAllString(id, "_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// fill adds the leaves [0, end), the range proof and the charged entry's
// inclusion proof.
func fill(ctx context.Context, src *tlog.Source, cp *tlog.Checkpoint, e *specs.Evidence, end uint64) error {
	r := &specs.EvidenceRange{Start: 0, End: end, Leaves: []string{}, Right: []string{}}
	var charged []byte
	err := src.Leaves(ctx, cp, 0, end, func(i uint64, leaf []byte) error {
		r.Leaves = append(r.Leaves, b64(leaf))
		if i == e.Finding.Index {
			charged = leaf
		}
		return nil
	})
	if err != nil {
		return err
	}
	right, err := src.RangeRight(ctx, cp, end)
	if err != nil {
		return err
	}
	for _, h := range right {
		r.Right = append(r.Right, b64(h))
	}
	proof, err := src.InclusionProof(ctx, e.Finding.Index, cp)
	if err != nil {
		return err
	}
	ent := specs.EvidenceEntry{Index: e.Finding.Index, Envelope: b64(charged), Proof: []string{}}
	for _, h := range proof {
		ent.Proof = append(ent.Proof, b64(h))
	}
	e.Range, e.Entries = r, []specs.EvidenceEntry{ent}
	return nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Verdict is what a package proves, re-derived by [Verify].
type Verdict struct {
	Kind        string   `json:"kind"`
	Origin      string   `json:"origin"`
	Size        uint64   `json:"tree_size"`
	Root        string   `json:"root_hash"`
	Cosigners   []string `json:"cosigners,omitempty"`
	Rule        string   `json:"rule,omitempty"`
	RuleName    string   `json:"rule_name,omitempty"`
	RuleVersion int      `json:"rule_version,omitempty"`
	Index       uint64   `json:"index"`
	EntryID     string   `json:"entry_id,omitempty"`
	Field       string   `json:"field,omitempty"`
	Reason      string   `json:"reason"`
	AsOf        string   `json:"as_of,omitempty"`
	// Note qualifies what the verdict shows (a rollback alone is not proof
	// of misbehaviour).
	Note string `json:"note,omitempty"`
}

// Verify checks a package with nothing but the pins and returns the
// verdict it proves. Any other outcome is an error wrapping ErrNotProven
// that names the field that fails.
func Verify(raw []byte, p *verifier.Pins) (*Verdict, error) {
	e, err := specs.ParseEvidence(raw)
	if err != nil {
		return nil, refuse("%v", err)
	}
	cp, err := tlog.VerifyCheckpoint([]byte(e.Checkpoint), p.Trust)
	if err != nil {
		return nil, refuse("checkpoint: %v", err)
	}
	v := &Verdict{Kind: e.Kind, Origin: cp.Origin, Size: cp.Size, Root: b64(cp.Hash), Cosigners: cp.Cosigners,
		Index: e.Finding.Index, EntryID: e.Finding.EntryID, Field: e.Finding.Field, Reason: e.Finding.Reason}
	switch e.Kind {
	case specs.EvidenceFork, specs.EvidenceRollback, specs.EvidenceInconsistent:
		return verifyIncident(e, cp, p, v)
	}
	if p.Registry == nil {
		return nil, fmt.Errorf("%w: checking a violation or admission package needs the agency registry", verifier.ErrInput)
	}
	leaves, err := checkRange(e, cp)
	if err != nil {
		return nil, err
	}
	opts := verifier.AuditOptions{Workers: 1, MaxFailures: math.MaxInt, MaxViolations: math.MaxInt}
	type seen struct {
		v     rules.Violation
		atEnd bool
	}
	var vs []seen
	var fs []verifier.EntryFailure
	opts.OnViolation = func(x rules.Violation, atEnd bool) { vs = append(vs, seen{x, atEnd}) }
	opts.OnFailure = func(f verifier.EntryFailure, _ []byte) { fs = append(fs, f) }
	f := e.Finding
	if e.Kind == specs.EvidenceViolation {
		cfg, err := checkRule(e, cp, v)
		if err != nil {
			return nil, err
		}
		opts.Rules = rules.New(cfg)
		if e.Settings.AtEnd {
			opts.RulesAsOf, _ = time.Parse(time.RFC3339Nano, e.Settings.AsOf)
		}
	}
	rp := p.NewReplay(cp, opts)
	for i, leaf := range leaves {
		rp.Add(uint64(i), leaf)
	}
	rp.Finish()
	if e.Kind == specs.EvidenceViolation {
		for _, x := range vs {
			if x.v.Rule == e.Rule.ID && x.v.Index == f.Index && x.v.EntryID == f.EntryID && x.v.Case == f.Case && x.v.Reason == f.Reason && x.atEnd == e.Settings.AtEnd {
				return v, nil
			}
		}
		return nil, refuse("finding: replaying leaves [0, %d) with these settings does not find %s at index %d with this reason", len(leaves), e.Rule.ID, f.Index)
	}
	for _, x := range fs {
		if x.Index == f.Index && x.EntryID == f.EntryID && x.Field == f.Field && x.Rule == f.Rule && x.Message == f.Reason {
			v.Rule = f.Rule
			return v, nil
		}
	}
	return nil, refuse("finding: replaying leaves [0, %d) does not find this admission failure at index %d", len(leaves), f.Index)
}

// checkRange proves the range and the charged entries against cp and
// returns the leaves.
func checkRange(e *specs.Evidence, cp *tlog.Checkpoint) ([][]byte, error) {
	r := e.Range
	if r.Start != 0 {
		return nil, refuse("range.start: %d, version 1 starts at 0", r.Start)
	}
	if r.End != uint64(len(r.Leaves)) || r.End == 0 {
		return nil, refuse("range.end: %d with %d leaves", r.End, len(r.Leaves))
	}
	leaves := make([][]byte, len(r.Leaves))
	for i, s := range r.Leaves {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, refuse("range.leaves[%d]: not base64", i)
		}
		leaves[i] = b
	}
	right, err := hashes("range.right", r.Right)
	if err != nil {
		return nil, err
	}
	if err := tlog.VerifyRange(leaves, right, cp); err != nil {
		return nil, refuse("range: %v", err)
	}
	charged := false
	for k, ent := range e.Entries {
		if ent.Index >= r.End {
			return nil, refuse("entries[%d].index: %d is outside the range", k, ent.Index)
		}
		env, err := base64.StdEncoding.DecodeString(ent.Envelope)
		if err != nil || string(env) != string(leaves[ent.Index]) {
			return nil, refuse("entries[%d].envelope: not the leaf at index %d", k, ent.Index)
		}
		proof, err := hashes(fmt.Sprintf("entries[%d].inclusion_proof", k), ent.Proof)
		if err != nil {
			return nil, err
		}
		if err := tlog.VerifyInclusion(env, ent.Index, proof, cp); err != nil {
			return nil, refuse("entries[%d].inclusion_proof: %v", k, err)
		}
		charged = charged || ent.Index == e.Finding.Index
	}
	if !charged {
		return nil, refuse("entries: none is the charged entry, index %d", e.Finding.Index)
	}
	return leaves, nil
}

// checkRule checks the rule's version and the settings, and returns the
// configuration to replay with.
func checkRule(e *specs.Evidence, cp *tlog.Checkpoint, v *Verdict) (rules.Config, error) {
	info, ok := rules.Info(e.Rule.ID)
	if !ok || info.Name != e.Rule.Name || e.Finding.Rule != info.ID {
		return rules.Config{}, refuse("rule: %s %q is not a rule this verifier knows (finding.rule %q)", e.Rule.ID, e.Rule.Name, e.Finding.Rule)
	}
	if info.Version != e.Rule.Version {
		return rules.Config{}, refuse("rule.version: the package applies %s version %d, this verifier implements version %d", info.ID, e.Rule.Version, info.Version)
	}
	v.Rule, v.RuleName, v.RuleVersion = info.ID, info.Name, info.Version
	s := e.Settings
	sum := sha256.Sum256([]byte(s.Config))
	if s.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
		return rules.Config{}, refuse("settings.config_digest: is not the SHA-256 of settings.config")
	}
	cfg, err := rules.ParseConfig([]byte(s.Config))
	if err != nil {
		return rules.Config{}, refuse("settings.config: %v", err)
	}
	if canon, _, _ := ConfigJSON(cfg); canon != s.Config {
		return rules.Config{}, refuse("settings.config: not in canonical form (every key, as the verifier writes it)")
	}
	if !s.AtEnd {
		if s.AsOf != "" {
			return rules.Config{}, refuse("settings.as_of: only for a finding at the end of the range")
		}
		if e.Range.End != e.Finding.Index+1 {
			return rules.Config{}, refuse("range.end: %d, a finding made when entry %d was read ends its range there", e.Range.End, e.Finding.Index)
		}
		return cfg, nil
	}
	if e.Range.End != cp.Size {
		return rules.Config{}, refuse("range.end: %d, a deadline passed with no closing entry needs every leaf up to the checkpoint's size %d", e.Range.End, cp.Size)
	}
	asOf, err := time.Parse(time.RFC3339Nano, s.AsOf)
	if err != nil {
		return rules.Config{}, refuse("settings.as_of: not an RFC 3339 time")
	}
	if cp.CosignedAt.IsZero() {
		return rules.Config{}, refuse("checkpoint: no witness cosignature (checked by the pinned policy) dates it, so it cannot show the log as of %s", s.AsOf)
	}
	if asOf.After(cp.CosignedAt) {
		return rules.Config{}, refuse("settings.as_of: %s is after the checkpoint's newest cosignature %s: the checkpoint does not show the log at that time", s.AsOf, cp.CosignedAt.UTC().Format(time.RFC3339))
	}
	v.AsOf = s.AsOf
	return cfg, nil
}

func hashes(field string, ss []string) ([][]byte, error) {
	if len(ss) > 128 {
		return nil, refuse("%s: %d hashes, more than any tree needs", field, len(ss))
	}
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != sha256.Size {
			return nil, refuse("%s[%d]: not a base64 SHA-256 hash", field, i)
		}
		out[i] = b
	}
	return out, nil
}

// verifyIncident checks fork, rollback and inconsistency packages: two
// checkpoints signed by the pinned log key that contradict each other.
func verifyIncident(e *specs.Evidence, current *tlog.Checkpoint, p *verifier.Pins, v *Verdict) (*Verdict, error) {
	trusted, err := tlog.VerifyCheckpoint([]byte(e.Trusted), p.Trust)
	if err != nil {
		return nil, refuse("trusted_checkpoint: %v", err)
	}
	proof, err := hashes("consistency_proof", e.Proof)
	if err != nil {
		return nil, err
	}
	got := tlog.CompareCheckpoints(trusted, current, proof)
	var fork *tlog.ForkError
	var rb *tlog.RollbackError
	var inc *tlog.InconsistentError
	ok := false
	switch e.Kind {
	case specs.EvidenceFork:
		ok = errors.As(got, &fork)
	case specs.EvidenceRollback:
		ok = errors.As(got, &rb)
		v.Note = "both checkpoints are signed; a smaller tree after a larger one may also be a stale cache, so this alone is not proof of misbehaviour"
	case specs.EvidenceInconsistent:
		ok = errors.As(got, &inc)
		v.Note = "the consistency proof came from unsigned tiles; an honest log can always give a valid one between its two signed trees"
	}
	if !ok {
		return nil, refuse("%s: the two checkpoints do not show a %s (%v)", e.Kind, e.Kind, got)
	}
	v.Reason, v.Index = got.Error(), 0
	return v, nil
}
