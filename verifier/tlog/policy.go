package tlog

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Policy is what an auditor pins for a witnessed log, read as C2SP
// tlog-policy (https://c2sp.org/tlog-policy; the revision followed and the
// rules are in specs/witnesses.md):
//
//	log <vkey> [<url>]
//	witness <name> <vkey> [<url>]
//	group <name> <k|any|all> <member>...
//	quorum <name|none>
//
// The same file configures `acdledger serve`'s publication quorum, which
// needs every witness's URL (see [Policy.RequireWitnessURLs]).
type Policy struct {
	Log       note.Verifier // from the log line
	LogURL    string
	Witnesses []PolicyWitness
	// Quorum is the tree the quorum line names (nil for "quorum none").
	Quorum    *QuorumNode
	QuorumSet bool // false for "quorum none"
	Raw       []byte
}

// PolicyWitness is one witness of a policy.
type PolicyWitness struct {
	Name     string
	VKey     string
	Verifier note.Verifier
	URL      string // optional in the file: "" when the line has none
	Line     int    // the line that defines it, for messages
}

// QuorumNode is a witness or a group of the policy: a group is satisfied
// when at least Threshold of its Members are; a witness when the checkpoint
// carries its valid cosignature. Because a name may be a group member only
// once in the whole file (tlog-policy), the nodes form a tree and each
// witness counts toward the quorum in one way only.
type QuorumNode struct {
	Name      string
	Witness   int // index in Policy.Witnesses; -1 for a group
	Threshold int
	Members   []*QuorumNode
}

// Rule ids of [PolicyError]. The ones without a prefix are C2SP tlog-policy
// rules; those prefixed "acdledger/" are this project's profile (a stricter
// reading, or something the spec leaves to the application). The same ids
// are the expected results of specs/vectors/policy.json.
const (
	RuleCharset          = "charset"           // an octet other than tab, newline, 0x20-0x7E, 0x80-0xFF
	RuleLineEnd          = "line-end"          // the last line does not end in a newline
	RuleKeyword          = "keyword"           // a line starts with an unknown keyword
	RuleItems            = "items"             // wrong number of items on a line
	RuleLogKey           = "log-key"           // the log line's vkey is malformed or of a cosignature type
	RuleLogDuplicate     = "log-duplicate"     // two log lines with one public key
	RuleWitnessKey       = "witness-key"       // the witness line's vkey is malformed or not a cosignature key
	RuleWitnessDuplicate = "witness-duplicate" // two witness lines with one public key
	RuleNameDefined      = "name-defined"      // a witness or group name defined twice (one namespace)
	RuleNameReserved     = "name-reserved"     // defining the predefined name "none"
	RuleGroupEmpty       = "group-empty"       // a group with no member
	RuleThreshold        = "threshold"         // k not decimal, or not 1 <= k <= n
	RuleUndefined        = "undefined-name"    // a member or the quorum names nothing defined on a preceding line
	RuleMemberNone       = "member-none"       // "none" listed as a group member
	RuleMemberTwice      = "member-twice"      // a name listed as a group member more than once in the file
	RuleQuorumMissing    = "quorum-missing"    // no quorum line
	RuleQuorumTwice      = "quorum-twice"      // a second quorum line

	RuleOneLog        = "acdledger/one-log"        // a second log line: a policy pins one log
	RuleLogRequired   = "acdledger/log-required"   // no log line: the policy is the auditor's pin of the log key
	RuleCosignatureV1 = "acdledger/cosignature-v1" // a witness key of a cosignature type other than Ed25519 (0x04)
	RuleThresholdForm = "acdledger/threshold-form" // k with leading zeros
	RuleLimit         = "acdledger/limit"          // over MaxPolicySize, MaxPolicyWitnesses or MaxPolicyGroups
	RuleWitnessURL    = "acdledger/witness-url"    // serve: a witness without an http(s) URL
	RuleOtherLog      = "acdledger/other-log"      // serve: the policy pins another log's key
)

// predefinedNone is the name tlog-policy predefines: "quorum none" asks for
// no cosignature; it names no witness or group and is no group member.
const predefinedNone = "none"

// Limits on a policy (tlog-policy asks implementations to support at least
// 32 logs, 32 witnesses and 32 groups).
const (
	MaxPolicySize      = 1 << 20
	MaxPolicyWitnesses = 256
	MaxPolicyGroups    = 256
)

// PolicyError is a refused policy file: the line (0 for the whole file), the
// rule broken (a Rule… id) and what was wrong.
type PolicyError struct {
	Line int
	Rule string
	Msg  string
}

func (e *PolicyError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("policy: %s (rule %s)", e.Msg, e.Rule)
	}
	return fmt.Sprintf("policy line %d: %s (rule %s)", e.Line, e.Msg, e.Rule)
}

func policyErr(line int, rule, format string, args ...any) *PolicyError {
	return &PolicyError{Line: line, Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// ParsePolicy reads a policy file strictly as C2SP tlog-policy, plus the
// acdledger profile (exactly one log line; Ed25519 cosignature/v1 witness
// keys). Every refusal is a [*PolicyError] naming the line and the rule.
//
// The quorum is evaluated by this package, not by formats' witness package:
// formats/witness.ParsePolicy (which Tessera's NewWitnessGroupFromPolicy
// copies) requires a URL on every witness line, which the spec makes
// optional, and accepts what the spec refuses (k = 0, a member listed twice,
// two witnesses with one key, trailing comments), so auditors cannot rely
// on it. The log side still hands the file to Tessera, after this check
// (ledger: witnessGroup).
func ParsePolicy(data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, policyErr(0, RuleLimit, "%d bytes, more than the %d this reader takes", len(data), MaxPolicySize)
	}
	p := &Policy{Raw: bytes.Clone(data)}
	defined := map[string]*QuorumNode{}
	listed := map[string]int{} // group member name -> line where it was listed
	logKeys := map[string]int{}
	witnessKeys := map[string]int{}
	groups, quorumLine := 0, 0

	// Rules are checked line by line, in file order, so the error is the
	// first broken rule in the file; the whole-file rules (quorum-missing,
	// then log-required) come last.
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		n := i + 1
		if i == len(lines)-1 {
			if line != "" {
				// Each line is terminated by a newline: a trailing fragment
				// is not a line.
				return nil, policyErr(n, RuleLineEnd, "the last line does not end in a newline")
			}
			break
		}
		if j := strings.IndexFunc(line, badPolicyRune); j >= 0 {
			c := line[j]
			hint := ""
			if c == '\r' {
				hint = " (CRLF line endings are not allowed: lines end in a newline only)"
			}
			return nil, policyErr(n, RuleCharset, "byte 0x%02x at column %d: only tab, newline, 0x20-0x7E and 0x80-0xFF are allowed%s", c, j+1, hint)
		}
		// Items are separated by spaces and tabs only: strings.Fields would
		// also split at Unicode spaces, but octets with the high bit set
		// are opaque.
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue // empty or comment line; a '#' later in a line is part of an item
		}
		switch f[0] {
		case "log":
			if len(f) < 2 || len(f) > 3 {
				return nil, policyErr(n, RuleItems, "want 'log <vkey> [<url>]', got %d items%s", len(f), commentHint(len(f) > 3))
			}
			v, key, err := parsePolicyKey(f[1])
			if err != nil {
				return nil, policyErr(n, RuleLogKey, "log key: %v", err)
			}
			if key[0] == algCosignatureV1 || key[0] == algMLDSA44Cosignature {
				return nil, policyErr(n, RuleLogKey, "log key %s is a witness cosignature key (type 0x%02x); a log signs checkpoints with a checkpoint key (tlog-checkpoint)", f[1], key[0])
			}
			if prev, dup := logKeys[string(key[1:])]; dup {
				return nil, policyErr(n, RuleLogDuplicate, "log key %s is the public key of the log on line %d", f[1], prev)
			}
			logKeys[string(key[1:])] = n
			if p.Log != nil {
				return nil, policyErr(n, RuleOneLog, "a second log line; an acdledger policy pins one log")
			}
			p.Log = v
			if len(f) == 3 {
				p.LogURL = f[2]
			}
		case "witness":
			if len(f) < 3 || len(f) > 4 {
				return nil, policyErr(n, RuleItems, "want 'witness <name> <vkey> [<url>]', got %d items%s", len(f), commentHint(len(f) > 4))
			}
			name := f[1]
			if err := checkNewName(n, name, defined); err != nil {
				return nil, err
			}
			_, key, err := parsePolicyKey(f[2])
			if err != nil {
				return nil, policyErr(n, RuleWitnessKey, "witness %s: %v", name, err)
			}
			switch key[0] {
			case algCosignatureV1:
			case algMLDSA44Cosignature:
				return nil, policyErr(n, RuleCosignatureV1, "witness %s: ML-DSA-44 cosignature keys (type 0x06) are not supported yet; use an Ed25519 cosignature/v1 key (type 0x04, 'acdledger witness keygen')", name)
			default:
				return nil, policyErr(n, RuleWitnessKey, "witness %s: key type 0x%02x is not a cosignature key; a witness key must be a tlog-cosignature key (type 0x04, 'acdledger witness keygen')", name, key[0])
			}
			if prev, dup := witnessKeys[string(key[1:])]; dup {
				return nil, policyErr(n, RuleWitnessDuplicate, "witness %s has the public key of the witness on line %d: one cosignature would count twice", name, prev)
			}
			witnessKeys[string(key[1:])] = n
			if len(p.Witnesses) == MaxPolicyWitnesses {
				return nil, policyErr(n, RuleLimit, "more than %d witnesses", MaxPolicyWitnesses)
			}
			v, err := fnote.NewVerifierForCosignatureV1(f[2])
			if err != nil {
				return nil, policyErr(n, RuleWitnessKey, "witness %s: %v", name, err)
			}
			w := PolicyWitness{Name: name, VKey: f[2], Verifier: v, Line: n}
			if len(f) == 4 {
				w.URL = f[3]
			}
			defined[name] = &QuorumNode{Name: name, Witness: len(p.Witnesses)}
			p.Witnesses = append(p.Witnesses, w)
		case "group":
			if len(f) < 3 {
				return nil, policyErr(n, RuleItems, "want 'group <name> <k|any|all> <member>...', got %d items", len(f))
			}
			name, threshold, members := f[1], f[2], f[3:]
			if err := checkNewName(n, name, defined); err != nil {
				return nil, err
			}
			if len(members) == 0 {
				return nil, policyErr(n, RuleGroupEmpty, "group %s lists no member; a group needs at least one", name)
			}
			k, err := parseThreshold(n, name, threshold, len(members))
			if err != nil {
				return nil, err
			}
			g := &QuorumNode{Name: name, Witness: -1, Threshold: k}
			for _, m := range members {
				if m == predefinedNone {
					return nil, policyErr(n, RuleMemberNone, "group %s lists \"none\", which is not a valid group member", name)
				}
				child := defined[m]
				if child == nil {
					return nil, policyErr(n, RuleUndefined, "group %s lists %q, which no preceding line defines", name, m)
				}
				if prev, twice := listed[m]; twice {
					if prev == n {
						return nil, policyErr(n, RuleMemberTwice, "group %s lists %s twice: one cosignature would count twice", name, m)
					}
					return nil, policyErr(n, RuleMemberTwice, "group %s lists %s, already a member of the group on line %d: a name may be a group member only once, so each witness counts toward the quorum in one way", name, m, prev)
				}
				listed[m] = n
				g.Members = append(g.Members, child)
			}
			if groups++; groups > MaxPolicyGroups {
				return nil, policyErr(n, RuleLimit, "more than %d groups", MaxPolicyGroups)
			}
			defined[name] = g
		case "quorum":
			if len(f) != 2 {
				return nil, policyErr(n, RuleItems, "want 'quorum <name>', got %d items%s", len(f), commentHint(len(f) > 2))
			}
			if quorumLine != 0 {
				return nil, policyErr(n, RuleQuorumTwice, "a second quorum line (the first is line %d); a policy has exactly one", quorumLine)
			}
			quorumLine = n
			if f[1] == predefinedNone {
				continue
			}
			q := defined[f[1]]
			if q == nil {
				return nil, policyErr(n, RuleUndefined, "quorum %q: no preceding line defines that witness or group", f[1])
			}
			p.Quorum, p.QuorumSet = q, true
		default:
			return nil, policyErr(n, RuleKeyword, "unknown keyword %q; a line is log, witness, group, quorum, a comment (#) or empty", f[0])
		}
	}
	if quorumLine == 0 {
		return nil, policyErr(0, RuleQuorumMissing, "no quorum line; a policy has exactly one ('quorum none' for no witnesses)")
	}
	if p.Log == nil {
		return nil, policyErr(0, RuleLogRequired, "no log line: an acdledger policy pins the log's key")
	}
	return p, nil
}

// Signature types (signed-note vkeys) the policy reader tells apart.
const (
	algCosignatureV1      = 0x04 // tlog-cosignature, Ed25519
	algMLDSA44Cosignature = 0x06 // tlog-cosignature, ML-DSA-44
)

// badPolicyRune: an ASCII control character other than tab (newline was
// split on) or DEL. Invalid UTF-8 decodes to utf8.RuneError, which is fine:
// octets with the high bit set are opaque.
func badPolicyRune(r rune) bool { return r != '\t' && r < 0x20 || r == 0x7f }

// commentHint explains extra items: Tessera's and formats' readers cut a
// line at any '#', tlog-policy only skips lines that start with one.
func commentHint(extra bool) string {
	if extra {
		return " (a comment must be a line of its own)"
	}
	return ""
}

func checkNewName(n int, name string, defined map[string]*QuorumNode) error {
	if name == predefinedNone {
		return policyErr(n, RuleNameReserved, "the name \"none\" is predefined and cannot name a witness or group")
	}
	if _, dup := defined[name]; dup {
		return policyErr(n, RuleNameDefined, "%s is already defined; witnesses and groups share one namespace", name)
	}
	return nil
}

// parseThreshold reads a group's k: "any" (1), "all" (n) or a decimal
// 1 <= k <= n, in decimal digits only ("2"; not "+2", and, by the acdledger
// profile, not "02").
func parseThreshold(n int, group, s string, members int) (int, error) {
	switch s {
	case "any":
		return 1, nil
	case "all":
		return members, nil
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, policyErr(n, RuleThreshold, "group %s: threshold %q is not any, all or a decimal number", group, s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, policyErr(n, RuleThresholdForm, "group %s: threshold %q: write it without leading zeros", group, s)
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 1 || k > members {
		return 0, policyErr(n, RuleThreshold, "group %s: threshold %s with %d members; it must be 1 <= k <= %d", group, s, members, members)
	}
	return k, nil
}

// parsePolicyKey parses a vkey (name+hash+base64) and returns the verifier
// and the decoded key (type byte first). Only the canonical text is taken:
// the key hash must be the one the name and key give (formats' verifiers
// recompute it and ignore the written one, so a wrong hash would otherwise
// pass), in lower-case hex, and the base64 must be canonical.
func parsePolicyKey(vkey string) (note.Verifier, []byte, error) {
	parts := strings.SplitN(vkey, "+", 3) // base64 may contain "+"; a key name may not
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%q is not a verifier key (name+hash+base64)", vkey)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(key) < 2 || base64.StdEncoding.EncodeToString(key) != parts[2] {
		return nil, nil, fmt.Errorf("%q: the key is not canonical base64 of a type byte and a public key", vkey)
	}
	var v note.Verifier
	if key[0] == algCosignatureV1 || key[0] == algMLDSA44Cosignature {
		v, err = fnote.NewVerifierForCosignatureV1(vkey)
	} else {
		v, err = fnote.NewVerifier(vkey)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %v", vkey, err)
	}
	if want := fmt.Sprintf("%s+%08x+%s", v.Name(), v.KeyHash(), parts[2]); vkey != want {
		return nil, nil, fmt.Errorf("%q: the key hash is not the one its name and key give (%08x)", vkey, v.KeyHash())
	}
	return v, key, nil
}

// RequireWitnessURLs is the log operator's check (`acdledger serve
// --policy`): it reaches every witness at its tlog-witness submission
// prefix, so each witness line must carry an absolute http or https URL
// (auditors' copies of the policy need none). logKey, when not nil, must be
// the policy's log key: a policy pinning another log is a mistake.
func (p *Policy) RequireWitnessURLs(logKey note.Verifier) error {
	if logKey != nil && (p.Log.Name() != logKey.Name() || p.Log.KeyHash() != logKey.KeyHash()) {
		return policyErr(0, RuleOtherLog, "the log line pins %s+%08x, but this log is %s+%08x", p.Log.Name(), p.Log.KeyHash(), logKey.Name(), logKey.KeyHash())
	}
	for _, w := range p.Witnesses {
		if w.URL == "" {
			return policyErr(w.Line, RuleWitnessURL, "witness %s has no URL; the log must reach every witness, so give its submission prefix ('witness %s <vkey> https://…')", w.Name, w.Name)
		}
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return policyErr(w.Line, RuleWitnessURL, "witness %s: URL %q is not an absolute http or https URL", w.Name, w.URL)
		}
	}
	return nil
}

// Cosigners returns the names of the policy's witnesses whose valid
// cosignature the checkpoint carries, and of those whose it does not.
func (p *Policy) Cosigners(raw []byte) (signed, missing []string) {
	for i, w := range p.Witnesses {
		if p.cosigned(raw, i) {
			signed = append(signed, w.Name)
		} else {
			missing = append(missing, w.Name)
		}
	}
	return signed, missing
}

func (p *Policy) cosigned(raw []byte, i int) bool {
	_, err := note.Open(raw, note.VerifierList(p.Witnesses[i].Verifier))
	return err == nil
}

// Satisfied reports whether the checkpoint raw carries the quorum: always
// for "quorum none".
func (p *Policy) Satisfied(raw []byte) bool {
	return p.satisfied(func(i int) bool { return p.cosigned(raw, i) })
}

// SatisfiedBy reports whether valid cosignatures by the named witnesses
// (and no others) would meet the quorum.
func (p *Policy) SatisfiedBy(names []string) bool {
	return p.satisfied(func(i int) bool { return slices.Contains(names, p.Witnesses[i].Name) })
}

func (p *Policy) satisfied(cosigned func(witness int) bool) bool {
	if p.Quorum == nil {
		return true
	}
	return p.Quorum.satisfied(cosigned)
}

// satisfied evaluates the tree; each witness is one leaf (see QuorumNode),
// so this costs one cosigned call per witness at most.
func (q *QuorumNode) satisfied(cosigned func(int) bool) bool {
	if q.Witness >= 0 {
		return cosigned(q.Witness)
	}
	met := 0
	for _, m := range q.Members {
		if m.satisfied(cosigned) {
			if met++; met >= q.Threshold {
				return true
			}
		}
	}
	return false
}

// QuorumError says a checkpoint lacks the policy's quorum of cosignatures.
type QuorumError struct {
	Size            uint64
	Signed, Missing []string
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("tlog: checkpoint of size %d lacks the witness quorum: cosigned by [%s], missing [%s]",
		e.Size, strings.Join(e.Signed, ", "), strings.Join(e.Missing, ", "))
}

// CosignedAt returns the newest timestamp of a valid cosignature by one of
// the policy's witnesses on the checkpoint raw (zero if none). A witness
// cosigns (tlog-cosignature/v1) only a checkpoint it has seen, so the log
// held at least that tree at that time: an upper bound on when every entry
// of the tree was logged.
func (p *Policy) CosignedAt(raw []byte) time.Time {
	var newest time.Time
	for _, w := range p.Witnesses {
		n, err := note.Open(raw, note.VerifierList(w.Verifier))
		if err != nil {
			continue
		}
		for _, s := range n.Sigs {
			if t, err := fnote.CoSigV1Timestamp(s); err == nil && t.After(newest) {
				newest = t
			}
		}
	}
	return newest
}

// checkQuorum applies the policy, if the trust has one.
func (t Trust) checkQuorum(cp *Checkpoint) error {
	if t.Policy == nil {
		return nil
	}
	cp.CosignedAt = t.Policy.CosignedAt(cp.Raw)
	if !t.Policy.QuorumSet {
		return nil
	}
	signed, missing := t.Policy.Cosigners(cp.Raw)
	cp.Cosigners = signed
	if !t.Policy.Satisfied(cp.Raw) {
		return &QuorumError{Size: cp.Size, Signed: signed, Missing: missing}
	}
	return nil
}

// CheckedSigners returns the key names (as on the note's signature lines,
// see Checkpoint.Signers) of the policy's witnesses whose cosignature on
// raw verifies, sorted.
func (p *Policy) CheckedSigners(raw []byte) []string {
	var names []string
	for _, w := range p.Witnesses {
		if _, err := note.Open(raw, note.VerifierList(w.Verifier)); err == nil {
			names = append(names, w.Verifier.Name())
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
