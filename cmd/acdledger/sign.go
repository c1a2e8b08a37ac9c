package main

import (
	"fmt"
	"os"

	"github.com/acdledger/acdledger/ledger/seal"
	"github.com/acdledger/acdledger/specs"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/spf13/cobra"
)

func newSign() *cobra.Command {
	var key, registry string
	cmd := &cobra.Command{
		Use:   "sign --key KEY ENTRY.json|ENTRIES.jsonl|- ...",
		Short: "Sign entries with an agency key, printing DSSE envelopes (one per line)",
		Long: `sign wraps each entry (specs/entries.md) in a DSSE envelope signed with the
agency's private key and prints the envelopes as JSON Lines, ready for
'acdledger append'. The passphrase comes from $` + agencykey.PassphraseEnv + ` or a prompt.
Entries are not checked here; append checks them all.

An entry whose "sealed" object holds values in clear (specs/sealed.md) is
sealed first: each value gets a salted commitment, and the values go into an
age box encrypted to the commission members the registry lists at the entry's
occurred_at and to the agency itself. That needs --registry. The signature then
covers the public part, the commitments and the box.`,
		Example: `  acdledger sign --key keys/nco.key --registry registry.json entry.json > entry.dsse.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := readItems(args)
			if err != nil {
				return usage(err)
			}
			reg, err := loadRegistryIfGiven(registry)
			if err != nil {
				return err
			}
			if err := sealAndSign(items, key, reg); err != nil {
				return err
			}
			for _, it := range items {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", it.raw)
			}
			return nil
		},
	}
	// The envelopes are JSON Lines either way; --json makes a refusal one
	// JSON error document too (specs/cli-json.md).
	cmd.Flags().Bool("json", false, "print a refusal or error as a JSON document (the envelopes are JSON Lines either way)")
	cmd.Flags().StringVar(&key, "key", "", "agency private key file (from keygen)")
	cmd.Flags().StringVar(&registry, "registry", "", "the registry naming the commission's recipients, to seal entries with sealed values in clear")
	cmd.MarkFlagRequired("key")
	return cmd
}

func loadSigner(path string) (*agencykey.Signer, error) {
	pass, err := agencykey.Passphrase(false)
	if err != nil {
		return nil, usage(err)
	}
	s, err := agencykey.Load(path, pass)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
}

// sealAndSign replaces each unsigned entry by its DSSE envelope, sealing
// its sealed values first when it has them in clear. reg may be nil when
// no entry needs sealing.
func sealAndSign(items []item, key string, reg *specs.Registry) error {
	signer, err := loadSigner(key)
	if err != nil {
		return err
	}
	for i := range items {
		raw := items[i].raw
		if seal.NeedsSealing(raw) {
			if reg == nil {
				return usage(fmt.Errorf("%s: the entry has sealed values in clear; give --registry so they can be sealed to the commission", items[i].source))
			}
			if raw, err = seal.Seal(raw, reg); err != nil {
				return failed(fmt.Errorf("%s: %w", items[i].source, err))
			}
		}
		if items[i].raw, err = signer.Sign(raw); err != nil {
			return failed(fmt.Errorf("%s: %w", items[i].source, err))
		}
	}
	return nil
}

func loadRegistryIfGiven(path string) (*specs.Registry, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usage(err)
	}
	reg, err := specs.ParseRegistry(raw)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", path, err))
	}
	return reg, nil
}
