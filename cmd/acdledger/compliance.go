package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func newCompliance() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "Compliance statements: a committee member signs what a replay of the log found",
		Long: `A compliance statement (specs/compliance.md) is a committee member's signed note
saying: replayed to this checkpoint (origin, tree size, root) with these rules
(ids and versions) and this configuration (its digest), as of this time, the log
has this many violations and admission failures, and the replay ended in this
state (a digest of the admission and rules state). Members sign separately;
their signatures merge into one file, published beside the checkpoints as
compliance/<tree size>.note in the log directory.`,
	}
	cmd.AddCommand(newComplianceKeygen(), newComplianceSign(), newComplianceVerify(), newCompliancePublish())
	return cmd
}

func newComplianceKeygen() *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "keygen --name NAME --out BASE",
		Short: "Make a member's compliance signing key (BASE.skey, mode 0600) and verifier key (BASE.vkey)",
		Long: `keygen makes an Ed25519 signed-note key pair for compliance statements. NAME is
the key name on the signature line (e.g. commission.example/member-1). Keep this
key apart from any witness key: a compliance statement is not a cosignature.`,
		Example: `  acdledger compliance keygen --name commission.example/member-1 --out keys/member-1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, vkey, err := note.GenerateKey(rand.Reader, name)
			if err != nil {
				return usage(fmt.Errorf("--name: %w", err))
			}
			if err := atomicfile.WriteNew(out+".skey", []byte(skey+"\n"), 0o600); err != nil {
				return usage(err)
			}
			if err := atomicfile.WriteNew(out+".vkey", []byte(vkey+"\n"), 0o644); err != nil {
				return usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.skey and %s.vkey\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the key name (a schema-less URL naming the member)")
	cmd.Flags().StringVar(&out, "out", "", "base path of the key files")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newComplianceSign() *cobra.Command {
	var pins pinFlags
	var logLoc, key, rulesConfig, out, asOf, saveState string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sign --log DIR|URL --vkey FILE|--policy FILE --registry FILE --key MEMBER.skey --out FILE",
		Short: "Replay the log to its current checkpoint with the rules and sign the compliance statement",
		Long: `sign replays the log at its current checkpoint as audit does (tree, signatures,
admission, the compliance rules with --rules-config or the defaults), judges
deadlines as of --as-of (default: the checkpoint's newest witness cosignature),
and signs the statement of what it found with the member's key.

If --out exists and holds the same statement signed by other members, this
member's signature is added to it; a different statement is an error. Publish
the file as compliance/<tree size>.note in the log directory (compliance publish).

With --save-state FILE it also writes the state the replay ended in
(specs/compliance.md, "Saved state"): once the members' quorum has signed the
statement, audit --resume FILE starts there instead of replaying from 0.`,
		Example: `  acdledger compliance sign --log ledger/log --policy policy --registry registry.json \
      --key keys/member-1.skey --out ledger/log/compliance/1234.note --save-state 1234.state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, err := os.ReadFile(key)
			if err != nil {
				return usage(fmt.Errorf("--key: %w", err))
			}
			signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
			if err != nil {
				return usage(errors.New("--key: not a signed-note signing key (make one with acdledger compliance keygen)"))
			}
			cfg, err := loadRulesConfig(rulesConfig)
			if err != nil {
				return usage(err)
			}
			opts := compliance.Options{Config: cfg}
			if asOf != "" {
				if opts.AsOf, err = time.Parse(time.RFC3339, asOf); err != nil {
					return usage(fmt.Errorf("--as-of: %q is not an RFC 3339 time", asOf))
				}
			}
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			cp, err := src.Checkpoint(cmd.Context(), p.Trust)
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			bar := progress.Stderr("replaying the log")
			opts.Progress = bar.Update
			st, saved, err := compliance.MakeWithState(cmd.Context(), p, src, cp, opts)
			bar.Finish()
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			if saveState != "" {
				if err := atomicfile.Write(saveState, saved.Marshal(), 0o644); err != nil {
					return usage(fmt.Errorf("--save-state: %w", err))
				}
			}
			msg, err := compliance.Sign(st, signer)
			if err != nil {
				return err
			}
			if old, err := os.ReadFile(out); err == nil {
				if msg, err = compliance.Merge(old, msg); err != nil {
					return failed(fmt.Errorf("%s: %w", out, err))
				}
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return usage(err)
			}
			if err := atomicfile.Write(out, msg, 0o644); err != nil {
				return usage(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, struct {
					Statement *compliance.Statement `json:"statement"`
					File      string                `json:"file"`
				}{st, out})
			}
			fmt.Fprintf(w, "%s at tree size %d: %d violations, %d admission failures (rules %s, config %s, as of %s)\nwrote %s\n",
				st.Origin, st.Size, st.Violations, st.AdmissionFailures, st.Rules, st.Config, st.AsOf.Format(time.RFC3339), out)
			return nil
		},
	}
	pins.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.StringVar(&key, "key", "", "the member's compliance signing key (acdledger compliance keygen)")
	f.StringVar(&rulesConfig, "rules-config", "", "the compliance rules' configuration file (default: the engine's defaults)")
	f.StringVar(&asOf, "as-of", "", "judge deadlines as of this RFC 3339 time (default: the checkpoint's newest witness cosignature)")
	f.StringVar(&out, "out", "", "the statement file to write or add this member's signature to")
	f.StringVar(&saveState, "save-state", "", "also write the replay's end state here, to resume audits from (audit --resume)")
	f.BoolVar(&asJSON, "json", false, "print the statement as JSON")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("out")
	return cmd
}

// withVerifyCompliance adds "verify compliance", the same command as
// "compliance verify", beside the other auditor checks under verify.
func withVerifyCompliance(verify *cobra.Command) *cobra.Command {
	c := newComplianceVerify()
	c.Use = strings.Replace(c.Use, "verify", "compliance", 1)
	verify.AddCommand(c)
	return verify
}

func newComplianceVerify() *cobra.Command {
	var vkeys []string
	var policyFile, logLoc, rulesConfig string
	var logPins pinFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify FILE|URL (--vkey MEMBER.vkey ... | --policy MEMBERS)",
		Short: "Check a compliance statement's member signatures (a k-of-n quorum with --policy)",
		Long: `verify reads a compliance statement strictly and checks its signatures: with
--vkey (repeatable) every given member must have signed; with --policy, a file
of "member <vkey>" lines and one "quorum <k>" line, at least k of them.
The statement is a file or an http(s) URL: a log served by acdledger serve
publishes the statement about tree size N at <log URL>/compliance/<N>.note.

With --log (and the log's pins --log-vkey or --log-policy, and --registry), it
also replays the log to the statement's tree, as the member did (the log must be
that tree or provably extend it), and compares every line: rules, config
(--rules-config, default the engine's defaults), the counts and the state
digest. Exit 0 when the quorum is met (and the replay agrees), 1 when not,
2 for an unreadable file or bad keys.`,
		Example: `  acdledger compliance verify ledger/log/compliance/1234.note --policy members.txt --json
  acdledger verify compliance http://127.0.0.1:8080/compliance/1234.note --policy members.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadMembers(policyFile, vkeys)
			if err != nil {
				return usage(err)
			}
			msg, err := readStatement(cmd.Context(), args[0])
			if err != nil {
				return usage(err)
			}
			st, signers, err := compliance.Verify(msg, p)
			if errors.Is(err, compliance.ErrMalformed) {
				return usage(fmt.Errorf("%s: %w", args[0], err))
			}
			if err == nil && logLoc != "" {
				cfg, cerr := loadRulesConfig(rulesConfig)
				if cerr != nil {
					return usage(cerr)
				}
				lp, src, lerr := logPins.loadWithLog(logLoc)
				if lerr != nil {
					return lerr
				}
				bar := progress.Stderr("replaying the log")
				ms, rerr := compliance.Recheck(cmd.Context(), lp, src, st, compliance.Options{Config: cfg, Progress: bar.Update})
				bar.Finish()
				if rerr != nil {
					return classify(fmt.Errorf("log %s: %w", src, rerr))
				}
				if len(ms) > 0 {
					var lines []string
					for _, m := range ms {
						lines = append(lines, fmt.Sprintf("%s: statement says %s, replay gives %s", m.Field, m.Statement, m.Replay))
					}
					err = fmt.Errorf("the replay does not agree: %s", strings.Join(lines, "; "))
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				res := struct {
					OK        bool                  `json:"ok"`
					Statement *compliance.Statement `json:"statement"`
					Signers   []string              `json:"signers"`
					Quorum    int                   `json:"quorum"`
					Error     string                `json:"error,omitempty"`
				}{err == nil, st, signers, p.Quorum, ""}
				if res.Signers == nil {
					res.Signers = []string{}
				}
				if err != nil {
					res.Error = err.Error()
				}
				if perr := printJSON(w, res); perr != nil {
					return perr
				}
			}
			if err != nil {
				return failed(fmt.Errorf("%s: %w", args[0], err))
			}
			if !asJSON {
				fmt.Fprintf(w, "OK: %s at tree size %d: %d violations, %d admission failures, as of %s; signed by %s (%d needed)\n",
					st.Origin, st.Size, st.Violations, st.AdmissionFailures, st.AsOf.Format(time.RFC3339), strings.Join(signers, ", "), p.Quorum)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&vkeys, "vkey", nil, "a member's verifier key file (repeatable; all must have signed)")
	f.StringVar(&policyFile, "policy", "", `members policy file: "member <vkey>" lines and "quorum <k>"`)
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&logLoc, "log", "", "also replay this log (tlog-tiles directory or URL) and compare every line")
	f.StringVar(&logPins.vkey, "log-vkey", "", "with --log: the log's checkpoint verifier key file")
	f.StringVar(&logPins.policy, "log-policy", "", "with --log: the log's witness policy file (instead of --log-vkey)")
	f.StringVar(&logPins.origin, "log-origin", "", "with --log: the log's origin (default: the key's name)")
	f.StringVar(&logPins.registry, "registry", "", "with --log: the agency registry")
	f.StringVar(&rulesConfig, "rules-config", "", "with --log: the rules configuration the statement names (default: the engine's defaults)")
	return cmd
}
