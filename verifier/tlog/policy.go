package tlog

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"
)

// Policy is what an auditor pins for a witnessed log, in the policy-file
// format Tessera and Sigsum use (see specs/witnesses.md):
//
//	log <log vkey> [url]
//	witness <name> <cosignature/v1 vkey> <url>
//	group <name> <k|any|all> <member>...
//	quorum <name|none>
//
// The same file configures `acdledger serve`'s publication quorum.
type Policy struct {
	Log       note.Verifier // from the log line
	LogURL    string
	Witnesses []PolicyWitness
	Quorum    witness.Group // evaluates whether a checkpoint carries enough cosignatures
	QuorumSet bool          // false for "quorum none"
	Raw       []byte
}

// PolicyWitness is one witness of a policy.
type PolicyWitness struct {
	Name     string
	VKey     string
	Verifier note.Verifier
	URL      string
}

// ParsePolicy reads a policy file. The quorum is evaluated with formats'
// witness package (the parser Tessera itself uses for the same file); this
// adds the log line, which that parser skips, and the witnesses' names, so
// failures can say which witnesses signed and which are missing.
func ParsePolicy(data []byte) (*Policy, error) {
	q, err := witness.ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p := &Policy{Quorum: q, Raw: data}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "log":
			if p.Log != nil {
				return nil, fmt.Errorf("policy line %d: a second log line; a policy pins one log", n)
			}
			if len(f) < 2 || len(f) > 3 {
				return nil, fmt.Errorf("policy line %d: want 'log <vkey> [url]'", n)
			}
			if p.Log, err = ParseVerifierKey(f[1]); err != nil {
				return nil, fmt.Errorf("policy line %d: log key: %w", n, err)
			}
			if len(f) == 3 {
				p.LogURL = f[2]
			}
		case "witness":
			if !isCosignatureKey(f[2]) {
				return nil, fmt.Errorf("policy line %d: witness %s: key must be a cosignature/v1 verifier key (type 0x04; see 'acdledger witness keygen')", n, f[1])
			}
			v, err := fnote.NewVerifierForCosignatureV1(f[2])
			if err != nil {
				return nil, fmt.Errorf("policy line %d: witness %s: key is not a cosignature/v1 verifier key: %w", n, f[1], err)
			}
			p.Witnesses = append(p.Witnesses, PolicyWitness{Name: f[1], VKey: f[2], Verifier: v, URL: f[3]})
		case "quorum":
			p.QuorumSet = f[1] != "none"
		}
	}
	if p.Log == nil {
		return nil, fmt.Errorf("policy: no log line: the policy must pin the log's key")
	}
	return p, nil
}

// isCosignatureKey reports whether vkey (name+hash+base64) is of the
// C2SP tlog-cosignature/v1 type, 0x04. A plain Ed25519 note key would
// verify ordinary signatures, which say nothing about a witness's timestamp.
func isCosignatureKey(vkey string) bool {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return false
	}
	k, err := base64.StdEncoding.DecodeString(parts[2])
	return err == nil && len(k) > 0 && k[0] == 0x04
}

// Cosigners returns the names of the policy's witnesses whose valid
// cosignature the checkpoint carries, and of those whose it does not.
func (p *Policy) Cosigners(raw []byte) (signed, missing []string) {
	for _, w := range p.Witnesses {
		if _, err := note.Open(raw, note.VerifierList(w.Verifier)); err == nil {
			signed = append(signed, w.Name)
		} else {
			missing = append(missing, w.Name)
		}
	}
	return signed, missing
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
	if !t.Policy.Quorum.Satisfied(cp.Raw) {
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
