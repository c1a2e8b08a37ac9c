// Package compliance makes and checks compliance statements: a committee
// member replays the log to a checkpoint with the compliance rules and signs
// what it found (specs/compliance.md). A checkpoint cosignature
// (c2sp.org/tlog-cosignature) says "this tree is consistent"; a compliance
// statement is an additional statement about the same tree, "replayed under
// these rules it has this many violations and admission failures, and this
// is the state the replay ended in". It is a signed note of its own, whose
// first line is not an origin, so it can never be read as a checkpoint or a
// cosignature of one.
package compliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"golang.org/x/mod/sumdb/note"
)

// Header is the statement's first line.
const Header = "acdledger-compliance/v1"

// Statement is what a member signs.
type Statement struct {
	Origin            string    `json:"origin"`
	Size              uint64    `json:"tree_size"`
	Root              []byte    `json:"root_hash"`
	Rules             string    `json:"rules"`  // every rule run, id@version, comma-separated, in id order
	Config            string    `json:"config"` // sha256:<hex> of the rules configuration file's bytes (of specs/rules.default.json for the defaults)
	AsOf              time.Time `json:"as_of"`  // when deadlines were judged, UTC, whole seconds
	Violations        uint64    `json:"violations"`
	AdmissionFailures uint64    `json:"admission_failures"`
	State             string    `json:"state"` // sha256:<hex>, see StateDigest
}

// Text is the note text of the statement (specs/compliance.md).
func (s *Statement) Text() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\norigin %s\nsize %d\nroot %s\nrules %s\nconfig %s\nas-of %s\nviolations %d\nadmission-failures %d\nstate %s\n",
		Header, s.Origin, s.Size, base64.StdEncoding.EncodeToString(s.Root), s.Rules, s.Config,
		s.AsOf.UTC().Format(time.RFC3339), s.Violations, s.AdmissionFailures, s.State)
	return b.Bytes()
}

// ErrMalformed marks a statement that cannot be read.
var ErrMalformed = errors.New("malformed compliance statement")

var (
	digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	rulesRe  = regexp.MustCompile(`^R[1-9][0-9]*@[1-9][0-9]*(,R[1-9][0-9]*@[1-9][0-9]*)*$`)
)

// ParseText reads the note text strictly: every line in order, each key
// once, numbers in decimal without leading zeros, the root 32 bytes of
// standard base64, times in RFC 3339 UTC whole seconds.
func ParseText(text []byte) (*Statement, error) {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrMalformed, field, fmt.Sprintf(format, args...))
	}
	if !bytes.HasSuffix(text, []byte("\n")) {
		return nil, bad("text", "does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	keys := []string{"origin", "size", "root", "rules", "config", "as-of", "violations", "admission-failures", "state"}
	if len(lines) != 1+len(keys) {
		return nil, bad("text", "%d lines, want %d", len(lines), 1+len(keys))
	}
	if lines[0] != Header {
		return nil, bad("header", "first line %q, want %q", lines[0], Header)
	}
	v := map[string]string{}
	for i, k := range keys {
		val, ok := strings.CutPrefix(lines[1+i], k+" ")
		if !ok || val == "" || strings.ContainsAny(val, " \t\r") {
			return nil, bad(k, "line %d is %q, want %q followed by one space and a value without spaces", 2+i, lines[1+i], k)
		}
		v[k] = val
	}
	num := func(k string) (uint64, error) {
		n, err := strconv.ParseUint(v[k], 10, 64)
		if err != nil || strconv.FormatUint(n, 10) != v[k] {
			return 0, bad(k, "%q is not a decimal number without leading zeros", v[k])
		}
		return n, nil
	}
	s := &Statement{Origin: v["origin"], Rules: v["rules"], Config: v["config"], State: v["state"]}
	var err error
	if s.Size, err = num("size"); err != nil {
		return nil, err
	}
	if s.Violations, err = num("violations"); err != nil {
		return nil, err
	}
	if s.AdmissionFailures, err = num("admission-failures"); err != nil {
		return nil, err
	}
	s.Root, err = base64.StdEncoding.Strict().DecodeString(v["root"])
	if err != nil || len(s.Root) != 32 || base64.StdEncoding.EncodeToString(s.Root) != v["root"] {
		return nil, bad("root", "%q is not 32 bytes of standard base64", v["root"])
	}
	if !rulesRe.MatchString(s.Rules) {
		return nil, bad("rules", "%q is not a comma-separated list of id@version", s.Rules)
	}
	for k, d := range map[string]string{"config": s.Config, "state": s.State} {
		if !digestRe.MatchString(d) {
			return nil, bad(k, "%q is not sha256: and 64 lowercase hex digits", d)
		}
	}
	s.AsOf, err = time.Parse(time.RFC3339, v["as-of"])
	if err != nil || s.AsOf.UTC().Format(time.RFC3339) != v["as-of"] {
		return nil, bad("as-of", "%q is not an RFC 3339 UTC time in whole seconds (2027-04-04T00:00:00Z)", v["as-of"])
	}
	return s, nil
}

// RulesVersion names the rules an engine with cfg runs: id@version of each
// rule not disabled, in id order.
func RulesVersion(cfg rules.Config) string {
	var out []string
	for _, r := range rules.Rules() {
		if slices.Contains(cfg.Disabled, r.ID) || slices.Contains(cfg.Disabled, r.Name) {
			continue
		}
		out = append(out, fmt.Sprintf("%s@%d", r.ID, r.Version))
	}
	return strings.Join(out, ",")
}

// ConfigDigest is the statement's config value: the configuration's
// digest (rules.Config.Digest), the same an evidence package names.
func ConfigDigest(cfg rules.Config) string {
	_, d, err := cfg.Digest()
	if err != nil {
		panic(err) // a Config always marshals
	}
	return d
}

// StateDigest is the digest of the admission state and the rules engine's
// state after a replay: SHA-256 of the text
// "acdledger-compliance-state/v1\nadmission <hex sha256 of the admission
// state JSON>\nrules <hex sha256 of the engine state JSON>\n".
func StateDigest(admissionJSON, rulesJSON []byte) string {
	a, r := sha256.Sum256(admissionJSON), sha256.Sum256(rulesJSON)
	sum := sha256.Sum256(fmt.Appendf(nil, "acdledger-compliance-state/v1\nadmission %x\nrules %x\n", a, r))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Options say how to replay.
type Options struct {
	Config   rules.Config
	AsOf     time.Time // when deadlines are judged; zero: the checkpoint's newest cosignature, else an error
	Workers  int
	Progress func(done, total uint64)
}

// Make replays the tree cp commits to (already verified against pins) with
// the rules and returns the statement of what it found.
func Make(ctx context.Context, pins *verifier.Pins, src *tlog.Source, cp *tlog.Checkpoint, opts Options) (*Statement, error) {
	asOf := opts.AsOf
	if asOf.IsZero() {
		asOf = cp.CosignedAt
	}
	if asOf.IsZero() {
		return nil, errors.New("no as-of time: the checkpoint has no witness cosignature; give one")
	}
	asOf = asOf.UTC().Truncate(time.Second)
	eng := rules.New(opts.Config)
	ar, err := pins.Audit(ctx, src, verifier.AuditOptions{Checkpoint: cp, Rules: eng, RulesAsOf: asOf, Workers: opts.Workers, Progress: opts.Progress})
	if err != nil {
		return nil, err
	}
	adm, err := ar.AdmissionState.MarshalJSON()
	if err != nil {
		return nil, err
	}
	rst, err := eng.MarshalState()
	if err != nil {
		return nil, err
	}
	return &Statement{
		Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Rules: RulesVersion(opts.Config), Config: ConfigDigest(opts.Config),
		AsOf: asOf, Violations: ar.Rules.ViolationCount, AdmissionFailures: ar.FailureCount, State: StateDigest(adm, rst),
	}, nil
}

// Sign signs the statement as a signed note.
func Sign(s *Statement, signer note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(s.Text())}, signer)
}

// Policy is who must have signed: Quorum of the Members' keys.
type Policy struct {
	Members []note.Verifier
	Quorum  int
}

// ParsePolicy reads a policy file: lines "member <vkey>" (a signed-note
// verifier key) and one line "quorum <k>"; blank lines and lines starting
// with # are ignored. Without a quorum line every member must sign.
func ParsePolicy(text string) (*Policy, error) {
	p := &Policy{}
	names := map[string]bool{}
	quorum := -1
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "member":
			vr, err := note.NewVerifier(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("policy line %d: member: not a verifier key: %v", i+1, err)
			}
			if names[vr.Name()] {
				return nil, fmt.Errorf("policy line %d: member %s listed twice", i+1, vr.Name())
			}
			names[vr.Name()] = true
			p.Members = append(p.Members, vr)
		case "quorum":
			if quorum >= 0 {
				return nil, fmt.Errorf("policy line %d: a second quorum line", i+1)
			}
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("policy line %d: quorum %q is not a positive number", i+1, v)
			}
			quorum = n
		default:
			return nil, fmt.Errorf("policy line %d: unknown keyword %q (want member or quorum)", i+1, k)
		}
	}
	if len(p.Members) == 0 {
		return nil, errors.New("policy: no member")
	}
	if quorum < 0 {
		quorum = len(p.Members)
	}
	if quorum > len(p.Members) {
		return nil, fmt.Errorf("policy: quorum %d of %d members", quorum, len(p.Members))
	}
	p.Quorum = quorum
	return p, nil
}

// ErrQuorum marks a statement without enough valid member signatures;
// ErrSignature one with a member's signature that does not verify (an
// altered statement).
var (
	ErrQuorum    = errors.New("compliance statement quorum")
	ErrSignature = errors.New("compliance statement signature")
)

// Verify opens a signed statement: at least p.Quorum of its members'
// signatures must verify. It returns the statement and the names of the
// members whose signatures verified, sorted.
func Verify(msg []byte, p *Policy) (*Statement, []string, error) {
	n, err := note.Open(msg, note.VerifierList(p.Members...))
	if err != nil {
		var u *note.UnverifiedNoteError
		var bad *note.InvalidSignatureError
		if errors.As(err, &bad) {
			return nil, nil, fmt.Errorf("%w: %v: the statement is not what the member signed", ErrSignature, err)
		}
		if errors.As(err, &u) {
			return nil, nil, fmt.Errorf("%w: no signature by a member of the policy verifies", ErrQuorum)
		}
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var signers []string
	for _, s := range n.Sigs {
		if !slices.Contains(signers, s.Name) {
			signers = append(signers, s.Name)
		}
	}
	slices.Sort(signers)
	st, err := ParseText([]byte(n.Text))
	if err != nil {
		return nil, signers, err
	}
	if len(signers) < p.Quorum {
		return st, signers, fmt.Errorf("%w: %d of the policy's members signed (%s), %d needed", ErrQuorum, len(signers), strings.Join(signers, ", "), p.Quorum)
	}
	return st, signers, nil
}

// Merge adds the signature lines of other signed copies of the same
// statement to msg, so members can sign separately and publish one file.
func Merge(msgs ...[]byte) ([]byte, error) {
	if len(msgs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	var text []byte
	var sigs []string
	for i, m := range msgs {
		t, s, ok := bytes.Cut(m, []byte("\n\n"))
		if !ok {
			return nil, fmt.Errorf("%w: copy %d has no signature block", ErrMalformed, i+1)
		}
		if i == 0 {
			text = t
		} else if !bytes.Equal(t, text) {
			return nil, fmt.Errorf("copy %d is another statement", i+1)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(s), "\n"), "\n") {
			if !slices.Contains(sigs, l) {
				sigs = append(sigs, l)
			}
		}
	}
	return []byte(string(text) + "\n\n" + strings.Join(sigs, "\n") + "\n"), nil
}

// Mismatch is one line of a statement that a replay does not give.
type Mismatch struct {
	Field     string `json:"field"`
	Statement string `json:"statement"`
	Replay    string `json:"replay"`
}

// Recheck replays the log to the statement's tree and compares every line:
// the log's current checkpoint (verified against pins) must be that tree
// or provably extend it (a consistency proof), the leaves must hash to the
// statement's root, and the rules (run with opts.Config, as of the
// statement's as-of) must give the same rules list, configuration digest,
// counts and state digest. A contradicting log is an error; differing
// figures are listed.
func Recheck(ctx context.Context, pins *verifier.Pins, src *tlog.Source, st *Statement, opts Options) ([]Mismatch, error) {
	cp := &tlog.Checkpoint{Origin: st.Origin, Size: st.Size, Hash: st.Root}
	cur, err := src.Checkpoint(ctx, pins.Trust)
	if err != nil {
		return nil, err
	}
	if cur.Origin != st.Origin {
		return nil, fmt.Errorf("the statement is about log %s, the pinned log is %s", st.Origin, cur.Origin)
	}
	if _, err := src.CheckConsistency(ctx, pins.Trust, cp); err != nil {
		return nil, fmt.Errorf("the log contradicts the statement's tree (size %d): %w", st.Size, err)
	}
	opts.AsOf = st.AsOf
	got, err := Make(ctx, pins, src, cp, opts)
	if err != nil {
		return nil, err
	}
	var out []Mismatch
	for _, f := range []struct{ field, a, b string }{
		{"rules", st.Rules, got.Rules}, {"config", st.Config, got.Config},
		{"violations", strconv.FormatUint(st.Violations, 10), strconv.FormatUint(got.Violations, 10)},
		{"admission-failures", strconv.FormatUint(st.AdmissionFailures, 10), strconv.FormatUint(got.AdmissionFailures, 10)},
		{"state", st.State, got.State},
	} {
		if f.a != f.b {
			out = append(out, Mismatch{f.field, f.a, f.b})
		}
	}
	return out, nil
}
