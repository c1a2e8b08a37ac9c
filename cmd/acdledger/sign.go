package main

import (
	"fmt"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/spf13/cobra"
)

func newSign() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign --key KEY ENTRY.json|ENTRIES.jsonl|- ...",
		Short: "Sign entries with an agency key, printing DSSE envelopes (one per line)",
		Long: `sign wraps each entry (specs/entries.md) in a DSSE envelope signed with the
agency's private key and prints the envelopes as JSON Lines, ready for
'acdledger append'. The passphrase comes from $` + agencykey.PassphraseEnv + ` or a prompt.
Entries are not checked here; append checks them all.`,
		Example: `  acdledger sign --key keys/nco.key entry.json > entry.dsse.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := readItems(args)
			if err != nil {
				return usage(err)
			}
			signer, err := loadSigner(key)
			if err != nil {
				return err
			}
			for _, it := range items {
				env, err := signer.Sign(it.raw)
				if err != nil {
					return failed(fmt.Errorf("%s: %w", it.source, err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", env)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "agency private key file (from keygen)")
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
