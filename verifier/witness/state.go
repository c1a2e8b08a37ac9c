package witness

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"golang.org/x/mod/sumdb/note"
)

// StateFileSuffix ends every state file name.
const StateFileSuffix = ".checkpoint"

// maxFileName is the usual file name limit (ext4, XFS, APFS, NTFS).
const maxFileName = 255

// stateFileName encodes an origin as a file name: lower-case ASCII letters,
// digits, '-', '_' and '.' are kept, every other byte (upper case included,
// so that names stay distinct on case-insensitive file systems) becomes
// %XX, and a leading '.' is escaped too. The encoding is injective, so two
// logs never share a file, and readable: "example.com/log" is stored in
// "example.com%2Flog.checkpoint".
func stateFileName(origin string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(origin); i++ {
		c := origin[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	b.WriteString(StateFileSuffix)
	if b.Len() > maxFileName {
		return "", fmt.Errorf("witness: log origin %q is too long for a state file name", origin)
	}
	return b.String(), nil
}

// StateFile is the path of the state file for origin in stateDir.
func StateFile(stateDir, origin string) (string, error) {
	name, err := stateFileName(origin)
	if err != nil {
		return "", err
	}
	return filepath.Join(stateDir, name), nil
}

// loadState reads and verifies each configured log's state file.
func (w *Witness) loadState() error {
	known := map[string]bool{}
	for _, ls := range w.logs {
		known[ls.file] = true
		path := filepath.Join(w.stateDir, ls.file)
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			w.logger.Info("no state yet for log: the first checkpoint must come with old 0", "origin", ls.origin, "state_file", path)
			continue
		}
		if err != nil {
			return fmt.Errorf("witness: reading state: %w", err)
		}
		cp, err := w.verifyState(raw, ls)
		if err != nil {
			return fmt.Errorf("witness: %w: %s: %v; refusing to start (restore the file, or remove it to re-learn the log from old 0)", ErrBadState, path, err)
		}
		if cp.cosig == nil {
			// A state file written before the witness kept its cosignature,
			// or a witness whose key was replaced: cosign the checkpoint it
			// holds now, so that monitors get it with a cosignature.
			if cp.cosig, err = w.cosign(cp.text); err != nil {
				return fmt.Errorf("witness: cosigning the stored checkpoint of %q: %w", ls.origin, err)
			}
			if err := w.saveState(ls, cp); err != nil {
				return fmt.Errorf("witness: saving state: %w", err)
			}
			w.logger.Info("the stored checkpoint carried no cosignature by this witness's key: cosigned it now", "origin", ls.origin, "size", cp.size, "state_file", path)
		}
		ls.latest = cp
		w.logger.Info("loaded state", "origin", ls.origin, "size", cp.size, "root", b64(cp.hash), "state_file", path)
	}
	entries, err := os.ReadDir(w.stateDir)
	if err != nil {
		return fmt.Errorf("witness: reading state directory: %w", err)
	}
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, StateFileSuffix) && !strings.HasPrefix(name, ".") && !known[name] {
			w.logger.Warn("ignoring state file of a log that is not configured", "state_file", filepath.Join(w.stateDir, name))
		}
	}
	return nil
}

// verifyState checks a state file: a checkpoint note for the log's origin
// signed by one of its trusted keys, and usually the witness's own
// cosignature (cp.cosig is nil if there is none by its current key).
func (w *Witness) verifyState(raw []byte, ls *logState) (*checkpoint, error) {
	n, err := note.Open(raw, ls.verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("not signed by a trusted key of log %q: %s", ls.origin, signatureError(err))
		}
		return nil, fmt.Errorf("not a signed note: %v", err)
	}
	cp, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	if cp.origin != ls.origin {
		return nil, fmt.Errorf("checkpoint is for log %q, not %q", cp.origin, ls.origin)
	}
	if cp.size == 0 && !bytes.Equal(cp.hash, emptyRoot) {
		return nil, errors.New("checkpoint of size 0 without the empty tree's root")
	}
	cp.raw = noteWithSigs(n.Text, n.Sigs)
	own, err := note.Open(raw, note.VerifierList(w.verifier))
	var unverified *note.UnverifiedNoteError
	switch {
	case err == nil:
		cp.cosig = noteWithSigs("", own.Sigs)[1:] // the signature lines alone
	case !errors.As(err, &unverified):
		return nil, fmt.Errorf("the witness's own cosignature: %s", signatureError(err))
	}
	return cp, nil
}

// saveState replaces the log's state file with cp, its log signatures and
// the witness's cosignature, durably.
func (w *Witness) saveState(ls *logState, cp *checkpoint) error {
	return atomicfile.Write(filepath.Join(w.stateDir, ls.file), cp.cosigned(), 0o600)
}

// lockStateDir creates dir if needed and takes its lock.
func lockStateDir(dir string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness: state directory: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("witness: state directory %s: %w", dir, err)
	}
	return unlock, nil
}
