package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/acdledger/acdledger/specs"
)

// tableSpec fixes a table's columns and the rows it always has, in order.
// Rows outside the fixed list (e.g. "unknown_request", agency ids, rule
// ids) appear only when something was counted in them, after the fixed
// rows, sorted by key. specs/report.md documents every table.
type tableSpec struct {
	id      string
	columns []string
	rows    []string
}

var (
	decisions  = []string{"approved", "conditional", "rejected", "withdrawn"}
	directions = []string{"GAIGAI", "GAINAI", "NAIGAI", "NAINAI"}
	categories = []string{"HEADER_META", "COMMAND_PAYLOAD", "OTHER_MACHINE", "ESSENTIAL_CONTENT"}
	channels   = []string{"agreement", "transit_sending", "incoming_sending", "outgoing_sending"}
	measures   = []string{"police_measure", "police_measure_abroad", "sdf_protection"}
	sectors    = []string{"energy", "telecom", "finance", "transport", "water", "medical", "government", "logistics", "other"}
)

// Table ids.
const (
	TApprovals        = "approvals"
	TMeasures         = "measures"
	TMeasureOutcomes  = "measure_outcomes"
	TSelectionVolumes = "selection_volumes"
	TSelectionBatches = "selection_batches"
	TDeletions        = "deletions"
	TProvisions       = "provisions"
	TAgreements       = "agreements"
	TAcquisitions     = "acquisitions"
	TInspections      = "inspections"
	TOversightActions = "oversight_actions"
	TMonthly          = "monthly"
	TEntriesByKind    = "entries_by_kind"
	TEntriesByAgency  = "entries_by_agency"
	TViolations       = "violations"
)

// Rows outside the fixed lists.
const (
	rowUnknownRequest     = "unknown_request"
	rowUnknownMeasure     = "unknown_measure"
	rowUnknownAcquisition = "unknown_acquisition"
	rowUnknownAgreement   = "unknown_agreement"
	rowOtherTarget        = "other"
)

// tableSpecs returns the tables of a report for period p, in report order.
// The violations table is added only when rules ran.
func tableSpecs(p Period) []tableSpec {
	return []tableSpec{
		{TApprovals, append([]string{"requests", "decided"}, decisions...), []string{
			"transit_sending", "incoming_sending", "outgoing_sending",
			"extension_transit", "extension_incoming", "extension_outgoing", "extension_unspecified",
			"police_measure", "police_measure_abroad", "sdf_protection"}},
		{TMeasures, []string{"executed", "approved_in_advance", "emergency", "without_authority", "domestic_target", "foreign_target", "emergency_notices"}, measures},
		{TMeasureOutcomes, []string{"police", "sdf"}, []string{"neutralized", "partially_neutralized", "no_effect", "aborted"}},
		{TSelectionVolumes, append(slices.Clone(categories), "total"), directions},
		{TSelectionBatches, []string{"batches", "records_in", "records_selected", "records_deleted", "not_nonidentified"}, channels},
		{TDeletions, []string{"on_time", "late", "records_on_time", "records_late"}, []string{"unselected", "retention"}},
		{TProvisions, []string{"provisions", "records", "deidentified", "not_deidentified", "analysis", "selected", "with_approval"},
			[]string{"agency", "council", "operator", "foreign_government"}},
		{TAgreements, []string{"concluded", "amended", "terminated"}, sectors},
		{TAcquisitions, []string{"started", "stopped"}, channels},
		{TInspections, []string{"inspections", "with_findings", "findings"}, []string{"paragraph_1", "paragraph_2"}},
		{TOversightActions, []string{"issued", "responses", "accepted", "implemented", "partially_implemented", "disputed"},
			[]string{"notice", "demand", "recommendation"}},
		{TMonthly, []string{"entries", "requests", "decisions", "measures", "emergency_measures", "batches", "records_selected"}, p.months()},
		{TEntriesByKind, []string{"entries"}, specs.Kinds},
		{TEntriesByAgency, []string{"entries"}, nil},
	}
}

var violationsSpec = tableSpec{TViolations, []string{"violations"}, nil}

// tally accumulates one table.
type tally struct {
	spec   tableSpec
	col    map[string]int
	values map[string][]uint64
}

func newTally(s tableSpec) *tally {
	t := &tally{spec: s, col: map[string]int{}, values: map[string][]uint64{}}
	for i, c := range s.columns {
		t.col[c] = i
	}
	for _, r := range s.rows {
		t.values[r] = make([]uint64, len(s.columns))
	}
	return t
}

// add counts n in row and column; a row outside the fixed list is created
// on first use. Column names are fixed by the code, so a wrong one is a bug.
func (t *tally) add(row, col string, n uint64) {
	v := t.values[row]
	if v == nil {
		v = make([]uint64, len(t.spec.columns))
		t.values[row] = v
	}
	i, ok := t.col[col]
	if !ok {
		panic("report: table " + t.spec.id + " has no column " + col)
	}
	v[i] += n
}

func (t *tally) table() Table {
	out := Table{ID: t.spec.id, Columns: slices.Clone(t.spec.columns), Rows: []Row{}}
	var extra []string
	for k := range t.values {
		if !slices.Contains(t.spec.rows, k) {
			extra = append(extra, k)
		}
	}
	if t.spec.id == TViolations {
		slices.SortFunc(extra, compareRuleIDs) // R1, R2, … R12, not R1, R12, R2
	} else {
		slices.Sort(extra)
	}
	for _, k := range append(slices.Clone(t.spec.rows), extra...) {
		vals := map[string]uint64{}
		for i, c := range t.spec.columns {
			vals[c] = t.values[k][i]
		}
		out.Rows = append(out.Rows, Row{Key: k, Values: vals})
	}
	return out
}

// compareRuleIDs orders rule ids by their number (R2 before R12); an id
// without one sorts after those with one, in byte order.
func compareRuleIDs(a, b string) int {
	na, ea := strconv.Atoi(strings.TrimPrefix(a, "R"))
	nb, eb := strconv.Atoi(strings.TrimPrefix(b, "R"))
	switch {
	case ea == nil && eb == nil:
		return cmp.Or(cmp.Compare(na, nb), cmp.Compare(a, b))
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return cmp.Compare(a, b)
}
