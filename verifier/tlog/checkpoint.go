package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Errors from checkpoint verification. They are wrapped with the details, so
// test for them with errors.Is.
var (
	// ErrMalformedCheckpoint: not a signed note, or its body is not a
	// checkpoint (origin, size, base64 SHA-256 root).
	ErrMalformedCheckpoint = errors.New("malformed checkpoint")
	// ErrBadSignature: the note carries no valid signature by the trusted
	// log key (missing, or present but not verifying).
	ErrBadSignature = errors.New("bad checkpoint signature")
	// ErrWrongOrigin: correctly signed by the log key, but for another log.
	ErrWrongOrigin = errors.New("wrong checkpoint origin")
)

// Trust is what an auditor pins for one log: its checkpoint signing key and
// its origin line.
type Trust struct {
	// Origin is the checkpoint's first line. Empty means the verifier key's
	// name, which is what Tessera logs conventionally use.
	Origin string
	// Verifier checks the log's signature.
	Verifier note.Verifier
	// Policy, when set, also requires its quorum of witness cosignatures
	// on every checkpoint (see ParsePolicy).
	Policy *Policy
}

// TrustPolicy is the trust a policy file pins: its log key (origin: the
// key's name) and its witness quorum.
func TrustPolicy(p *Policy) Trust { return Trust{Verifier: p.Log, Policy: p} }

func (t Trust) origin() string {
	if t.Origin != "" {
		return t.Origin
	}
	return t.Verifier.Name()
}

// ParseVerifierKey parses a signed-note verifier key as written by
// note.GenerateKey ("name+hash+base64"). It accepts every key type
// formats/note.NewVerifier does (Ed25519, ECDSA, cosignature/v1, ML-DSA,
// RFC 6962). Surrounding whitespace is ignored, so the key may be read
// straight from a file.
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := fnote.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("tlog: %s", VerifierKeyProblem(vkey))
	}
	return v, nil
}

// VerifierKeyProblem says why text, which did not parse as a verifier key,
// is not one, without echoing it: the file given by mistake may be the
// private key (the note library's own errors quote the whole key, and speak
// of a "verifier id").
func VerifierKeyProblem(text string) string {
	switch {
	case strings.HasPrefix(text, "PRIVATE+KEY+"):
		return "this is a private signing key (PRIVATE+KEY+…), not a verifier key: give the public .vkey file made with it"
	case strings.HasPrefix(text, "-----BEGIN AGE ENCRYPTED FILE-----"), strings.HasPrefix(text, "age-encryption.org/"):
		return "this is an encrypted private signing key (an age file), not a verifier key: give the public .vkey file made with it"
	case strings.Count(text, "+") < 2 || strings.ContainsAny(text, " \t\n{}\""):
		return "not a signed-note verifier key: want one line NAME+HASH+KEY (e.g. log.example/acd+1a2b3c4d+AQ…)"
	}
	return "not a valid signed-note verifier key: its name, key hash or base64 key part is malformed (want NAME+HASH+KEY)"
}

// Checkpoint is a verified checkpoint. Raw keeps the signed note exactly as
// received: it is what goes into the state file and into evidence, because
// only the original bytes carry a signature that others can check.
type Checkpoint struct {
	Origin string
	Size   uint64
	Hash   []byte // RFC 6962 root hash of the first Size leaves
	Raw    []byte
	// Cosigners are the policy's witnesses that cosigned it (when the
	// trust has a policy).
	Cosigners []string
	// Signers are the names of the note's other signature lines (witness
	// cosignatures, as the note itself states them; sorted, each once),
	// whatever the trust: facts of the checkpoint, not of the pins. With a
	// policy, its witnesses among them were checked (Cosigners, by the
	// policy's names); any other name is unchecked.
	Signers []string
	// CosignedAt is the newest of those witnesses' cosignature timestamps
	// (zero without a policy or cosignature).
	CosignedAt time.Time
}

// String summarises the checkpoint for messages.
func (c *Checkpoint) String() string {
	return fmt.Sprintf("size %d root %s", c.Size, b64(c.Hash))
}

// Checkpoint fetches the log's current checkpoint and verifies it.
func (s *Source) Checkpoint(ctx context.Context, trust Trust) (*Checkpoint, error) {
	raw, err := s.f.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("tlog: reading checkpoint of %s: %w", s, err)
	}
	cp, err := VerifyCheckpoint(raw, trust)
	if err != nil {
		return nil, fmt.Errorf("%w (checkpoint of %s)", err, s)
	}
	return cp, nil
}

// VerifyCheckpoint checks that raw is a checkpoint signed by trust.Verifier
// for trust's origin. It does what formats/log.ParseCheckpoint does, in
// steps, so that the error says which check failed: ParseCheckpoint flattens
// all failures into one opaque message.
func VerifyCheckpoint(raw []byte, trust Trust) (*Checkpoint, error) {
	if trust.Verifier == nil {
		return nil, errors.New("tlog: no log verifier key configured")
	}
	n, err := note.Open(raw, note.VerifierList(trust.Verifier))
	if err != nil {
		return nil, noteError(err, trust.Verifier)
	}
	// With a single known verifier, note.Open succeeds only if that key
	// produced a valid signature, so the body is now authenticated.
	var c log.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, fmt.Errorf("tlog: %w: %v", ErrMalformedCheckpoint, err)
	}
	if len(c.Hash) != sha256.Size {
		return nil, fmt.Errorf("tlog: %w: root hash is %d bytes, want %d", ErrMalformedCheckpoint, len(c.Hash), sha256.Size)
	}
	if want := trust.origin(); c.Origin != want {
		return nil, fmt.Errorf("tlog: %w: checkpoint is for %q, want %q", ErrWrongOrigin, c.Origin, want)
	}
	cp := &Checkpoint{Origin: c.Origin, Size: c.Size, Hash: c.Hash, Raw: bytes.Clone(raw), Signers: otherSigners(n)}
	if err := trust.checkQuorum(cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// noteError turns note.Open's error into one that names the failed check.
func noteError(err error, v note.Verifier) error {
	key := fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("tlog: %w: signature by %s does not verify", ErrBadSignature, key)
	case errors.As(err, &unverified):
		var signers []string
		for _, s := range unverified.Note.UnverifiedSigs {
			signers = append(signers, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return fmt.Errorf("tlog: %w: not signed by log key %s (signed by: %s)", ErrBadSignature, key, strings.Join(signers, ", "))
	default:
		return fmt.Errorf("tlog: %w: %v", ErrMalformedCheckpoint, err)
	}
}

func b64(h []byte) string { return base64.StdEncoding.EncodeToString(h) }

// otherSigners lists the key names of the signatures the log's key did not
// make (note.Open puts those with an unknown key in UnverifiedSigs), sorted
// and each once: the cosigners a checkpoint names, checked or not.
func otherSigners(n *note.Note) []string {
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
