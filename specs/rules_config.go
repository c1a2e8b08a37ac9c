package specs

import _ "embed"

// RulesDefaultConfig is rules.default.json: the compliance rules' default
// durations and switches (specs/rules.md). The verifier's rules engine
// parses it for its defaults, so the file and the code cannot drift apart.
//
//go:embed rules.default.json
var RulesDefaultConfig []byte
