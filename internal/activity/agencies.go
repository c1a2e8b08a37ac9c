// Package activity generates realistic, entirely fictitious ledger activity:
// the agencies' and the commission's entries of whole case chains (requests,
// decisions, acquisitions, selection batches, measures, notices…), in log
// order, deterministically from a seed. The demo, the end-to-end tests and
// the benchmarks append what it makes. It follows the compliance rules
// (specs/rules.md, with their default durations) by construction and makes
// only whole case chains, so the rules engine finds nothing in it however
// long after its end the log is audited.
package activity

import "github.com/acdledger/acdledger/specs"

// Agency is one appender of the generated activity, as it goes into the
// registry.
type Agency struct {
	ID, Name, Role string
	Kinds          []string
}

// Agencies are the demo's appenders.
func Agencies() []Agency {
	return []Agency{
		{"nco", "National Cybersecurity Office (国家サイバー統括室)", "agency", []string{
			"agreement.concluded", "agreement.amended", "agreement.terminated", "approval.requested",
			"acquisition.started", "acquisition.stopped", "selection.batch", "retention.deleted", "provision", "response"}},
		{"npa", "National Police Agency (警察庁)", "agency", []string{
			"approval.requested", "measure.executed", "emergency.notice", "mofa.consulted", "response"}},
		{"mpd", "Tokyo Metropolitan Police Department (警視庁)", "agency", []string{
			"approval.requested", "measure.executed", "emergency.notice", "response"}},
		{"sdf", "Ministry of Defense / Self-Defense Forces (防衛省・自衛隊)", "agency", []string{
			"approval.requested", "measure.executed", "emergency.notice", "pm.ordered", "response"}},
		{"commission", "Cyber Communications Information Oversight Commission (サイバー通信情報監理委員会)", "commission", commissionKinds()},
	}
}

func commissionKinds() []string {
	var out []string
	for _, k := range specs.Kinds {
		if specs.CommissionKinds[k] && !specs.RootKinds[k] {
			out = append(out, k)
		}
	}
	return out
}
