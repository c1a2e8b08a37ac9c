package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

// ruleEngine makes the compliance rule engine from a configuration file
// ("" for its defaults): a fresh engine for each report, fed the report's
// entries in log order. report.Violation mirrors rules.Violation field for
// field, so the report package needs no import of the rules package.
func ruleEngine(configFile string) (report.RuleRunner, error) {
	cfg, err := loadRulesConfig(configFile)
	if err != nil {
		return nil, err
	}
	return rulesRunner{rules.New(cfg)}, nil
}

type rulesRunner struct{ e *rules.Engine }

func (r rulesRunner) Add(i uint64, e *specs.Entry) []report.Violation { return toReport(r.e.Add(i, e)) }
func (r rulesRunner) Finish(at time.Time) []report.Violation          { return toReport(r.e.Finish(at)) }

func toReport(vs []rules.Violation) []report.Violation {
	out := make([]report.Violation, len(vs))
	for i, v := range vs {
		out[i] = report.Violation(v)
	}
	return out
}

// reportParameters are the report's deletion limits, taken from the rules
// configuration so that "late" means the same in both.
func reportParameters(configFile string) (report.Parameters, error) {
	cfg, err := loadRulesConfig(configFile)
	if err != nil {
		return report.Parameters{}, err
	}
	return report.Parameters{
		ImmediateDeletionSeconds: int64(cfg.SelectionDeleteWithin.D() / time.Second),
		RetentionLimitSeconds:    int64(cfg.RetentionMax.D() / time.Second),
		DeadlineGraceSeconds:     int64(cfg.MaxRecordLag.D() / time.Second),
	}, nil
}

// rulesConfigID is how a report names the rules configuration: "default",
// or the SHA-256 of the configuration file's bytes.
func rulesConfigID(file string) (string, error) {
	if file == "" {
		return "default", nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", usage(fmt.Errorf("rules config: %w", err))
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// rulesFlags are the rules options of report annual and report verify.
type rulesFlags struct {
	config string
	off    bool
}

func (r *rulesFlags) add(cmd *cobra.Command, withOff bool) {
	cmd.Flags().StringVar(&r.config, "rules-config", "", "the compliance rules' configuration file (default: the engine's defaults)")
	if withOff {
		cmd.Flags().BoolVar(&r.off, "no-rules", false, "leave the rules section out of the report")
	}
}

// runner returns the rule engine to use, or nil for none.
func (r *rulesFlags) runner() (report.RuleRunner, string, error) {
	if r.off {
		return nil, "", nil
	}
	id, err := rulesConfigID(r.config)
	if err != nil {
		return nil, "", err
	}
	run, err := ruleEngine(r.config)
	if err != nil {
		return nil, "", usage(fmt.Errorf("rules config: %w", err))
	}
	return run, id, nil
}

func newReport() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "The commission's annual report to the Diet, computed from the log and verifiable by anyone",
		Long: `The annual report (specs/report.md) counts, for one fiscal or calendar year, the
approval requests and decisions by measure, measures approved in advance and in
emergencies, selection volumes by direction and category, deletions on time and
late, provisions by recipient class, inspections, notices, demands,
recommendations and responses, and rule violations. It is bound to one signed
checkpoint of the log, and reads only each entry's header and public body, so
anyone holding the published log can recompute every figure.

  report annual   compute report.json, report.md and report.html
  report verify   recompute every figure of a report.json from the log
  report render   render report.md and report.html from a report.json

Exit codes: 0 ok, 1 verification failed, 2 usage or input error.`,
	}
	cmd.AddCommand(newReportAnnual(), newReportVerify(), newReportRender())
	return cmd
}

// renderFlags choose the language and banding of report.md and .html.
type renderFlags struct {
	lang string
	band uint64
}

func (r *renderFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.lang, "lang", report.LangJA, "language of report.md and report.html: ja or en")
	cmd.Flags().Uint64Var(&r.band, "band", 0, "show counts from 1 to N-1 as \"<N\" in report.md and report.html (report.json stays exact)")
}

func (r *renderFlags) options() (report.RenderOptions, error) {
	if r.lang != report.LangJA && r.lang != report.LangEN {
		return report.RenderOptions{}, usage(fmt.Errorf("--lang %q: want ja or en", r.lang))
	}
	return report.RenderOptions{Lang: r.lang, Band: r.band}, nil
}

// writeReport writes report.json and its renderings into dir.
func writeReport(dir string, r *report.Report, o report.RenderOptions, withJSON bool) ([]string, error) {
	md, err := report.Markdown(r, o)
	if err != nil {
		return nil, err
	}
	page, err := report.HTML(r, o)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"report.md": md, "report.html": page}
	names := []string{"report.md", "report.html"}
	if withJSON {
		raw, err := r.Marshal()
		if err != nil {
			return nil, err
		}
		files["report.json"] = raw
		names = append([]string{"report.json"}, names...)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, usage(err)
	}
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return nil, usage(err)
		}
		out = append(out, p)
	}
	return out, nil
}

func newReportAnnual() *cobra.Command {
	var pins pinFlags
	var rules rulesFlags
	var render renderFlags
	var logLoc, out string
	var year int
	var calendar, asJSON bool
	var grace time.Duration
	var resume resumeFlags
	cmd := &cobra.Command{
		Use:   "annual --log DIR|URL --vkey FILE|--policy FILE --registry FILE --year YEAR --out DIR",
		Short: "Compute the annual report over the log at its current checkpoint",
		Long: `report annual replays the log at its current checkpoint (verifying the tree,
every signature and every admission rule, as audit does) and counts the
admitted entries whose occurred_at, in Japan time, falls in the fiscal year
YEAR (April YEAR to March YEAR+1), or with --calendar in the calendar year.

It writes into --out:
  report.json   the figures, canonical and language-neutral (specs/report.md),
                bound to the checkpoint (origin, tree size, root hash, the
                signed note and its cosigning witnesses)
  report.md     the tables in --lang
  report.html   one self-contained page (inline CSS and SVG charts, no script)

Entries that fail admission are left out of every figure and counted in the
report; the command then exits 1 (after writing) so the failure is not missed.

Deletions count as on time or late by the same limits the compliance rules use
(selection_delete_within and retention_max of --rules-config, or the defaults in
specs/rules.default.json), so the report and the rules never disagree.

The rules judge deadlines as of the period's end plus --deadline-grace
(default: max_record_lag of the rules configuration, the time the engine waits
past a deadline for its closing entry), whatever the log holds: a deadline
missed at the end of the year is reported even with no later entry. The
report states that time (rules.as_of). A report made before then judges
deadlines that have not passed yet; the command warns.

With --resume STATE (compliance sign --save-state) and --members, the replay
starts at the tree of a compliance statement signed by the members' quorum
(--statement, default <log>/compliance/<size>.note) instead of leaf 0, as
audit --resume does: a year's report reads only the leaves logged since a
statement made at the year's start. The statement's as-of must not be after
the period's start and it must count no admission failure; entries of the
year that refer to earlier ones are read from the log by index (inclusion
proof, signature). The figures are then those of a report over the whole log,
unless an entry logged before the statement is dated in the year (R15 reports
such an entry; report verify without --resume replays everything).`,
		Example: `  acdledger report annual --log demo/log --vkey demo/log.vkey --registry demo/agencies/registry.json --year 2026 --out demo/report
  acdledger report annual --log https://log.example/acd --policy policy.txt --registry registry.json --year 2026 --lang en --band 10 --out report-2026`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ro, err := render.options()
			if err != nil {
				return err
			}
			basis := report.BasisFiscal
			if calendar {
				basis = report.BasisCalendar
			}
			period, err := report.NewPeriod(basis, year)
			if err != nil {
				return usage(fmt.Errorf("--year: %w", err))
			}
			params, err := reportParameters(rules.config)
			if err != nil {
				return usage(fmt.Errorf("rules config: %w", err))
			}
			if cmd.Flags().Changed("deadline-grace") {
				if grace < 0 {
					return usage(fmt.Errorf("--deadline-grace %s is negative", grace))
				}
				params.DeadlineGraceSeconds = int64(grace / time.Second)
			}
			run, rulesID, err := rules.runner()
			if err != nil {
				return err
			}
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			opts := report.Options{Period: period, Rules: run, RulesConfig: rulesID,
				Parameters: params}
			cp, err := src.Checkpoint(cmd.Context(), p.Trust)
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			if resume.state != "" {
				pt, err := loadReportResume(cmd, p, logLoc, cp, &resume, rules.config, period)
				if err != nil {
					return err
				}
				opts.Resume, opts.ResumeEdge = pt.Resume, pt.Edge
				if run != nil {
					opts.Rules = rulesRunner{pt.Engine}
				}
			}
			bar := progress.Stderr("building the report")
			opts.Progress = bar.Update
			r, err := report.BuildAt(cmd.Context(), p, src, cp, opts)
			bar.Finish()
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			files, err := writeReport(out, r, ro, true)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				res := annualResult{Period: r.Period, Log: r.Log, Files: files}
				if r.Rules != nil {
					n := len(r.Rules.Violations)
					res.Violations = &n
				}
				if err := printJSON(w, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "%s year %d (%s – %s): %d entries", period.Basis, period.Year, period.From, period.Until, r.Log.EntriesInPeriod)
				if r.Log.FirstIndex != nil {
					fmt.Fprintf(w, " in index range [%d, %d]", *r.Log.FirstIndex, *r.Log.LastIndex)
				}
				fmt.Fprintf(w, "\nbound to %s\n", r.Log)
				if r.Rules != nil {
					fmt.Fprintf(w, "rules (config %s, as of %s): %d violations in the period\n", r.Rules.Config, r.Rules.AsOf, len(r.Rules.Violations))
					if at, err := time.Parse(time.RFC3339, r.Rules.AsOf); err == nil && time.Now().Before(at) {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: deadlines are judged as of %s, which has not come yet: entries that close them may still be logged\n", r.Rules.AsOf)
					}
				}
				for _, f := range files {
					fmt.Fprintf(w, "wrote %s\n", f)
				}
			}
			if r.Log.AdmissionFailures > 0 {
				return failed(fmt.Errorf("%d leaves of the log fail admission and are left out of the report; run acdledger audit to see them", r.Log.AdmissionFailures))
			}
			return nil
		},
	}
	pins.add(cmd, true)
	rules.add(cmd, true)
	render.add(cmd)
	f := cmd.Flags()
	f.StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.IntVar(&year, "year", 0, "the fiscal year (its first calendar year: 2026 is April 2026 to March 2027)")
	f.BoolVar(&calendar, "calendar", false, "report the calendar year (January to December) instead of the fiscal year")
	f.DurationVar(&grace, "deadline-grace", 0, "judge deadlines as of the period's end plus this (default: the rules' max_record_lag)")
	f.StringVar(&out, "out", "", "directory to write report.json, report.md and report.html into")
	f.BoolVar(&asJSON, "json", false, "print what was computed and written as JSON")
	resume.add(cmd)
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("year")
	cmd.MarkFlagRequired("out")
	return cmd
}

// annualResult is report annual's --json output: the binding and the
// files written (the figures themselves are in report.json).
type annualResult struct {
	Period     report.Period     `json:"period"`
	Log        report.LogBinding `json:"log"`
	Violations *int              `json:"violations_in_period,omitempty"` // when rules ran
	Files      []string          `json:"files"`
}

func newReportVerify() *cobra.Command {
	var pins pinFlags
	var rules rulesFlags
	var logLoc string
	var asJSON bool
	var resume resumeFlags
	cmd := &cobra.Command{
		Use:   "verify --log DIR|URL --vkey FILE|--policy FILE --registry FILE REPORT.json",
		Short: "Recompute every figure of a report.json from the log",
		Long: `report verify trusts only the pinned keys and the log:

  1. the report's checkpoint must be signed by the pinned log key (and carry the
     policy's witness quorum) and agree with the report's origin, tree size and
     root hash;
  2. the log's current checkpoint must be that tree or provably extend it: a
     different tree of the same size (FORK), a smaller one (ROLLBACK) or a
     larger one whose consistency proof fails (INCONSISTENT) is a failure;
  3. the first tree_size leaves are replayed as audit does and every figure is
     recomputed with the report's period and parameters.

It exits 0 only if every figure matches, and otherwise 1, naming each differing
figure as table/row/column: report says X, log gives Y.

--resume STATE --members POLICY starts step 3 at a compliance statement's tree,
as report annual --resume does (same conditions).`,
		Example: `  acdledger report verify --log demo/log --vkey demo/log.vkey --registry demo/agencies/registry.json demo/report/report.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := readReport(args[0])
			if err != nil {
				return err
			}
			var opts report.VerifyOptions
			if rep.Rules == nil && rules.config != "" {
				return usage(fmt.Errorf("--rules-config: %s has no rules section to check", args[0]))
			}
			if rep.Rules != nil {
				if opts.Rules, opts.RulesConfig, err = rules.runner(); err != nil {
					return err
				}
				if opts.RulesConfig != rep.Rules.Config {
					return usage(fmt.Errorf("%s was made with rules config %s; pass the same file with --rules-config (given: %s)", args[0], rep.Rules.Config, opts.RulesConfig))
				}
			}
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			if resume.state != "" {
				// A checkpoint that does not verify is report.Verify's
				// to report; resuming needs it verified.
				if cp, cerr := tlog.VerifyCheckpoint([]byte(rep.Log.Checkpoint), p.Trust); cerr == nil {
					period, perr := report.NewPeriod(rep.Period.Basis, rep.Period.Year)
					if perr != nil {
						return usage(fmt.Errorf("%s: %w", args[0], perr))
					}
					pt, err := loadReportResume(cmd, p, logLoc, cp, &resume, rules.config, period)
					if err != nil {
						return err
					}
					opts.Resume, opts.ResumeEdge = pt.Resume, pt.Edge
					if opts.Rules != nil {
						opts.Rules = rulesRunner{pt.Engine}
					}
				}
			}
			bar := progress.Stderr("recomputing the report")
			opts.Progress = bar.Update
			res, err := report.Verify(cmd.Context(), p, src, rep, opts)
			bar.Finish()
			if err != nil {
				return classify(headline(fmt.Errorf("%s against %s: %w", args[0], src, err)))
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), res); err != nil {
					return err
				}
			} else {
				printReportVerify(cmd.OutOrStdout(), args[0], rep, res)
			}
			if !res.OK() {
				return failed(fmt.Errorf("%s does not match the log: %d figures differ", args[0], len(res.Mismatches)))
			}
			return nil
		},
	}
	pins.add(cmd, true)
	rules.add(cmd, false)
	cmd.Flags().StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	resume.add(cmd)
	cmd.MarkFlagRequired("log")
	return cmd
}

func (r *resumeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&r.state, "resume", "", "start at the tree size of this saved replay state (compliance sign --save-state), vouched for by a compliance statement")
	cmd.Flags().StringVar(&r.members, "members", "", `with --resume: the members policy file ("member <vkey>" lines, "quorum <k>") the statement must meet`)
	cmd.Flags().StringVar(&r.statement, "statement", "", "with --resume: the compliance statement (file or URL; default <log>/compliance/<size>.note)")
}

// loadReportResume reads --resume's saved state and the statement that
// vouches for it (signed by the members' quorum), and checks that a report
// of period over cp's tree may start there (report.Resumable).
func loadReportResume(cmd *cobra.Command, p *verifier.Pins, logLoc string, cp *tlog.Checkpoint, res *resumeFlags, rulesConfig string, period report.Period) (*compliance.Point, error) {
	if res.members == "" {
		return nil, usage(errors.New("--resume needs the members' policy (--members) the statement must meet"))
	}
	members, err := loadMembers(res.members, nil)
	if err != nil {
		return nil, usage(err)
	}
	cfg, err := loadRulesConfig(rulesConfig)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(res.state)
	if err != nil {
		return nil, usage(fmt.Errorf("--resume: %w", err))
	}
	saved, _, _, err := compliance.ParseState(data, cfg)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", res.state, err))
	}
	loc := res.statement
	if loc == "" {
		loc = statementPath(logLoc, saved.Size)
	}
	msg, err := readStatement(cmd.Context(), loc)
	if err != nil {
		return nil, usage(fmt.Errorf("--statement: %w", err))
	}
	st, _, err := compliance.Verify(msg, members)
	if errors.Is(err, compliance.ErrMalformed) {
		return nil, usage(fmt.Errorf("%s: %w", loc, err))
	}
	if err != nil {
		return nil, failed(fmt.Errorf("%s: %w", loc, err))
	}
	if err := report.Resumable(period, st.AsOf, st.AdmissionFailures); err != nil {
		return nil, usage(fmt.Errorf("--resume %s: %w", res.state, err))
	}
	pt, err := compliance.ResumeAt(p, data, st, cp, cfg, time.Time{})
	if err != nil {
		return nil, failed(fmt.Errorf("%s: %w", res.state, err))
	}
	return pt, nil
}

func printReportVerify(w io.Writer, file string, rep *report.Report, res *report.VerifyResult) {
	if !res.OK() {
		fmt.Fprintf(w, "%s: %d figures differ from the log:\n", file, len(res.Mismatches))
		for _, m := range res.Mismatches {
			fmt.Fprintf(w, "  %s\n", m)
		}
		return
	}
	growth := "the log is still at that checkpoint"
	if res.Grown {
		growth = fmt.Sprintf("the log has grown to %d and provably extends it", res.CurrentSize)
	}
	cells := 0
	for _, t := range rep.Tables {
		cells += len(t.Rows) * len(t.Columns)
	}
	fmt.Fprintf(w, "OK %s: all %d figures of %d tables recomputed from %s; %s\n", file, cells, len(rep.Tables), rep.Log, growth)
	if len(res.CheckedCosigners) > 0 {
		fmt.Fprintf(w, "cosignatures checked against the policy: %s\n", strings.Join(res.CheckedCosigners, ", "))
	}
	if len(res.UncheckedCosigners) > 0 {
		hint := "pin --policy to check them"
		if res.CosignersChecked {
			hint = "not witnesses of the pinned policy"
		}
		fmt.Fprintf(w, "note: the cosignatures of %s were not checked (%s)\n", strings.Join(res.UncheckedCosigners, ", "), hint)
	}
}

func newReportRender() *cobra.Command {
	var render renderFlags
	var out string
	cmd := &cobra.Command{
		Use:   "render --out DIR REPORT.json",
		Short: "Render report.md and report.html from a report.json (no log needed)",
		Long: `report render reads a report.json and writes report.md and report.html in
--lang into --out, e.g. an English edition beside the Japanese one. It checks the
file's structure only: run report verify to check its figures against the log.`,
		Example: `  acdledger report render --lang en --out demo/report/en demo/report/report.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro, err := render.options()
			if err != nil {
				return err
			}
			rep, err := readReport(args[0])
			if err != nil {
				return err
			}
			files, err := writeReport(out, rep, ro, false)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", f)
			}
			return nil
		},
	}
	render.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "directory to write report.md and report.html into")
	cmd.MarkFlagRequired("out")
	return cmd
}

// readReport reads and parses a report.json; any failure is the user's
// input error.
func readReport(path string) (*report.Report, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usage(err)
	}
	rep, err := report.Parse(raw)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", path, err))
	}
	return rep, nil
}
