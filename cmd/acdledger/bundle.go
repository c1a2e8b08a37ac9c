package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/bundle"
	"github.com/spf13/cobra"
)

func newBundle() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Range bundles: take a range of the log away to an air-gapped audit",
	}
	cmd.AddCommand(newBundleExport())
	return cmd
}

func newBundleExport() *cobra.Command {
	var pins pinFlags
	var logLoc, rulesConfig, out string
	var from, to uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export --log DIR|URL --vkey FILE|--policy FILE --registry FILE --from A [--to B] --out FILE",
		Short: "Write the leaves [A, B) with their proofs, the registry and rules config as one file",
		Long: `bundle export writes one file (specs/bundle.md) holding the leaves [--from, --to)
of the log's current checkpoint (default --to: its size), the compact ranges left
and right of them that prove them against that cosigned checkpoint and chain the
bundle to the previous one, the registry in force (--registry) and the rules
configuration (--rules-config, default specs/rules.default.json).

Export the next bundle from where the previous one ended; audit --bundle
FILE… verifies the chain with no network and gives the verdict of a full audit.
The output file is never overwritten.`,
		Example: `  acdledger bundle export --log ledger/log --policy policy --registry registry.json --from 0 --out 2026-06.bundle
  acdledger bundle export --log https://log.example/ --policy policy --registry registry.json --from 1204 --out 2026-07.bundle`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			cfg, err := loadRulesConfig(rulesConfig)
			if err != nil {
				return err
			}
			if pins.registry == "" {
				// A bundle carries its registry as a file; bundles of a log
				// with a genesis (its registry in its leaves) are not done yet.
				return usage(errors.New("bundle export needs --registry: a bundle carries the registry file it was audited with"))
			}
			regText, err := os.ReadFile(pins.registry)
			if err != nil {
				return usage(err)
			}
			cp, err := src.Checkpoint(cmd.Context(), p.Trust)
			if err != nil {
				return classify(err)
			}
			if !cmd.Flags().Changed("to") {
				to = cp.Size
			}
			b, err := bundle.Export(cmd.Context(), src, p, cp, from, to, regText, cfg)
			if err != nil {
				if errors.Is(err, bundle.ErrChain) {
					return failed(err)
				}
				return usage(err)
			}
			raw, err := b.Marshal()
			if err != nil {
				return err
			}
			if err := atomicfile.WriteNew(out, raw, 0o644); err != nil {
				return usage(fmt.Errorf("--out: %w", err))
			}
			res := struct {
				File string `json:"file"`
				From uint64 `json:"from"`
				To   uint64 `json:"to"`
				Size uint64 `json:"tree_size"`
			}{out, b.From, b.To, cp.Size}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bundle %s: leaves [%d, %d) of %s size %d\n", out, b.From, b.To, cp.Origin, cp.Size)
			return nil
		},
	}
	pins.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.StringVar(&rulesConfig, "rules-config", "", "the rules configuration in force (default specs/rules.default.json)")
	f.Uint64Var(&from, "from", 0, "first leaf index (where the previous bundle ended)")
	f.Uint64Var(&to, "to", 0, "end leaf index, exclusive (default: the checkpoint's size)")
	f.StringVar(&out, "out", "", "the bundle file to write (never overwritten)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("out")
	return cmd
}

// readBundles reads --bundle files, in chain order.
func readBundles(files []string) ([]*specs.Bundle, error) {
	var chain []*specs.Bundle
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, usage(err)
		}
		b, err := specs.ParseBundle(raw)
		if err != nil {
			return nil, failed(fmt.Errorf("%s: %w", f, err))
		}
		chain = append(chain, b)
	}
	return chain, nil
}
