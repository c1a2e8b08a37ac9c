package tlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/internal/atomicfile"
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

// Names of the files written by [WriteEvidence].
const (
	EvidenceTrusted = "trusted.checkpoint"
	EvidenceCurrent = "current.checkpoint"
	EvidenceProof   = "proof"
	EvidenceSummary = "summary.txt"
)

// WriteEvidence writes the checkpoints carried by a [*ForkError],
// [*RollbackError] or [*InconsistentError] (possibly wrapped) into dir, so an
// auditor can hand them over: the two signed notes verbatim, the consistency
// proof if there is one (see [FormatProof]), and the error message. It
// returns the paths written. Existing files are never overwritten, since
// they may be earlier evidence; use a fresh directory for each incident.
func WriteEvidence(dir string, err error) ([]string, error) {
	var ev evidence
	if !errors.As(err, &ev) {
		return nil, fmt.Errorf("tlog: no checkpoint evidence in error: %v", err)
	}
	trusted, current, p := ev.evidence()
	files := []struct {
		name string
		data []byte
	}{
		{EvidenceTrusted, trusted.Raw},
		{EvidenceCurrent, current.Raw},
		{EvidenceSummary, []byte(err.Error() + "\n")},
	}
	if len(p) > 0 {
		files = append(files, struct {
			name string
			data []byte
		}{EvidenceProof, FormatProof(p)})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlog: evidence: %w", err)
	}
	var paths []string
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.WriteNew(path, f.data, 0o600); err != nil {
			return paths, fmt.Errorf("tlog: evidence: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
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
