package main

import (
	"fmt"
	"os"

	"github.com/acdledger/acdledger/ledger"
	"github.com/spf13/cobra"
)

func newInit() *cobra.Command {
	var dir, origin, registry string
	cmd := &cobra.Command{
		Use:   "init --dir DIR --origin ORIGIN --registry FILE",
		Short: "Create a new ledger: an empty log, its checkpoint key, and the agency registry",
		Long: `init creates a ledger directory:

  DIR/log/           the transparency log (C2SP tlog-tiles), to publish as static files
  DIR/log.key        the operator's checkpoint signing key (mode 0600; keep it secret)
  DIR/log.vkey       the checkpoint verifier key: auditors pin this
  DIR/registry.json  the agency registry: which agency may append which kinds with which keys

The origin names the log in every checkpoint, e.g. log.cyber-oversight.example/acd.`,
		Example: `  acdledger init --dir ledger --origin log.cyber-oversight.example/acd --registry registry.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := os.ReadFile(registry)
			if err != nil {
				return usage(err)
			}
			vkey, err := ledger.Init(dir, origin, reg)
			if err != nil {
				return usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialised ledger in %s\norigin: %s\ncheckpoint verifier key (pin this): %s\n", dir, origin, vkey)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "ledger directory to create")
	cmd.Flags().StringVar(&origin, "origin", "", "log origin, e.g. log.cyber-oversight.example/acd")
	cmd.Flags().StringVar(&registry, "registry", "", "agency registry JSON (specs/registry.md); see 'acdledger keygen --registry'")
	for _, f := range []string{"dir", "origin", "registry"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}
