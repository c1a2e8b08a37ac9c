package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/bundle"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/evidence"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/sealed"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

func newAudit() *cobra.Command {
	var pins pinFlags
	var logLoc, rulesConfig, asOf, identity, evidenceDir string
	var res resumeFlags
	var unencrypted bool
	var asJSON, noRules bool
	var bundles []string
	cmd := &cobra.Command{
		Use:   "audit --log DIR|URL|--bundle FILE… --vkey FILE --registry FILE",
		Short: "Replay the whole log: tree, tiles, every signature, admission and compliance rule",
		Long: `audit replays the log at its current checkpoint, trusting only the pinned keys:

  - verifies the checkpoint's signature and origin;
  - reads every entry bundle, recomputes the Merkle tree and compares its root
    with the checkpoint, and checks every stored hash tile against it;
  - re-verifies every envelope's agency signature against the registry and re-runs
    every admission rule in log order (specs/admission.md), so each agency's seq
    must run 1, 2, 3, … without a gap;
  - reports counts by kind and by agency (with each agency's last seq, so an agency
    can check nothing it appended later is missing);
  - runs the compliance rules (specs/rules.md: approvals before acquisitions and
    measures, deadlines, directions, deletions, responses, …) over every entry,
    with the durations of --rules-config (default specs/rules.default.json), and
    lists each violation: rule, index, entry id, case and reason. Deadlines are
    judged as of --as-of (default: the newest witness cosignature, or now);
  - dates each entry by witness time for R15 (time.recorded): with --policy, the
    log's cosigned-checkpoint archive (checkpoints/, specs/checkpoints.md) bounds
    when each entry was logged by its witnesses' cosignature timestamps, so an
    entry back-dated by more than max_record_lag is caught on a log never
    watched. Without a policy or an archive it says so and falls back to the
    checkpoint's newest cosignature (or the time of the audit) as an upper bound
    only; the output names the bound used (log_time in --json);
  - with --root-key (a log with a genesis), the witness policy and the rules
    configuration in force come from the log (specs/registry.md): the checkpoint
    must carry the quorum of the last policy.set entry below its size (named in
    the output; a --policy file is then also required and compared with it),
    and when the log adopted a rules configuration (rules.adopted), a
    --rules-config with another digest is refused. The trust history is
    replayed first, so the tree is read twice;
  - with --identity (a commission member's age identity), also the commission-only
    check C1: every entry sealed to that member's key is opened and its values
    checked against the commitments the agency signed (specs/sealed.md); a box
    that does not open or does not match is listed as the agency's misconduct.

With --evidence DIR, each violation and admission failure is also written as an
evidence package (specs/evidence.md) that verify evidence checks offline. With
--bundle FILE… instead of --log, the audit reads a chain of range bundles (bundle
export, specs/bundle.md) with no network: the same report as a full audit of the
log up to the last bundle's end.

With --resume STATE (compliance sign --save-state) and the members' keys
(--members), the audit starts at the state's tree size instead of 0: the
compliance statement about that size (--statement, default
<log>/compliance/<N>.note, a file or URL) must be signed by the members'
quorum and carry the state's digest, with the same rules and configuration.
Only the leaves after it are read and checked against the current checkpoint;
the counts are the statement's plus theirs, the verdict a full replay's
(specs/compliance.md, "Saved state").

It exits 1 naming the index and reason of every failure or violation. A progress
bar is shown on a terminal.`,
		Example: `  acdledger audit --log demo/log --vkey demo/log.vkey --registry demo/registry.json
  acdledger audit --log https://log.example/ --policy commission.policy --registry registry.json --json
  acdledger audit --log demo/log --vkey demo/log.vkey --registry demo/registry.json --rules-config rules.json --as-of 2027-03-31T23:59:59+09:00
  acdledger audit --log ledger/log --policy policy --registry registry.json --evidence evidence
  acdledger audit --bundle 2026-06.bundle --bundle 2026-07.bundle --policy policy --registry registry.json
  acdledger audit --log ledger/log --policy policy --registry registry.json --resume 1234.state --members members.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (logLoc == "") == (len(bundles) == 0) {
				return usage(errors.New("give --log or --bundle, not both"))
			}
			if len(bundles) > 0 {
				if identity != "" || evidenceDir != "" {
					return usage(errors.New("--bundle goes without --identity and --evidence"))
				}
				if res.state != "" || res.statement != "" {
					return usage(errors.New("--bundle goes without --resume and --statement"))
				}
				return auditBundles(cmd, &pins, bundles, rulesConfig, asOf, noRules, asJSON, res.members)
			}
			if res.state != "" {
				if identity != "" || evidenceDir != "" || noRules {
					return usage(errors.New("--resume goes without --identity, --evidence and --no-rules"))
				}
				return auditResumed(cmd, &pins, logLoc, rulesConfig, asOf, &res, asJSON)
			}
			if res.members != "" || res.statement != "" {
				return usage(errors.New("--members and --statement go with --resume (--members also with --bundle)"))
			}
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			opts := verifier.AuditOptions{}
			// With a genesis, the witness policy and rules configuration
			// in force come from the log (specs/registry.md): the trust
			// history is replayed first, at the checkpoint then audited.
			var inForce *verifier.PolicyInForce
			if p.Root != "" {
				if opts.Checkpoint, inForce, err = logPolicy(cmd.Context(), p, src); err != nil {
					return err
				}
			}
			var adopted *verifier.RulesInForce
			var col *evidence.Collector
			if !noRules {
				cfg, err := loadRulesConfig(rulesConfig)
				if err != nil {
					return err
				}
				if opts.Checkpoint != nil {
					if adopted, err = p.CheckAdoptedRules(cfg, opts.Checkpoint.Size); err != nil {
						return usage(fmt.Errorf("--rules-config: %w", err))
					}
				}
				opts.Rules = rules.New(cfg)
				opts.WitnessTime = true
				col = evidence.NewCollector(cfg)
				if asOf != "" {
					if opts.RulesAsOf, err = time.Parse(time.RFC3339, asOf); err != nil {
						return usage(fmt.Errorf("--as-of: %w", err))
					}
				}
			} else if rulesConfig != "" || asOf != "" {
				return usage(errors.New("--no-rules goes without --rules-config and --as-of"))
			}
			var checker *sealed.Checker
			var findings []*sealed.Finding
			if identity != "" {
				ids, err := loadIdentities(identity, unencrypted)
				if err != nil {
					return usage(err)
				}
				// The members' recipients are the log's, with a genesis.
				if err := replayTrust(cmd.Context(), p, src); err != nil {
					return err
				}
				if checker, err = sealed.NewChecker(p.Registry, ids); err != nil {
					return usage(fmt.Errorf("--identity: %w", err))
				}
				opts.OnEntry = func(i uint64, a *specs.Admitted) {
					if f := checker.Check(i, a.Entry); f != nil {
						findings = append(findings, f)
					}
				}
			}
			if evidenceDir != "" {
				if col == nil {
					col = evidence.NewCollector(rules.DefaultConfig())
				}
				// The packages are proven against the checkpoint replayed.
				if opts.Checkpoint == nil {
					if opts.Checkpoint, err = src.Checkpoint(cmd.Context(), p.Trust); err != nil {
						return classify(fmt.Errorf("log %s: %w", src, err))
					}
				}
				col.Hook(&opts)
			}
			bar := progress.Stderr("auditing entries")
			opts.Progress = bar.Update
			r, err := p.Audit(cmd.Context(), src, opts)
			bar.Finish()
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			r.WitnessPolicy, r.RulesAdopted = inForce, adopted
			var written *evidence.Written
			if evidenceDir != "" && col.Len() > 0 {
				var asOfT = opts.RulesAsOf
				if r.Rules != nil {
					asOfT = r.Rules.AsOf
				}
				if written, err = col.Write(cmd.Context(), src, p, opts.Checkpoint, asOfT, evidenceDir); err != nil {
					return usage(fmt.Errorf("--evidence: %w", err))
				}
			}
			var sealedOut *sealedChecks
			if checker != nil {
				sealedOut = &sealedChecks{Opened: checker.Opened, Others: checker.Others, Findings: append([]*sealed.Finding{}, findings...)}
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), struct {
					*verifier.AuditReport
					Sealed   *sealedChecks     `json:"commission_only,omitempty"`
					Evidence *evidence.Written `json:"evidence,omitempty"`
				}{r, sealedOut, written}); err != nil {
					return err
				}
			} else {
				printAudit(cmd.OutOrStdout(), r)
				if sealedOut != nil {
					printSealedChecks(cmd.OutOrStdout(), sealedOut)
				}
				if written != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "\nevidence: %d packages written to %s (check them with acdledger verify evidence)\n", len(written.Paths), evidenceDir)
					for _, u := range written.Unprovable {
						fmt.Fprintf(cmd.OutOrStdout(), "  not provable from this checkpoint, no package: %s\n", u)
					}
				}
			}
			var extra []string
			if len(findings) > 0 {
				extra = append(extra, fmt.Sprintf("%d sealed entries do not open to what they commit to (commission-only check C1)", len(findings)))
			}
			return auditVerdict(r, extra...)
		},
	}
	pins.add(cmd, true)
	cmd.Flags().StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&noRules, "no-rules", false, "skip the compliance rules (integrity and admission only)")
	cmd.Flags().StringVar(&rulesConfig, "rules-config", "", "the rules' durations and switches (JSON; default specs/rules.default.json)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "judge deadlines as of this time (RFC 3339; default the newest witness cosignature, or now)")
	cmd.Flags().StringVar(&evidenceDir, "evidence", "", "write one evidence package (specs/evidence.md) per violation and admission failure into this directory; never overwrites")
	addUnencryptedFlag(cmd, &unencrypted, "with --identity: use an age identity file that is not encrypted (refused otherwise)")
	cmd.Flags().StringVar(&identity, "identity", "", "a commission member's age identity: also open every entry sealed to it and check its commitments (commission-only)")
	cmd.Flags().StringVar(&res.state, "resume", "", "start at the tree size of this saved replay state (compliance sign --save-state), vouched for by a compliance statement")
	cmd.Flags().StringVar(&res.members, "members", "", `with --resume (or --bundle): the members policy file ("member <vkey>" lines, "quorum <k>") the statement(s) must meet`)
	cmd.Flags().StringVar(&res.statement, "statement", "", "with --resume: the compliance statement (file or URL; default <log>/compliance/<size>.note)")
	cmd.Flags().StringSliceVar(&bundles, "bundle", nil, "instead of --log: audit a chain of range bundles (bundle export), in order from index 0, with no network")
	return cmd
}

// auditBundles audits a chain of bundles: the same report as a full audit
// of the log up to the last bundle's end.
func auditBundles(cmd *cobra.Command, pins *pinFlags, files []string, rulesConfig, asOf string, noRules, asJSON bool, membersFile string) error {
	p, err := pins.load()
	if err != nil {
		return err
	}
	chain, err := readBundles(files)
	if err != nil {
		return err
	}
	opts := verifier.AuditOptions{}
	if !noRules {
		cfg, err := bundle.CheckSettings(chain)
		if err != nil {
			return failed(err)
		}
		if rulesConfig != "" {
			if cfg, err = loadRulesConfig(rulesConfig); err != nil {
				return err
			}
		}
		opts.Rules = rules.New(cfg)
		if asOf != "" {
			if opts.RulesAsOf, err = time.Parse(time.RFC3339, asOf); err != nil {
				return usage(fmt.Errorf("--as-of: %w", err))
			}
		}
	}
	r, err := bundle.Audit(chain, p, opts)
	if err != nil {
		return failed(err)
	}
	// The statements are bound to the chain's tree by Audit; with the
	// members' policy their quorum is checked too.
	var sts []*compliance.Statement
	carried, archived := 0, 0
	for _, b := range chain {
		carried += len(b.Statements)
		archived += len(b.Checkpoints)
	}
	if membersFile != "" {
		members, err := loadMembers(membersFile, nil)
		if err != nil {
			return usage(err)
		}
		if sts, err = bundle.VerifyStatements(chain, members); err != nil {
			return failed(err)
		}
	}
	if asJSON {
		if err := printJSON(cmd.OutOrStdout(), struct {
			*verifier.AuditReport
			ArchivedCheckpoints int                     `json:"archived_checkpoints"`
			Statements          []*compliance.Statement `json:"compliance_statements,omitempty"`
		}{r, archived, sts}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "%d bundles, leaves [0, %d), each proven against its cosigned checkpoint and chained to the one before\n", len(chain), r.Size)
		fmt.Fprintf(cmd.OutOrStdout(), "%d archived cosigned checkpoints and %d compliance statements carried, each of the tree the leaves give at its size\n", archived, carried)
		for _, st := range sts {
			fmt.Fprintf(cmd.OutOrStdout(), "  statement at size %d: %d violations, %d admission failures, as of %s; the members' quorum signed it\n",
				st.Size, st.Violations, st.AdmissionFailures, st.AsOf.Format(time.RFC3339))
		}
		if carried > 0 && membersFile == "" {
			fmt.Fprintln(cmd.OutOrStdout(), "  (their signatures are not checked: give --members)")
		}
		printAudit(cmd.OutOrStdout(), r)
	}
	return auditVerdict(r)
}

type resumeFlags struct{ state, members, statement string }

// auditResumed audits the log from a saved state that a compliance
// statement signed by the members' quorum vouches for.
func auditResumed(cmd *cobra.Command, pins *pinFlags, logLoc, rulesConfig, asOf string, res *resumeFlags, asJSON bool) error {
	if res.members == "" {
		return usage(errors.New("--resume needs the members' policy (--members) the statement must meet"))
	}
	members, err := loadMembers(res.members, nil)
	if err != nil {
		return usage(err)
	}
	cfg, err := loadRulesConfig(rulesConfig)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(res.state)
	if err != nil {
		return usage(fmt.Errorf("--resume: %w", err))
	}
	saved, _, _, err := compliance.ParseState(data, cfg)
	if err != nil {
		return usage(fmt.Errorf("%s: %w", res.state, err))
	}
	p, src, err := pins.loadWithLog(logLoc)
	if err != nil {
		return err
	}
	loc := res.statement
	if loc == "" {
		loc = statementPath(logLoc, saved.Size)
	}
	msg, err := readStatement(cmd.Context(), loc)
	if err != nil {
		return usage(fmt.Errorf("--statement: %w", err))
	}
	st, signers, err := compliance.Verify(msg, members)
	if errors.Is(err, compliance.ErrMalformed) {
		return usage(fmt.Errorf("%s: %w", loc, err))
	}
	if err != nil {
		return failed(fmt.Errorf("%s: %w", loc, err))
	}
	opts := verifier.AuditOptions{WitnessTime: true}
	if asOf != "" {
		if opts.RulesAsOf, err = time.Parse(time.RFC3339, asOf); err != nil {
			return usage(fmt.Errorf("--as-of: %w", err))
		}
	}
	cp, err := src.Checkpoint(cmd.Context(), p.Trust)
	if err != nil {
		return classify(fmt.Errorf("log %s: %w", src, err))
	}
	bar := progress.Stderr("auditing entries")
	opts.Progress = bar.Update
	r, err := compliance.AuditFrom(cmd.Context(), p, src, data, st, cp, cfg, opts)
	bar.Finish()
	if errors.Is(err, compliance.ErrState) {
		return failed(fmt.Errorf("%s: %w", res.state, err))
	}
	if err != nil {
		return classify(fmt.Errorf("log %s: %w", src, err))
	}
	if asJSON {
		if err := printJSON(cmd.OutOrStdout(), r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "resumed at tree size %d from %s: the statement %s (signed by %s) carries its state; %d violations and %d admission failures before it\n",
			st.Size, res.state, loc, strings.Join(signers, ", "), st.Violations, st.AdmissionFailures)
		printAudit(cmd.OutOrStdout(), r)
	}
	return auditVerdict(r)
}

// sealedChecks is the outcome of the commission-only check C1.
type sealedChecks struct {
	Opened   uint64            `json:"opened"`
	Others   uint64            `json:"sealed_to_other_keys"`
	Findings []*sealed.Finding `json:"findings"`
}

func printSealedChecks(w io.Writer, c *sealedChecks) {
	fmt.Fprintf(w, "\ncommission-only check C1 (sealed.opens, needs a member's key): %d sealed entries opened", c.Opened)
	fmt.Fprintf(w, ", %d sealed to other keys\n", c.Others)
	if len(c.Findings) == 0 {
		fmt.Fprintln(w, "every opened entry matches the commitments its agency signed")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "check\tindex\tentry id\tagency\tmember\treason")
	for _, f := range c.Findings {
		fmt.Fprintf(tw, "%s %s\t%d\t%s\t%s\t%s\t%s\n", f.Check, f.Name, f.Index, f.EntryID, f.Agency, f.Member, f.Reason)
	}
	tw.Flush()
}

func printAudit(w io.Writer, r *verifier.AuditReport) {
	fmt.Fprintf(w, "log %s: tree size %d, root %s%s\n", r.Origin, r.Size, r.Root, cosigned(r.Cosigners))
	if r.ResumedAt > 0 {
		fmt.Fprintf(w, "leaves [%d, %d) appended to the statement's tree give the checkpoint's root: %v (kinds and agencies below count only them)\n", r.ResumedAt, r.Size, r.TreeVerified)
	} else {
		fmt.Fprintf(w, "tree recomputed from every entry bundle and every hash tile checked: %v\n", r.TreeVerified)
	}
	if tr := r.Trust; tr != nil && tr.Source == "genesis" {
		fmt.Fprintf(w, "registry replayed from the genesis, root key %s: %d versions\n", tr.RootKey, len(tr.Versions))
		for _, d := range tr.CrossCheck {
			fmt.Fprintf(w, "  the --registry file differs: %s\n", d)
		}
	}
	if pf := r.WitnessPolicy; pf != nil {
		fmt.Fprintf(w, "witness policy in force at tree size %d: set by registry entry %s (index %d, valid from %s); cosigned by [%s]\n",
			pf.TreeSize, pf.EntryID, pf.Index, pf.ValidFrom, strings.Join(pf.Cosigners, ", "))
		if pf.Error != "" {
			fmt.Fprintf(w, "  FAIL: %s\n", pf.Error)
		}
		for _, d := range pf.FileDifferences {
			fmt.Fprintf(w, "  the --policy file differs: %s\n", d)
		}
	}
	if ra := r.RulesAdopted; ra != nil {
		fmt.Fprintf(w, "rules configuration: version %s adopted by registry entry %s, digest %s (matches)\n", ra.Version, ra.EntryID, ra.Digest)
	}
	fmt.Fprintf(w, "\n%-24s %8s\n", "kind", "entries")
	for _, k := range sortedMapKeys(r.ByKind) {
		fmt.Fprintf(w, "%-24s %8d\n", k, r.ByKind[k])
	}
	fmt.Fprintf(w, "\n%-12s %8s %8s\n", "agency", "entries", "last seq")
	for _, a := range sortedMapKeys(r.ByAgency) {
		fmt.Fprintf(w, "%-12s %8d %8d\n", a, r.ByAgency[a].Entries, r.ByAgency[a].LastSeq)
	}
	defer printRules(w, r)
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

// loadRulesConfig reads --rules-config, or the defaults without one.
func loadRulesConfig(path string) (rules.Config, error) {
	if path == "" {
		return rules.DefaultConfig(), nil
	}
	cfg, err := rules.LoadConfig(path)
	if err != nil {
		return cfg, usage(err)
	}
	return cfg, nil
}

// printRules prints the compliance rules' verdict: one line if the log
// complies, else a table of violations.
func printRules(w io.Writer, r *verifier.AuditReport) {
	rr := r.Rules
	if rr == nil {
		return
	}
	fmt.Fprintf(w, "\ncompliance rules (specs/rules.md), deadlines as of %s:\n", rr.AsOf.Format(time.RFC3339))
	if rr.LogTime != nil {
		fmt.Fprintln(w, rr.LogTime)
	}
	if rr.ViolationCount == 0 {
		fmt.Fprintf(w, "all %d entries comply with the %d rules\n", rr.Checked, len(rr.Rules))
		return
	}
	fmt.Fprintf(w, "%d VIOLATIONS:\n", rr.ViolationCount)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "rule\tname\tindex\tentry id\tcase\treason")
	for _, v := range rr.Violations {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", v.Rule, v.Name(), v.Index, v.EntryID, v.Case, v.Reason)
	}
	tw.Flush()
	if uint64(len(rr.Violations)) < rr.ViolationCount {
		fmt.Fprintf(w, "… and %d more (see --json)\n", rr.ViolationCount-uint64(len(rr.Violations)))
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

// logPolicy replays the trust history of a log with a genesis at its
// current checkpoint (verified against the pins: the log key, and the
// --policy file's quorum if given), then checks that checkpoint against the
// witness policy in force in the log at its size. It returns the
// checkpoint to audit (with its cosigners under the log's policy) and the
// policy used (nil: the log sets none). This costs a second replay of the
// log: the policy in force can only be known from the tree it verifies.
func logPolicy(ctx context.Context, p *verifier.Pins, src *tlog.Source) (*tlog.Checkpoint, *verifier.PolicyInForce, error) {
	cp, err := src.Checkpoint(ctx, p.Trust)
	if err != nil {
		return nil, nil, classify(fmt.Errorf("log %s: %w", src, err))
	}
	r, err := p.Audit(ctx, src, verifier.AuditOptions{Checkpoint: cp})
	if err != nil {
		return nil, nil, classify(fmt.Errorf("log %s: replaying the registry: %w", src, err))
	}
	if r.History == nil {
		// The genesis does not verify: the audit itself reports why.
		return cp, nil, nil
	}
	p.History = r.History
	pf, checked, err := p.CheckLogPolicy(cp)
	switch {
	case errors.Is(err, verifier.ErrPolicyInForce) && pf != nil:
		// The tree is still replayed and reported; the audit fails.
		pf.Error = err.Error()
		return cp, pf, nil
	case err != nil:
		return nil, nil, classify(fmt.Errorf("log %s: %w", src, err))
	}
	return checked, pf, nil
}

// auditVerdict is the exit of every audit (of a log, a bundle chain or a
// resumed replay): 1 with each problem named, or nil. A witness policy in
// force that the checkpoint does not meet is one of them.
func auditVerdict(r *verifier.AuditReport, extra ...string) error {
	var problems []string
	if r.WitnessPolicy != nil && r.WitnessPolicy.Error != "" {
		problems = append(problems, r.WitnessPolicy.Error)
	}
	if !r.OK() {
		problems = append(problems, fmt.Sprintf("%d of %d entries break the admission rules", r.FailureCount, r.Entries))
	}
	if !r.Compliant() {
		problems = append(problems, fmt.Sprintf("%d compliance rule violations", r.Rules.ViolationCount))
	}
	problems = append(problems, extra...)
	if len(problems) > 0 {
		return failed(fmt.Errorf("audit failed: %s", strings.Join(problems, "; ")))
	}
	return nil
}
