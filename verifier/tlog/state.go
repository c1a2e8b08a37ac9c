package tlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/specs"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadState reads the last trusted checkpoint from a state file written by
// [SaveState] and verifies it again, so that a state file edited on disk is
// rejected rather than trusted.
//
// A missing file returns (nil, nil): there is no trusted state yet, and
// [Source.CheckConsistency] with a nil checkpoint reports FirstUse.
func LoadState(path string, trust Trust) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlog: state file: %w", err)
	}
	cp, err := VerifyCheckpoint(raw, trust)
	if err != nil {
		return nil, fmt.Errorf("%w (state file %s)", err, path)
	}
	return cp, nil
}

// SaveState records cp as the trusted state: the raw signed note, mode 0600.
// The write is atomic (temporary file in the same directory, fsync, rename,
// fsync of the directory), so a crash leaves either the old state or the
// new one, never a torn file that would look like tampering.
func SaveState(path string, cp *Checkpoint) error {
	if cp == nil || len(cp.Raw) == 0 {
		return errors.New("tlog: SaveState: no raw checkpoint to save")
	}
	if err := atomicfile.Write(path, cp.Raw, 0o600); err != nil {
		return fmt.Errorf("tlog: saving state: %w", err)
	}
	return nil
}

// WriteEvidence writes the checkpoints carried by a [*ForkError],
// [*RollbackError] or [*InconsistentError] (possibly wrapped) into dir as
// one evidence package (specs/evidence.md, kind fork, rollback or
// inconsistent): both signed notes verbatim, the consistency proof if there
// is one, and the error message as the finding's reason. It returns the
// path written. Existing files are never overwritten, since they may be
// earlier evidence: a second incident gets the next free name.
func WriteEvidence(dir string, err error) ([]string, error) {
	var ev evidence
	if !errors.As(err, &ev) {
		return nil, fmt.Errorf("tlog: no checkpoint evidence in error: %v", err)
	}
	trusted, current, p := ev.evidence()
	kind := specs.EvidenceInconsistent
	var fork *ForkError
	var rb *RollbackError
	switch {
	case errors.As(err, &fork):
		kind = specs.EvidenceFork
	case errors.As(err, &rb):
		kind = specs.EvidenceRollback
	}
	e := &specs.Evidence{Format: specs.EvidenceFormat, Kind: kind, Checkpoint: string(current.Raw), Trusted: string(trusted.Raw),
		Finding: specs.EvidenceFinding{Index: current.Size, Reason: err.Error()}}
	for _, h := range p {
		e.Proof = append(e.Proof, b64(h))
	}
	path, werr := WriteEvidenceFile(dir, fmt.Sprintf("%s-%d-%x", kind, current.Size, current.Hash[:6]), e)
	if werr != nil {
		return nil, werr
	}
	return []string{path}, nil
}

// WriteEvidenceFile writes e as dir/base.json, or base-2.json, base-3.json…
// if that name is taken: evidence is never overwritten.
func WriteEvidenceFile(dir, base string, e *specs.Evidence) (string, error) {
	data, err := e.Marshal()
	if err != nil {
		return "", fmt.Errorf("tlog: evidence: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("tlog: evidence: %w", err)
	}
	for n := 1; ; n++ {
		name := base + ".json"
		if n > 1 {
			name = fmt.Sprintf("%s-%d.json", base, n)
		}
		path := filepath.Join(dir, name)
		err := atomicfile.WriteNew(path, data, 0o600)
		if err == nil {
			return path, nil
		}
		if !errors.Is(err, fs.ErrExist) || n >= 10000 {
			return "", fmt.Errorf("tlog: evidence: %w", err)
		}
	}
}

// FormatProof renders proof hashes as text, one base64 hash per line, the
// way hashes are written in C2SP tlog-proof and tlog-witness bodies.
func FormatProof(p [][]byte) []byte {
	var b bytes.Buffer
	for _, h := range p {
		b.WriteString(b64(h))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseProof reads what [FormatProof] writes. Blank lines are ignored.
func ParseProof(text []byte) ([][]byte, error) {
	var p [][]byte
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("tlog: proof line %d is not a base64 SHA-256 hash", i+1)
		}
		p = append(p, h)
	}
	if len(p) > 128 {
		return nil, fmt.Errorf("tlog: proof has %d hashes, more than any tree needs", len(p))
	}
	return p, nil
}
