package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/internal/atomicfile"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"
)

func newKeygen() *cobra.Command {
	var agency, member, out, algorithm, registry, name, role, kinds, validFrom string
	var unencrypted, asJSON, commission bool
	cmd := &cobra.Command{
		Use:   "keygen (--agency ID | --member ID | --commission) --out BASE",
		Short: "Make an agency's keys, a commission member's sealing identity (and register them), or the commission root key",
		Long: `keygen --agency makes an agency's keys: BASE.key, the signing key encrypted with a
passphrase (from $` + agencykey.PassphraseEnv + ` or a prompt; mode 0600), BASE.pub, its public key, and
BASE.age, the agency's age identity (mode 0600, encrypted with the same
passphrase), so it can read back the sealed fields of its own entries
(specs/sealed.md).

keygen --member makes a commission member's age identity, BASE.age (mode 0600),
encrypted with a passphrase (from $` + agencykey.PassphraseEnv + ` or a prompt) as
age's passphrase-protected identity file, which age -d -i BASE.age also reads;
--unencrypted-key writes it in the clear instead. Every sealed
entry is encrypted to the members the registry lists at its occurred_at. Running
it again for the same member with a new --out is a key rotation: the old
recipient is closed at --valid-from, entries from then on are sealed to the new
one, and older entries stay readable with the old identity (keep it; key files
are never overwritten).

keygen --commission makes the commission's root key: BASE.key (Ed25519, encrypted
like an agency key) and BASE.pub. It signs the log's genesis (acdledger init
--root-key) and every registry change (acdledger registry …); auditors pin its
fingerprint, the key id printed here, and nothing else of the registry.

Without --registry it only writes the identity and prints its recipient, for
'acdledger registry add-member' on a log with a genesis.

A rotation with an earlier --valid-from (e.g. the start of the member's term)
replaces the member's keys that would only start after it. On a log with a
genesis the registry file is not what the ledger admits against: make the change
an entry with 'acdledger registry add-member' (it prints the recipient to use).

With --registry, the public key and the recipient are added to that registry
file (created if missing). An agency gets the kinds it may append; only an agency
with role "commission" may append ` + strings.Join(sortedMapKeys(specs.CommissionKinds), ", ") + `.`,
		Example: `  ACDLEDGER_KEY_PASSPHRASE=… acdledger keygen --agency nco --out keys/nco \
      --registry registry.json --name "National Cybersecurity Office" --kinds all
  acdledger keygen --member member-1 --name "Commissioner 1" --out keys/member-1 --registry registry.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepareOut(out); err != nil {
				return usage(err)
			}
			if commission {
				return commissionKeygen(cmd, out, asJSON)
			}
			if member != "" {
				pass, err := newKeyPassphrase(unencrypted)
				if err != nil {
					return usage(err)
				}
				return memberKeygen(cmd, member, name, out, registry, validFrom, pass, asJSON)
			}
			if unencrypted {
				return usage(errors.New("--unencrypted-key goes with --member: an agency's signing key is always encrypted"))
			}
			pass, err := agencykey.Passphrase(true)
			if err != nil {
				return usage(err)
			}
			privPEM, pubPEM, keyID, err := agencykey.Generate(algorithm, pass)
			if err != nil {
				return usage(err)
			}
			if err := agencykey.WriteFiles(out, privPEM, pubPEM); err != nil {
				return usage(existsHint(err, out+".key"))
			}
			recipient, err := writeAgeIdentity(out+".age", pass)
			if err != nil {
				return usage(err)
			}
			res := keygenResult{Files: []string{out + ".key", out + ".pub", out + ".age"}, KeyID: keyID, Recipient: recipient}
			if registry != "" {
				if err := registerKey(registry, agency, name, role, kinds, pubPEM, recipient); err != nil {
					return usage(err)
				}
				res.Registry, res.Agency, res.Role = registry, agency, role
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key, %s.pub and %s.age\nkey id: %s\nrecipient: %s\n", out, out, out, keyID, recipient)
			if registry != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "registered in %s as agency %s (role %s)\n", registry, agency, role)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the result, or the error, as JSON (specs/cli-json.md)")
	f.StringVar(&agency, "agency", "", "agency id, e.g. nco, npa, sdf, commission")
	f.StringVar(&member, "member", "", "instead of --agency: a commission member's recipient id, e.g. member-1")
	f.StringVar(&validFrom, "valid-from", "", "with --member: first occurred_at the recipient seals (RFC 3339; default now)")
	f.StringVar(&out, "out", "", "file name base: writes BASE.key and BASE.pub")
	f.StringVar(&algorithm, "algorithm", agencykey.Ed25519, "key algorithm: ed25519 or ecdsa-p256")
	f.StringVar(&registry, "registry", "", "also add the public key to this registry file")
	f.StringVar(&name, "name", "", "agency's full name, for a new registry entry")
	f.StringVar(&role, "role", "agency", "registry role: agency or commission")
	addUnencryptedFlag(cmd, &unencrypted, "with --member: write the age identity in the clear (it is encrypted with the key passphrase otherwise)")
	f.StringVar(&kinds, "kinds", "all", "comma-separated kinds the agency may append; 'all' = every kind its role allows")
	f.BoolVar(&commission, "commission", false, "instead of --agency: make the commission root key (Ed25519), which signs the genesis and registry changes")
	cmd.MarkFlagsOneRequired("agency", "member", "commission")
	cmd.MarkFlagsMutuallyExclusive("agency", "member", "commission")
	cmd.MarkFlagRequired("out")
	return cmd
}

// readRegistryOrNew reads a registry file, or starts an empty one if it
// does not exist yet.
func readRegistryOrNew(path string) (*specs.Registry, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &specs.Registry{}, nil
	} else if err != nil {
		return nil, err
	}
	return specs.ParseRegistry(raw)
}

func writeRegistry(path string, reg *specs.Registry) error {
	out, err := reg.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, out, 0o644)
}

// keygenResult is what keygen --json prints.
type keygenResult struct {
	Files     []string `json:"files"`
	KeyID     string   `json:"key_id,omitempty"`
	Recipient string   `json:"recipient"`
	Registry  string   `json:"registry,omitempty"`
	Agency    string   `json:"agency,omitempty"`
	Role      string   `json:"role,omitempty"`
	Member    string   `json:"member,omitempty"`
	ValidFrom string   `json:"valid_from,omitempty"`
}

func memberKeygen(cmd *cobra.Command, member, name, out, registry, validFrom string, pass []byte, asJSON bool) error {
	from := time.Now().UTC().Truncate(time.Second)
	if validFrom != "" {
		var err error
		if from, err = time.Parse(time.RFC3339, validFrom); err != nil {
			return usage(fmt.Errorf("--valid-from: %w", err))
		}
	}
	if registry == "" {
		// A log with a genesis takes the recipient as a registry entry
		// (acdledger registry add-member), not from a file.
		recipient, err := writeAgeIdentity(out+".age", pass)
		if err != nil {
			return usage(existsHint(err, out+".age"))
		}
		if asJSON {
			return printJSON(cmd.OutOrStdout(), keygenResult{Files: []string{out + ".age"}, Recipient: recipient, Member: member})
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.age\nrecipient: %s\nnot registered: give it to 'acdledger registry add-member --member %s --recipient %s', or run keygen with --registry FILE for a registry file\n", out, recipient, member, recipient)
		return nil
	}
	reg, err := readRegistryOrNew(registry)
	if err != nil {
		return usage(err)
	}
	if _, err := os.Stat(out + ".age"); err == nil {
		return usage(existsHint(os.ErrExist, out+".age"))
	}
	// The identity is made, and the registry change checked, before any
	// file is written: a refused change leaves no stray .age file.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return failed(err)
	}
	recipient := id.Recipient().String()
	if name == "" {
		name = member
	}
	if err := reg.AddRecipient(member, name, recipient, from); err != nil {
		return usage(err)
	}
	if err := writeIdentity(out+".age", id, pass); err != nil {
		return usage(existsHint(err, out+".age"))
	}
	if err := writeRegistry(registry, reg); err != nil {
		return usage(err)
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), keygenResult{Files: []string{out + ".age"}, Recipient: recipient, Registry: registry,
			Member: member, ValidFrom: from.Format(time.RFC3339)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.age\nrecipient: %s\nregistered in %s as commission recipient %s from %s\n", out, recipient, registry, member, from.Format(time.RFC3339))
	return nil
}

func registerKey(path, agency, name, role, kindList string, pubPEM []byte, recipient string) error {
	reg, err := readRegistryOrNew(path)
	if err != nil {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return err
	}
	if name == "" {
		name = agency
	}
	var kinds []string
	if kindList == "all" {
		for _, k := range specs.Kinds {
			if specs.CommissionKinds[k] == (role == "commission") && !specs.RootKinds[k] {
				kinds = append(kinds, k)
			}
		}
	} else {
		kinds = strings.Split(kindList, ",")
	}
	if _, err := reg.Add(agency, name, role, kinds, pub); err != nil {
		return err
	}
	if err := reg.SetAgencyRecipient(agency, recipient); err != nil {
		return err
	}
	return writeRegistry(path, reg)
}

// commissionKeygen makes the commission root key pair.
func commissionKeygen(cmd *cobra.Command, out string, asJSON bool) error {
	pass, err := agencykey.Passphrase(true)
	if err != nil {
		return usage(err)
	}
	privPEM, pubPEM, keyID, err := agencykey.Generate(agencykey.Ed25519, pass)
	if err != nil {
		return usage(err)
	}
	if err := agencykey.WriteFiles(out, privPEM, pubPEM); err != nil {
		return usage(existsHint(err, out+".key"))
	}
	if asJSON {
		return printJSON(cmd.OutOrStdout(), struct {
			Files       []string `json:"files"`
			Fingerprint string   `json:"root_key_fingerprint"`
		}{[]string{out + ".key", out + ".pub"}, keyID})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.pub\ncommission root key fingerprint (auditors pin this): %s\n", out, out, keyID)
	return nil
}
