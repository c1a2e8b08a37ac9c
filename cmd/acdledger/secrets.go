package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/secretfile"
	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/spf13/cobra"
)

// unencryptedFlag is the flag that lets a command use (or write) a
// private key file in the clear. Without it a plain key file is refused:
// keys at rest are encrypted with a passphrase ($ACDLEDGER_KEY_PASSPHRASE
// or a prompt), like agency signing keys.
const unencryptedFlag = "--unencrypted-key"

func addUnencryptedFlag(cmd *cobra.Command, p *bool, what string) {
	cmd.Flags().BoolVar(p, unencryptedFlag[2:], false, what)
}

// keyPassphrase asks for the passphrase of a key being read.
func keyPassphrase() ([]byte, error) { return agencykey.Passphrase(false) }

// readSecret reads an encrypted key file (or a plain one, if allowed).
func readSecret(path string, allowPlain bool) ([]byte, error) {
	return secretfile.Read(path, keyPassphrase, allowPlain, unencryptedFlag)
}

// sealNew writes a new key file (mode 0600, never overwriting), encrypted
// to pass unless pass is nil.
func sealNew(path string, plain, pass []byte) error {
	if pass != nil {
		var err error
		if plain, err = secretfile.Seal(plain, pass); err != nil {
			return err
		}
	}
	return atomicfile.WriteNew(path, plain, 0o600)
}

// newKeyPassphrase is the passphrase for keys about to be written: nil
// (write in the clear) with --unencrypted-key, else asked (twice on a
// terminal).
func newKeyPassphrase(unencrypted bool) ([]byte, error) {
	if unencrypted {
		return nil, nil
	}
	return agencykey.Passphrase(true)
}

// writeAgeIdentity makes a new age X25519 identity in a new file (mode
// 0600) and returns its recipient. With a passphrase the file is age's
// passphrase-protected identity file (what `age-keygen | age -p -a`
// writes, and what age -d -i reads after asking the passphrase); without,
// age-keygen's plain format.
func writeAgeIdentity(path string, pass []byte) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", err
	}
	if err := writeIdentity(path, id, pass); err != nil {
		return "", err
	}
	return id.Recipient().String(), nil
}

// writeIdentity writes an age identity file (never over an existing one).
func writeIdentity(path string, id *age.X25519Identity, pass []byte) error {
	text := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := sealNew(path, []byte(text), pass); err != nil {
		return fmt.Errorf("writing age identity: %w", err)
	}
	return nil
}

// loadIdentities reads an age identity file, decrypting it if it is
// passphrase-protected.
func loadIdentities(path string, allowPlain bool) ([]age.Identity, error) {
	data, err := readSecret(path, allowPlain)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ids, nil
}

func newKey() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage private key files at rest",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usage(errors.New("key needs a subcommand: encrypt (see --help)"))
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "encrypt FILE...",
		Short: "Encrypt plain key files in place with a passphrase",
		Long: `key encrypt rewrites each plain private key file — a ledger's log.key, a witness
key, a member's or agency's age identity — encrypted with a passphrase (from $` + agencykey.PassphraseEnv + `
or a prompt), as an age passphrase-encrypted file (what age -p -a writes; age reads
it back, and reads an encrypted identity file as an identity). Files already
encrypted are left as they are.`,
		Example: `  acdledger key encrypt ledger/log.key keys/w1.key keys/member-1.age`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			pass, err := agencykey.Passphrase(true)
			if err != nil {
				return usage(err)
			}
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return usage(err)
				}
				if secretfile.Encrypted(data) {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: already encrypted\n", f)
					continue
				}
				sealed, err := secretfile.Seal(data, pass)
				if err != nil {
					return usage(err)
				}
				if err := atomicfile.Write(f, sealed, 0o600); err != nil {
					return usage(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: encrypted\n", f)
			}
			return nil
		},
	})
	return cmd
}
