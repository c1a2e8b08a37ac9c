package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/acdledger/acdledger/verifier"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newAudit() *cobra.Command {
	var pins pinFlags
	var logLoc string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit --log DIR|URL --vkey FILE --registry FILE",
		Short: "Replay the whole log: tree, tiles, every signature and admission rule",
		Long: `audit replays the log at its current checkpoint, trusting only the pinned keys:

  - verifies the checkpoint's signature and origin;
  - reads every entry bundle, recomputes the Merkle tree and compares its root
    with the checkpoint, and checks every stored hash tile against it;
  - re-verifies every envelope's agency signature against the registry and re-runs
    every admission rule in log order (specs/admission.md), so each agency's seq
    must run 1, 2, 3, … without a gap;
  - reports counts by kind and by agency (with each agency's last seq, so an agency
    can check nothing it appended later is missing).

It exits 1 naming the index and reason of every failure. A progress bar is shown
on a terminal.`,
		Example: `  acdledger audit --log demo/log --vkey demo/log.vkey --registry demo/registry.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			opts := verifier.AuditOptions{}
			if bar := progressBar(); bar != nil {
				opts.Progress = func(done, total uint64) {
					bar.ChangeMax64(int64(total))
					bar.Set64(int64(done))
				}
				defer bar.Finish()
			}
			r, err := p.Audit(cmd.Context(), src, opts)
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				printAudit(cmd.OutOrStdout(), r)
			}
			if !r.OK() {
				return failed(fmt.Errorf("audit failed: %d of %d entries break the admission rules", r.FailureCount, r.Entries))
			}
			return nil
		},
	}
	pins.add(cmd, true)
	cmd.Flags().StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("log")
	return cmd
}

// progressBar returns a bar on stderr when it is a terminal, nil otherwise,
// so scripts and CI logs stay clean.
func progressBar() *progressbar.ProgressBar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(-1, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription("auditing entries"), progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())
}

func printAudit(w io.Writer, r *verifier.AuditReport) {
	fmt.Fprintf(w, "log %s: tree size %d, root %s%s\n", r.Origin, r.Size, r.Root, cosigned(r.Cosigners))
	fmt.Fprintf(w, "tree recomputed from every entry bundle and every hash tile checked: %v\n", r.TreeVerified)
	fmt.Fprintf(w, "\n%-24s %8s\n", "kind", "entries")
	for _, k := range sortedMapKeys(r.ByKind) {
		fmt.Fprintf(w, "%-24s %8d\n", k, r.ByKind[k])
	}
	fmt.Fprintf(w, "\n%-12s %8s %8s\n", "agency", "entries", "last seq")
	for _, a := range sortedMapKeys(r.ByAgency) {
		fmt.Fprintf(w, "%-12s %8d %8d\n", a, r.ByAgency[a].Entries, r.ByAgency[a].LastSeq)
	}
	if r.FailureCount == 0 {
		fmt.Fprintf(w, "\nall %d entries pass signature and admission checks\n", r.Entries)
		return
	}
	fmt.Fprintf(w, "\n%d of %d entries FAIL:\n", r.FailureCount, r.Entries)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  index %d: entry %s: field %s: rule %s: %s\n", f.Index, f.EntryID, f.Field, f.Rule, f.Message)
	}
	if uint64(len(r.Failures)) < r.FailureCount {
		fmt.Fprintf(w, "  … and %d more (see --json)\n", r.FailureCount-uint64(len(r.Failures)))
	}
}

func sortedMapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
