package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/acdledger/acdledger/verifier/evidence"
	"github.com/spf13/cobra"
)

type evidenceResult struct {
	File    string            `json:"file"`
	Proven  bool              `json:"proven"`
	Verdict *evidence.Verdict `json:"verdict,omitempty"`
	Error   string            `json:"error,omitempty"`
}

func newVerifyEvidence() *cobra.Command {
	var pins pinFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "evidence FILE… --vkey FILE|--policy FILE --registry FILE",
		Short: "Re-derive the verdict of evidence packages offline, with nothing but the pins",
		Long: `verify evidence checks evidence packages (specs/evidence.md) written by
audit --evidence, watch --evidence and verify consistency --evidence, with no
network and nothing but the pins:

  - the checkpoint note verifies under --vkey, or --policy's log key and witness
    quorum;
  - the leaves [0, end) with the range proof rebuild the checkpoint's root, and
    the charged entry's inclusion proof verifies;
  - the rule id and version are the ones this verifier implements, and the
    settings' digest is the SHA-256 of the configuration carried;
  - replaying the leaves with the audit's own code (admission and rules, with
    those settings) finds exactly the claimed finding, reason and all. A deadline
    passed with no closing entry needs every leaf up to the checkpoint and a
    witness cosignature no earlier than the time it was judged at;
  - a fork shows two signed trees of one size with different roots; a rollback a
    smaller signed tree after a larger one; an inconsistency a consistency proof
    that fails between two signed trees.

It exits 1 if any package does not prove its finding, 2 on unreadable files or pins.`,
		Example: `  acdledger verify evidence evidence/violation-R3-4-MEAS.json --policy commission.policy --registry registry.json
  acdledger verify evidence evidence/*.json --vkey demo/log.vkey --registry demo/registry.json --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			p, err := pins.load()
			if err != nil {
				return err
			}
			var results []evidenceResult
			var bad []string
			for _, f := range files {
				raw, err := os.ReadFile(f)
				if err != nil {
					return usage(fmt.Errorf("evidence: %w", err))
				}
				v, err := evidence.Verify(raw, p)
				if err != nil && !errors.Is(err, evidence.ErrNotProven) {
					return classify(fmt.Errorf("%s: %w", f, err))
				}
				r := evidenceResult{File: f, Proven: err == nil, Verdict: v}
				if err != nil {
					r.Error = err.Error()
					bad = append(bad, fmt.Sprintf("%s: %v", f, err))
				}
				results = append(results, r)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if !r.Proven {
						fmt.Fprintf(w, "%s: NOT PROVEN: %s\n", r.File, r.Error)
						continue
					}
					v := r.Verdict
					what := v.Kind
					if v.RuleName != "" {
						what = fmt.Sprintf("%s %s version %d", v.Rule, v.RuleName, v.RuleVersion)
					} else if v.Rule != "" {
						what = "admission rule " + v.Rule
					}
					fmt.Fprintf(w, "%s: PROVEN against %s size %d root %s: %s", r.File, v.Origin, v.Size, v.Root, what)
					if v.EntryID != "" {
						fmt.Fprintf(w, ", index %d entry %s", v.Index, v.EntryID)
					}
					fmt.Fprintf(w, ": %s\n", v.Reason)
					if v.Note != "" {
						fmt.Fprintf(w, "  note: %s\n", v.Note)
					}
				}
			}
			if len(bad) > 0 {
				return failed(fmt.Errorf("%d of %d evidence packages do not prove their finding: %s", len(bad), len(files), strings.Join(bad, "; ")))
			}
			return nil
		},
	}
	pins.add(cmd, false)
	cmd.Flags().StringVar(&pins.registry, "registry", "", "the agency registry JSON (needed for violation and admission packages)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each package's verdict as JSON")
	return cmd
}
