package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/acdledger/acdledger/verifier/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// GenerateKey makes a witness key pair named name (a schema-less URL such
// as "w1.commission.example" is recommended). skey is the private key in
// signed-note form, for [Config.Key]; keep it secret. vkey is the
// cosignature/v1 (type 0x04) verifier key: what a policy file's "witness"
// line carries and what verifiers of the cosignatures need.
func GenerateKey(name string) (skey, vkey string, err error) {
	if name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsSpace) || strings.Contains(name, "+") {
		return "", "", fmt.Errorf("witness: key name %q: must be non-empty, without spaces or '+'", name)
	}
	skey, ed25519vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("witness: key name %q: %w", name, err)
	}
	if vkey, err = fnote.VKeyToCosignatureV1(ed25519vkey); err != nil {
		return "", "", fmt.Errorf("witness: %w", err)
	}
	return skey, vkey, nil
}

// VerifierKeyOf returns the cosignature/v1 verifier key of a witness
// private key.
func VerifierKeyOf(skey string) (string, error) {
	_, vkey, err := parseSignerKey(skey)
	return vkey, err
}

// parseSignerKey makes the cosignature/v1 signer of an Ed25519 signed-note
// private key and derives its verifier key.
func parseSignerKey(skey string) (*fnote.Signer, string, error) {
	skey = strings.TrimSpace(skey)
	bad := errors.New("witness: the key is not an Ed25519 signed-note private key (PRIVATE+KEY+name+hash+key, from witness keygen)")
	fields := strings.SplitN(skey, "+", 5)
	if len(fields) != 5 {
		return nil, "", bad
	}
	key, err := base64.StdEncoding.DecodeString(fields[4])
	// Type 0x01 (note.GenerateKey) or 0x04, each followed by a 32-byte seed.
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 0x01 && key[0] != 0x04 {
		return nil, "", bad
	}
	signer, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", bad, err)
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	edVkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, "", fmt.Errorf("witness: %w", err)
	}
	vkey, err := fnote.VKeyToCosignatureV1(edVkey)
	if err != nil {
		return nil, "", fmt.Errorf("witness: %w", err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil || v.KeyHash() != signer.KeyHash() {
		return nil, "", errors.New("witness: derived verifier key does not match the signer")
	}
	return signer, vkey, nil
}

// ParseLogKeys builds [Config.Logs] from log verifier keys in signed-note
// form (any type formats/note.NewVerifier accepts: Ed25519, ECDSA, …). As
// with Tessera logs, a key's name is the log's origin; several keys with
// one name are all trusted for that log.
func ParseLogKeys(vkeys ...string) (map[string][]note.Verifier, error) {
	logs := map[string][]note.Verifier{}
	for _, k := range vkeys {
		k = strings.TrimSpace(k)
		v, err := fnote.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("witness: log key: %s", tlog.VerifierKeyProblem(k))
		}
		logs[v.Name()] = append(logs[v.Name()], v)
	}
	return logs, nil
}

// ReadLogKeyFiles reads log verifier keys, one per line (blank lines and
// lines starting with '#' are skipped), from each file, for [ParseLogKeys].
func ReadLogKeyFiles(paths ...string) (map[string][]note.Verifier, error) {
	var keys []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("witness: log key: %w", err)
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("witness: log key file %s holds no key", p)
		}
	}
	return ParseLogKeys(keys...)
}

// ConfigFromFiles reads a witness's private key file (as written by
// witness keygen) and files of log verifier keys (see [ReadLogKeyFiles])
// into a Config for stateDir; set its Logger and MaxBodySize, then call
// [New].
func ConfigFromFiles(keyFile, stateDir string, logKeyFiles ...string) (Config, error) {
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		return Config{}, fmt.Errorf("witness: key: %w", err)
	}
	logs, err := ReadLogKeyFiles(logKeyFiles...)
	if err != nil {
		return Config{}, err
	}
	return Config{Key: string(skey), StateDir: stateDir, Logs: logs}, nil
}

// NewFromFiles is [ConfigFromFiles] then [New], logging to logger (nil
// discards) and warning if the key file is readable by others.
func NewFromFiles(keyFile, stateDir string, logKeyFiles []string, logger *slog.Logger) (*Witness, error) {
	cfg, err := ConfigFromFiles(keyFile, stateDir, logKeyFiles...)
	if err != nil {
		return nil, err
	}
	cfg.Logger = logger
	WarnKeyFileMode(keyFile, logger)
	return New(cfg)
}

// WarnKeyFileMode logs a warning if the private key file is readable or
// writable by group or others.
func WarnKeyFileMode(keyFile string, logger *slog.Logger) {
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 && logger != nil {
		logger.Warn("the witness private key file is accessible to others; chmod 600 it", "key", keyFile, "mode", fi.Mode().Perm().String())
	}
}
