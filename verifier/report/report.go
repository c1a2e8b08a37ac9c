// Package report builds and verifies the commission's annual report to the
// Diet from the published log alone (specs/report.md).
//
// A report is bound to one signed checkpoint: every figure is a count over
// the admitted entries among the first tree_size leaves whose occurred_at
// falls in the report's period. It reads only the entry header and the
// public body, never the sealed part, so anyone holding the published log
// can recompute it: [Verify] does exactly that and names every figure that
// differs.
//
// report.json is the report; report.md and report.html are renderings of it
// ([Render]) in Japanese or English, with small counts optionally banded.
package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/acdledger/acdledger/internal/jsonmsg"
	"github.com/acdledger/acdledger/specs"
)

// Format and SchemaVersion identify report.json; a reader refuses any other.
const (
	Format        = "acdledger-annual-report"
	SchemaVersion = 2
)

// Report is report.json. Field order here is the order in the file; maps
// are written with sorted keys, so the encoding is deterministic.
type Report struct {
	Format     string     `json:"format"`
	Schema     int        `json:"schema"`
	Period     Period     `json:"period"`
	Log        LogBinding `json:"log"`
	Parameters Parameters `json:"parameters"`
	Tables     []Table    `json:"tables"`
	// Rules is present when the compliance rules were run over the log.
	Rules *Rules `json:"rules,omitempty"`
}

// Period is the span of occurred_at the report covers: [From, Until) in JST.
type Period struct {
	Basis string `json:"basis"` // "fiscal" (April–March) or "calendar"
	Year  int    `json:"year"`  // the fiscal year's first calendar year (FY2026 = 2026-04-01..2027-03-31)
	From  string `json:"from"`  // RFC 3339, +09:00, inclusive
	Until string `json:"until"` // RFC 3339, +09:00, exclusive
}

// LogBinding names the exact input of the report: the checkpoint and which
// of its entries fall in the period.
type LogBinding struct {
	Origin   string `json:"origin"`
	TreeSize uint64 `json:"tree_size"`
	RootHash string `json:"root_hash"` // standard base64 of the RFC 6962 root
	// Checkpoint is the signed note (with any witness cosignatures), so a
	// reader can check the log key signed exactly this tree.
	Checkpoint string `json:"checkpoint"`
	// Cosigners are the key names of the checkpoint note's signature lines
	// other than the log's (its witness cosignatures), sorted: facts of the
	// note, the same whether the report was made with a bare log key or a
	// policy. Which of them an auditor's pins can check is for [Verify].
	Cosigners         []string `json:"cosigners"`
	AdmissionFailures uint64   `json:"admission_failures"` // leaves in [0, tree_size) that fail admission; not counted anywhere else
	EntriesInPeriod   uint64   `json:"entries_in_period"`
	FirstIndex        *uint64  `json:"first_index"` // smallest leaf index of an entry in the period; null if none
	LastIndex         *uint64  `json:"last_index"`  // largest
}

// Parameters are the durations the law leaves open that some figures
// depend on. They are inputs, recorded so the report can be recomputed.
type Parameters struct {
	// ImmediateDeletionSeconds: a selection batch's unselected data counts
	// as deleted on time if deleted_at - window_end is at most this.
	ImmediateDeletionSeconds int64 `json:"immediate_deletion_seconds"`
	// RetentionLimitSeconds: a retention deletion is on time if
	// deleted_at - created_at is at most this.
	RetentionLimitSeconds int64 `json:"retention_limit_seconds"`
	// DeadlineGraceSeconds: the rules judge deadlines as of the period's
	// end plus this (rules.as_of), so a deadline missed at the end of the
	// year is reported even when no later entry exists. It should be at
	// least the rules' max_record_lag, which the engine waits past a
	// deadline before it reports it (specs/rules.md, "Deadlines").
	DeadlineGraceSeconds int64 `json:"deadline_grace_seconds"`
}

// DefaultParameters are the rules' defaults (specs/rules.default.json), so
// that "late" means the same in the report and in the rules:
// selection_delete_within, retention_max and max_record_lag. They are
// placeholders until the statutory values are confirmed
// (shared/notes/acd-law.md marks them [?]). The report package reads the
// file itself rather than importing verifier/rules.
func DefaultParameters() Parameters {
	var d struct {
		Immediate string `json:"selection_delete_within"`
		Retention string `json:"retention_max"`
		Lag       string `json:"max_record_lag"`
	}
	secs := func(s string) int64 {
		v, err := time.ParseDuration(s)
		if err != nil {
			panic("specs/rules.default.json: " + err.Error())
		}
		return int64(v / time.Second)
	}
	if err := json.Unmarshal(specs.RulesDefaultConfig, &d); err != nil {
		panic("specs/rules.default.json: " + err.Error())
	}
	return Parameters{ImmediateDeletionSeconds: secs(d.Immediate), RetentionLimitSeconds: secs(d.Retention), DeadlineGraceSeconds: secs(d.Lag)}
}

// Table is one table of counts. Every row has a value for exactly the
// table's columns.
type Table struct {
	ID      string   `json:"id"`
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
}

// Row is one row of a table, identified by its key.
type Row struct {
	Key    string            `json:"key"`
	Values map[string]uint64 `json:"values"`
}

// Rules holds what the compliance rules found (specs/report.md, "rules").
type Rules struct {
	// Config identifies the rule set and its configuration, as given by
	// whoever ran them (e.g. "default" or "sha256:<hex of the config file>").
	Config string `json:"config"`
	// AsOf is the time deadline rules were evaluated at: the period's end
	// plus parameters.deadline_grace_seconds, whatever the log holds.
	AsOf string `json:"as_of"`
	// Violations are those of entries in the period, one per (rule, entry),
	// by index then rule.
	Violations []ViolationRef `json:"violations"`
}

// ViolationRef is one violation as the report lists it: one rule broken by
// one entry, with every reason the engine gave (a measure may break three
// conditions of one rule: it is one violation with three reasons).
type ViolationRef struct {
	Rule    string   `json:"rule"`
	Index   uint64   `json:"index"`
	EntryID string   `json:"entry_id"`
	Case    string   `json:"case"`
	Reasons []string `json:"reasons"`
}

// Table returns the table with the given id, or nil.
func (r *Report) Table(id string) *Table {
	for i := range r.Tables {
		if r.Tables[i].ID == id {
			return &r.Tables[i]
		}
	}
	return nil
}

// Row returns the row with the given key, or nil.
func (t *Table) Row(key string) *Row {
	for i := range t.Rows {
		if t.Rows[i].Key == key {
			return &t.Rows[i]
		}
	}
	return nil
}

// Marshal encodes the report canonically: fields in declaration order,
// map keys sorted, two-space indent, one trailing newline. The same log,
// checkpoint, period and parameters always give the same bytes.
func (r *Report) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrMalformed marks a report.json that cannot be read as a report.
var ErrMalformed = errors.New("malformed report")

// maxReportSize bounds what Parse reads; a real report is tens of KB.
const maxReportSize = 64 << 20

// Parse reads report.json strictly: the right format and schema version,
// no unknown fields, every row with exactly its table's columns, no
// duplicate table ids, row keys or columns. It checks structure only; the
// figures are checked by [Verify].
func Parse(data []byte) (*Report, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(data) > maxReportSize {
		return nil, bad("%d bytes, more than %d", len(data), maxReportSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, bad("%v", jsonmsg.Describe(err))
	}
	if dec.More() {
		return nil, bad("trailing data after the report")
	}
	if r.Format != Format {
		return nil, bad("format %q, want %q", r.Format, Format)
	}
	if r.Schema != SchemaVersion {
		return nil, bad("schema %d, this reader knows %d", r.Schema, SchemaVersion)
	}
	if r.Period.Basis != BasisFiscal && r.Period.Basis != BasisCalendar {
		return nil, bad("period.basis %q, want %q or %q", r.Period.Basis, BasisFiscal, BasisCalendar)
	}
	if r.Period.Year < 1 || r.Period.Year > 9998 {
		return nil, bad("period.year %d out of range", r.Period.Year)
	}
	if r.Parameters.ImmediateDeletionSeconds < 0 || r.Parameters.RetentionLimitSeconds < 0 || r.Parameters.DeadlineGraceSeconds < 0 {
		return nil, bad("parameters: negative duration")
	}
	if (r.Log.FirstIndex == nil) != (r.Log.LastIndex == nil) {
		return nil, bad("log: first_index and last_index must both be set or both be null")
	}
	if r.Log.Checkpoint == "" {
		return nil, bad("log.checkpoint is empty")
	}
	seen := map[string]bool{}
	for _, t := range r.Tables {
		if t.ID == "" || seen[t.ID] {
			return nil, bad("table id %q is empty or repeated", t.ID)
		}
		seen[t.ID] = true
		cols := map[string]bool{}
		for _, c := range t.Columns {
			if c == "" || cols[c] {
				return nil, bad("table %s: column %q is empty or repeated", t.ID, c)
			}
			cols[c] = true
		}
		keys := map[string]bool{}
		for _, row := range t.Rows {
			if keys[row.Key] {
				return nil, bad("table %s: row %q repeated", t.ID, row.Key)
			}
			keys[row.Key] = true
			if len(row.Values) != len(t.Columns) {
				return nil, bad("table %s, row %s: %d values for %d columns", t.ID, row.Key, len(row.Values), len(t.Columns))
			}
			for c := range row.Values {
				if !cols[c] {
					return nil, bad("table %s, row %s: value for unknown column %q", t.ID, row.Key, c)
				}
			}
		}
	}
	if r.Rules != nil {
		if !slices.IsSortedFunc(r.Rules.Violations, compareViolations) {
			return nil, bad("rules.violations are not ordered by index, then rule")
		}
		for i, v := range r.Rules.Violations {
			if i > 0 && v.Index == r.Rules.Violations[i-1].Index && v.Rule == r.Rules.Violations[i-1].Rule {
				return nil, bad("rules.violations[%d]: rule %s at index %d listed twice (one violation per rule and entry, with all its reasons)", i, v.Rule, v.Index)
			}
			if len(v.Reasons) == 0 {
				return nil, bad("rules.violations[%d]: no reasons", i)
			}
		}
	}
	return &r, nil
}

func compareViolations(a, b ViolationRef) int {
	return cmp.Or(cmp.Compare(a.Index, b.Index), compareRuleIDs(a.Rule, b.Rule), cmp.Compare(a.EntryID, b.EntryID), cmp.Compare(a.Case, b.Case))
}
