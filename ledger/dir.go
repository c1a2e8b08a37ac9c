// Package ledger is the writing side of acdledger: it admits agency-signed
// entries (the rules are in specs/) into a Tessera transparency log, signs
// checkpoints and hands out receipts.
package ledger

import (
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/secretfile"
	"os"
	"path/filepath"
	"strings"

	"github.com/acdledger/acdledger/specs"
	"golang.org/x/mod/sumdb/note"
)

// The files of a ledger directory. log/ is the public tlog-tiles tree that
// any static file server can publish; log.key is the operator's checkpoint
// signing key; log.vkey and registry.json are what auditors pin.
const (
	LogDir       = "log"
	SignerFile   = "log.key"
	VerifierFile = "log.vkey"
	RegistryFile = "registry.json"
	lockFile     = ".acdledger.lock"
)

// Init creates a ledger directory: an empty log, a fresh Ed25519 checkpoint
// key pair named after the origin, and a copy of the agency registry. It
// refuses to touch a directory that already holds a ledger.
func Init(dir, origin string, registry []byte) (vkey string, err error) {
	return InitStorage(dir, origin, registry, Storage{Driver: DriverPOSIX})
}

// InitStorage is Init with the log kept by the given storage. With the AWS
// driver the directory is one frontend's configuration (keys, registry,
// StorageFile); copy it to start more frontends of the same log.
func InitStorage(dir, origin string, registry []byte, st Storage) (vkey string, err error) {
	return InitEncrypted(dir, origin, registry, st, nil)
}

// InitEncrypted is InitStorage with log.key encrypted to passphrase
// (internal/secretfile: an age file, as `age -p -a` writes); with a nil
// passphrase the key is written in the clear.
func InitEncrypted(dir, origin string, registry []byte, st Storage, passphrase []byte) (vkey string, err error) {
	if err := st.Validate(); err != nil {
		return "", err
	}
	if err := checkOrigin(origin); err != nil {
		return "", err
	}
	reg, err := specs.ParseRegistry(registry)
	if err != nil {
		return "", err
	}
	if len(reg.RootKeys) > 0 || reg.WitnessPolicy != nil || reg.Rules != nil {
		// A registry saved from a log's history (registry show --write): its
		// root keys come from a genesis, which init writes with --root-key.
		return "", errors.New("the registry file has root_keys, witness_policy or rules: those come from a log's registry entries; give init the agencies and members only (and --root-key for a genesis)")
	}
	if _, err := os.Stat(filepath.Join(dir, SignerFile)); err == nil {
		return "", fmt.Errorf("%s already holds a ledger (%s exists)", dir, SignerFile)
	}
	logDir := filepath.Join(dir, LogDir)
	if st.Driver == DriverAWS {
		logDir = dir
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", err
	}
	if err := WriteStorage(dir, st); err != nil {
		return "", err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", err
	}
	keyText := []byte(skey + "\n")
	if passphrase != nil {
		if keyText, err = secretfile.Seal(keyText, passphrase); err != nil {
			return "", err
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, SignerFile), keyText, 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.Write(filepath.Join(dir, VerifierFile), []byte(vkey+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := atomicfile.Write(filepath.Join(dir, RegistryFile), registry, 0o644); err != nil {
		return "", err
	}
	return vkey, nil
}

// checkOrigin applies the tlog-checkpoint rules for an origin line and the
// signed-note rules for a key name (the origin is both).
func checkOrigin(origin string) error {
	if origin == "" || strings.ContainsAny(origin, " +\n\t") {
		return errors.New("origin must be non-empty, without spaces, '+' or newlines (e.g. log.cyber-oversight.example/acd)")
	}
	return nil
}
