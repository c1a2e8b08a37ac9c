package compliance_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// resumeFixture is a year of activity logged in two parts: a statement is
// made at the end of the first, then the second is appended.
type resumeFixture struct {
	*fixture
	mid    *tlog.Checkpoint // the tree the statement is about
	midAt  time.Time        // the statement's as-of: the first part's last event
	st     *compliance.Statement
	saved  *compliance.SavedState
	latest *tlog.Checkpoint
}

func newResumeFixture(t *testing.T) *resumeFixture {
	base := newFixture(t) // its registry, keys and pins; a log of its own below
	es, err := activity.Generate(activity.Config{Seed: 11, Entries: 300, Start: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	f := &resumeFixture{fixture: base}
	f.seq = map[string]float64{}
	var times []time.Time
	// Each agency's seqs are renumbered as the leaves are made, so that
	// the misconduct can go between the generated entries.
	seqRe := regexp.MustCompile(`"seq":[0-9]+}$`)
	leaf := func(e activity.Entry) []byte {
		var m struct {
			OccurredAt time.Time `json:"occurred_at"`
		}
		json.Unmarshal(e.Public(), &m)
		times = append(times, m.OccurredAt)
		f.seq[e.Agency]++
		return f.sign(t, e.Agency, seqRe.ReplaceAll(e.Public(), fmt.Appendf(nil, `"seq":%d}`, int(f.seq[e.Agency]))))
	}
	measure := func(day string) []byte {
		return f.entry(t, "mpd", "measure.executed", map[string]any{"law": "police-duties-act", "article": "6-2"}, []string{},
			map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
				"started_at": day + "T10:00:00+09:00", "ended_at": day + "T11:00:00+09:00", "outcome": "no_effect"})
	}
	half := len(es) / 2
	var first, second [][]byte
	for _, e := range es[:half] {
		first = append(first, leaf(e))
	}
	f.midAt = times[half-1].UTC().Truncate(time.Second)
	// Misconduct on both sides of the cut: a measure without approval, a
	// leaf refused by admission (a reference to nothing).
	first = append(first, measure("2026-06-01"), f.inspection(t, "NO-SUCH-ENTRY"))
	for _, e := range es[half:] {
		second = append(second, leaf(e))
	}
	second = append(second, measure("2027-02-01"), f.inspection(t, "NOR-THIS-ONE"))
	f.log = testlog.WithKey(t, base.log.Skey, base.log.Vkey) // the pinned key, a log of this year alone
	f.log.Add(t, first...)
	if f.src, err = tlog.Open(f.log.Dir); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if f.mid, err = f.src.Checkpoint(ctx, f.pins.Trust); err != nil {
		t.Fatal(err)
	}
	if f.st, f.saved, err = compliance.MakeWithState(ctx, f.pins, f.src, f.mid, compliance.Options{Config: rules.DefaultConfig(), AsOf: f.midAt}); err != nil {
		t.Fatal(err)
	}
	f.log.Add(t, second...)
	if f.latest, err = f.src.Checkpoint(ctx, f.pins.Trust); err != nil {
		t.Fatal(err)
	}
	return f
}

// An audit that resumes from a saved state the members' statement vouches
// for gives the verdict of a full replay: the same counts and the same
// final state, having read only the leaves after the statement.
func TestResumeEqualsFullReplay(t *testing.T) {
	f := newResumeFixture(t)
	ctx := context.Background()
	if f.st.Violations == 0 || f.st.AdmissionFailures != 1 || f.saved.Digest() != f.st.State {
		t.Fatalf("statement %+v", f.st)
	}
	cfg := rules.DefaultConfig()
	full := rules.New(cfg)
	want, err := f.pins.Audit(ctx, f.src, verifier.AuditOptions{Rules: full, RulesAsOf: asOf, Checkpoint: f.latest})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := compliance.ReplayFrom(f.pins, f.saved.Marshal(), f.st, f.latest, cfg, verifier.AuditOptions{RulesAsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	var read uint64
	if _, err := f.src.Extend(ctx, rs.Edge, f.latest, nil, func(i uint64, leaf []byte) error {
		read++
		rs.Add(i, leaf)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := rs.Finish()
	if read != f.latest.Size-f.st.Size || got.ResumedAt != f.st.Size {
		t.Fatalf("read %d leaves, resumed at %d", read, got.ResumedAt)
	}
	if got.OK() != want.OK() || got.Compliant() != want.Compliant() || !got.TreeVerified || got.Entries != want.Entries ||
		got.FailureCount != want.FailureCount || got.Rules.ViolationCount != want.Rules.ViolationCount || want.FailureCount != f.st.AdmissionFailures+1 ||
		want.Rules.ViolationCount <= f.st.Violations {
		t.Fatalf("resumed: ok %v compliant %v entries %d failures %d violations %d; full: ok %v compliant %v entries %d failures %d violations %d",
			got.OK(), got.Compliant(), got.Entries, got.FailureCount, got.Rules.ViolationCount,
			want.OK(), want.Compliant(), want.Entries, want.FailureCount, want.Rules.ViolationCount)
	}
	digest := func(r *verifier.AuditReport, e *rules.Engine) string {
		a, _ := r.AdmissionState.MarshalJSON()
		b, _ := e.MarshalState()
		return compliance.StateDigest(a, b)
	}
	if digest(got, rs.Engine) != digest(want, full) {
		t.Fatal("the resumed replay ends in another state than the full one")
	}
	// AuditFrom is the same, reading the log itself.
	again, err := compliance.AuditFrom(ctx, f.pins, f.src, f.saved.Marshal(), f.st, f.latest, cfg, verifier.AuditOptions{RulesAsOf: asOf})
	if err != nil || again.Rules.ViolationCount != want.Rules.ViolationCount || again.FailureCount != want.FailureCount {
		t.Fatalf("AuditFrom: %v %+v", err, again)
	}
}

// A saved state is resumed from only under the statement it matches, with
// the statement's rules and configuration, read in its one encoding.
func TestResumeRefuses(t *testing.T) {
	f := newResumeFixture(t)
	cfg := rules.DefaultConfig()
	good := f.saved.Marshal()
	try := func(data []byte, st *compliance.Statement, cfg rules.Config, opts verifier.AuditOptions) error {
		_, err := compliance.ReplayFrom(f.pins, data, st, f.latest, cfg, opts)
		return err
	}
	opts := verifier.AuditOptions{RulesAsOf: asOf}
	if err := try(good, f.st, cfg, opts); err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(s *compliance.SavedState)) []byte {
		c := *f.saved
		c.Edge = append([]string{}, f.saved.Edge...)
		fn(&c)
		return c.Marshal()
	}
	other := *f.st
	other.Size++
	skew := cfg
	skew.ClockSkew = rules.Duration(10 * time.Minute)
	for _, tc := range []struct {
		name, want string
		data       []byte
		st         *compliance.Statement
		cfg        rules.Config
		opts       verifier.AuditOptions
	}{
		{"spaced", "not in its one encoding", bytes.Replace(good, []byte(`,"origin"`), []byte(`, "origin"`), 1), f.st, cfg, opts},
		{"no final newline", "not in its one encoding", bytes.TrimSuffix(good, []byte("\n")), f.st, cfg, opts},
		{"unknown member", "unknown field", bytes.Replace(good, []byte(`{"format"`), []byte(`{"extra":1,"format"`), 1), f.st, cfg, opts},
		{"format", "format: ", edit(func(s *compliance.SavedState) { s.Format = "v0" }), f.st, cfg, opts},
		{"short root", "root_hash: 3 bytes", edit(func(s *compliance.SavedState) { s.Root = []byte{1, 2, 3} }), f.st, cfg, opts},
		{"another state", "not the state the members replayed to", edit(func(s *compliance.SavedState) {
			ls := specs.NewLogState()
			ls.UnmarshalJSON(s.Admission)
			ls.SetLastSeq("zz", 1)
			s.Admission, _ = ls.MarshalJSON()
		}), f.st, cfg, opts},
		{"admission not canonical", "admission: does not save back", edit(func(s *compliance.SavedState) {
			s.Admission = bytes.Replace(s.Admission, []byte(`{"version":2,`), []byte(`{"version":2,"version":2,`), 1)
		}), f.st, cfg, opts},
		{"rules state", "rules: ", edit(func(s *compliance.SavedState) { s.Rules = []byte(`{"version":9}`) }), f.st, cfg, opts},
		{"edge", "edge: ", edit(func(s *compliance.SavedState) {
			s.Edge[0] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		}), f.st, cfg, opts},
		{"another size", "tree_size: the state is at size", good, &other, cfg, opts},
		{"another config", "config: this configuration's digest", good, f.st, skew, opts},
		{"judged earlier", "as-of: deadlines would be judged as of", good, f.st, cfg, verifier.AuditOptions{RulesAsOf: f.midAt.Add(-time.Hour)}},
	} {
		err := try(tc.data, tc.st, tc.cfg, tc.opts)
		if !errors.Is(err, compliance.ErrState) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an ErrState naming %q", tc.name, err, tc.want)
		}
	}
}

// The vector of the saved state format (specs/vectors/compliance/
// state.json) is read by the strict reader and its digest is the one the
// spec shows. ACDLEDGER_UPDATE_VECTORS=1 rewrites it.
func TestStateVector(t *testing.T) {
	adm, _ := specs.NewLogState().MarshalJSON()
	eng, _ := rules.New(rules.DefaultConfig()).MarshalState()
	s := &compliance.SavedState{Format: compliance.StateFormat, Origin: "acd.example/log", Size: 0,
		Root: mustB64(t, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), Edge: []string{}, Admission: adm, Rules: eng}
	path := filepath.Join("..", "..", "specs", "vectors", "compliance", "state.json")
	if os.Getenv("ACDLEDGER_UPDATE_VECTORS") == "1" {
		if err := os.WriteFile(path, s.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _, _, err := compliance.ParseState(raw, rules.DefaultConfig())
	if err != nil || !bytes.Equal(raw, s.Marshal()) {
		t.Fatalf("vector: %v\n%s\nwant\n%s", err, raw, s.Marshal())
	}
	spec, _ := os.ReadFile(filepath.Join("..", "..", "specs", "compliance.md"))
	if !strings.Contains(string(spec), got.Digest()) || !strings.Contains(string(spec), strings.TrimSpace(string(raw))) {
		t.Fatalf("specs/compliance.md does not show the state vector and its digest %s", got.Digest())
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseState: whatever the bytes, the reader does not panic, and what
// it accepts is exactly its one encoding.
func FuzzParseState(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "specs", "vectors", "compliance", "state.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(bytes.Replace(raw, []byte(`"edge":[]`), []byte(`"edge":["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]`), 1))
	f.Add([]byte(`{"format":"acdledger-replay-state/v1"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, _, err := compliance.ParseState(data, rules.DefaultConfig())
		if err == nil && !bytes.Equal(s.Marshal(), data) {
			t.Fatalf("accepted %q, which re-encodes to %q", data, s.Marshal())
		}
	})
}
