package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/bundle"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
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
	var logLoc, rulesConfig, out, month string
	var from, to uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export --log DIR|URL --vkey FILE|--policy FILE --registry FILE (--from A [--to B] | --month YYYY-MM) --out FILE",
		Short: "Write the leaves [A, B) with their proofs, the registry and rules config as one file",
		Long: `bundle export writes one file (specs/bundle.md) holding the leaves [--from, --to)
of the log's current checkpoint (default --to: its size), the compact ranges left
and right of them that prove them against that cosigned checkpoint and chain the
bundle to the previous one, the registry in force (--registry) and the rules
configuration (--rules-config, default specs/rules.default.json).

The bundle (version 2) also carries the log's archived cosigned checkpoints
(checkpoints/) of sizes in (A, B] and the compliance statements published
beside them (compliance/<N>.note); a log without an archive gives none.

--month YYYY-MM picks the range by the agreed index (specs/bundle.md): the
leaves first held by a checkpoint whose witness quorum was reached in that
month (JST), i.e. [b(month start), b(next month start)) where b(t) is the
largest archived size whose quorum was reached before t. It needs --policy
(the witnesses' times) and a month that is over in the archive; consecutive
months chain.

Export the next bundle from where the previous one ended; audit --bundle
FILE… verifies the chain with no network and gives the verdict of a full audit.
The output file is never overwritten.`,
		Example: `  acdledger bundle export --log ledger/log --policy policy --registry registry.json --from 0 --out 2026-06.bundle
  acdledger bundle export --log https://log.example/ --policy policy --registry registry.json --from 1204 --out 2026-07.bundle
  acdledger bundle export --log ledger/log --policy policy --registry registry.json --month 2026-08 --out 2026-08.bundle`,
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
			if month != "" && (cmd.Flags().Changed("from") || cmd.Flags().Changed("to")) {
				return usage(errors.New("give --month or --from/--to, not both"))
			}
			var start time.Time
			if month != "" {
				if p.Trust.Policy == nil {
					return usage(errors.New("--month needs --policy: months are reckoned by the witnesses' cosignature times"))
				}
				if start, err = time.ParseInLocation("2006-01", month, jst); err != nil || start.Format("2006-01") != month {
					return usage(fmt.Errorf("--month: %q is not YYYY-MM", month))
				}
			}
			ctx := cmd.Context()
			cp, err := src.Checkpoint(ctx, p.Trust)
			if err != nil {
				return classify(err)
			}
			arch, err := ckptarchive.Read(ctx, src, p.Trust, ckptarchive.Options{Current: cp})
			switch {
			case errors.Is(err, ckptarchive.ErrNoArchive):
				if month != "" {
					return failed(fmt.Errorf("--month: %w", err))
				}
				arch = nil
			case err != nil:
				return failed(fmt.Errorf("checkpoint archive: %w", err))
			}
			if month != "" {
				if from, to, err = bundle.Month(arch, start, start.AddDate(0, 1, 0)); err != nil {
					return failed(fmt.Errorf("--month %s: %w", month, err))
				}
			} else if !cmd.Flags().Changed("to") {
				to = cp.Size
			}
			x, err := bundle.Gather(ctx, src, arch, from, to)
			if err != nil {
				return failed(err)
			}
			b, err := bundle.ExportV2(ctx, src, p, cp, from, to, regText, cfg, x)
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
				File        string `json:"file"`
				Format      string `json:"format"`
				From        uint64 `json:"from"`
				To          uint64 `json:"to"`
				Size        uint64 `json:"tree_size"`
				Checkpoints int    `json:"checkpoints"`
				Statements  int    `json:"statements"`
			}{out, b.Format, b.From, b.To, cp.Size, len(b.Checkpoints), len(b.Statements)}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bundle %s: leaves [%d, %d) of %s size %d, %d archived checkpoints, %d compliance statements\n",
				out, b.From, b.To, cp.Origin, cp.Size, len(b.Checkpoints), len(b.Statements))
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
	f.StringVar(&month, "month", "", "export the month YYYY-MM (JST) by the witnesses' times instead of --from/--to (needs --policy)")
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

// jst is the zone months are reckoned in, as in the annual report.
var jst = time.FixedZone("JST", 9*3600)
