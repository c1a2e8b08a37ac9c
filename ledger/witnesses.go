package ledger

import (
	"fmt"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// witnessGroup reads the operator's witness policy (serve --policy) into
// the group Tessera collects cosignatures from.
//
// The file is read first by the auditors' strict reader (C2SP tlog-policy,
// verifier/tlog.ParsePolicy), and then by Tessera's. Tessera's reader
// (a copy of formats/witness.ParsePolicy) accepts what the spec refuses: a
// threshold of 0 (a quorum met with no cosignature), a witness listed twice
// in a group or two witness lines with one key (one cosignature counted
// twice), a '#' cut anywhere in a line. Running ours first means the log
// publishes under exactly the quorum its auditors will check. The
// operator's extra rules: every witness has an http(s) URL (the log must
// reach it; auditors' copies may omit URLs), and the log line pins this
// log's key.
func witnessGroup(policy []byte, logKey note.Verifier) (tessera.WitnessGroup, *tlog.Policy, error) {
	p, err := tlog.ParsePolicy(policy)
	if err != nil {
		return tessera.WitnessGroup{}, nil, err
	}
	if err := p.RequireWitnessURLs(logKey); err != nil {
		return tessera.WitnessGroup{}, nil, err
	}
	g, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		return tessera.WitnessGroup{}, nil, fmt.Errorf("Tessera's policy reader: %w", err)
	}
	return g, p, nil
}
