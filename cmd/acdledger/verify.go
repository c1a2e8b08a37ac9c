package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

// pinFlags are what every auditor command pins: the log's key (or a
// policy file naming it and the witness quorum), and the agency registry.
type pinFlags struct {
	vkey, origin, policy, registry, root string
	trustLog                             string // --log of the offline checks: where the registry is replayed from
}

// addTrustLog adds --log to an offline check: with --root-key the
// registry in force at the entry's index is replayed from that log.
func (p *pinFlags) addTrustLog(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.trustLog, "log", "", "with --root-key: the log (directory or URL) whose registry entries give the registry in force at each receipt's index")
}

// loadOffline loads the pins of an offline check; with --root-key it
// replays the trust history from --log first.
func (p *pinFlags) loadOffline(ctx context.Context) (*verifier.Pins, error) {
	if p.root == "" {
		if p.trustLog != "" {
			return nil, usage(errors.New("--log goes with --root-key"))
		}
		return p.load()
	}
	if p.trustLog == "" {
		return nil, usage(errors.New("--root-key needs --log: the registry in force at a receipt's index is replayed from the log (or give --registry for a log without a genesis)"))
	}
	pins, src, err := p.loadWithLog(p.trustLog)
	if err != nil {
		return nil, err
	}
	return pins, replayTrust(ctx, pins, src)
}

func (p *pinFlags) add(cmd *cobra.Command, needRegistry bool) {
	f := cmd.Flags()
	f.StringVar(&p.vkey, "vkey", "", "the log's checkpoint verifier key file (signed-note form, e.g. demo/log.vkey)")
	f.StringVar(&p.origin, "origin", "", "the log's origin (default: the verifier key's name)")
	f.StringVar(&p.policy, "policy", "", "instead of --vkey: a policy file pinning the log key and a witness quorum every checkpoint must carry (specs/witnesses.md)")
	cmd.MarkFlagsOneRequired("vkey", "policy")
	cmd.MarkFlagsMutuallyExclusive("vkey", "policy")
	if needRegistry {
		f.StringVar(&p.root, "root-key", "", "the commission root key fingerprint (hex, from keygen --commission or init): the registry is replayed from the log's genesis; with it, --registry is only a cross-check")
		f.StringVar(&p.registry, "registry", "", "the agency registry JSON: for a log without a genesis, what entries are checked against; with --root-key, compared with the log's")
		cmd.MarkFlagsOneRequired("registry", "root-key")
	}
}

// replayTrust replays the log's trust history (an audit without the
// compliance rules) so that each entry is checked against the registry in
// force at its index: what every command that reads entries of a log with
// a genesis needs first. Without --root-key it does nothing.
func replayTrust(ctx context.Context, pins *verifier.Pins, src *tlog.Source) error {
	return replayTrustAt(ctx, pins, src, nil)
}

// replayTrustAt is replayTrust at checkpoint cp (nil: the current one).
// A history already replayed (pins.History) is kept.
func replayTrustAt(ctx context.Context, pins *verifier.Pins, src *tlog.Source, cp *tlog.Checkpoint) error {
	if pins.Root == "" {
		return nil
	}
	if pins.History != nil {
		if pins.Registry == nil {
			pins.Registry = pins.History.Current()
		}
		return nil
	}
	r, err := pins.Audit(ctx, src, verifier.AuditOptions{Checkpoint: cp})
	if err != nil {
		return classify(fmt.Errorf("log %s: replaying the registry: %w", src, err))
	}
	if r.History == nil {
		msg := "the genesis does not verify"
		if len(r.Failures) > 0 {
			msg = r.Failures[0].Message
		}
		return failed(fmt.Errorf("log %s: no trust history: %s", src, msg))
	}
	pins.History = r.History
	if pins.Registry == nil {
		pins.Registry = r.History.Current()
	}
	return nil
}

// loadWithLog loads the pins and opens the log at a directory or URL.
func (p *pinFlags) loadWithLog(loc string) (*verifier.Pins, *tlog.Source, error) {
	pins, err := p.load()
	if err != nil {
		return nil, nil, err
	}
	src, err := tlog.Open(loc)
	if err != nil {
		return nil, nil, usage(err)
	}
	return pins, src, nil
}

func (p *pinFlags) load() (*verifier.Pins, error) {
	if p.policy != "" {
		pins, err := verifier.LoadPolicyPins(p.policy, p.registry)
		if err == nil {
			pins.Root = p.root
			if err = checkFingerprint(p.root); err != nil {
				return nil, usage(err)
			}
		}
		return pins, classify(err)
	}
	pins, err := verifier.LoadPins(p.vkey, p.origin, p.registry)
	if err == nil {
		pins.Root = p.root
		if err = checkFingerprint(p.root); err != nil {
			return nil, usage(err)
		}
	}
	return pins, classify(err)
}

func checkFingerprint(fp string) error {
	if fp == "" {
		return nil
	}
	if len(fp) != 64 || strings.Trim(fp, "0123456789abcdef") != "" {
		return fmt.Errorf("--root-key %q: want the root key's fingerprint, 64 lowercase hex digits (the SHA-256 of its DER public key, as keygen --commission prints it)", fp)
	}
	return nil
}

func newVerify() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify receipts and the log's consistency, trusting only pinned keys",
		Long: `The auditor's checks. Each trusts only what you pin: the log's checkpoint
verifier key (and origin) and, where entries are checked, the agency registry.

  verify receipt       offline: an entry's receipt (C2SP tlog-proof)
  verify consistency   the log's current checkpoint against the one you trusted last
  verify disclosure    offline: one sealed field disclosed by the commission

Exit codes: 0 verified, 1 verification failed, 2 usage or input error.`,
	}
	cmd.AddCommand(newVerifyReceipt(), newVerifyConsistency(), newVerifyDisclosure(), newVerifyEvidence())
	return cmd
}

func newVerifyReceipt() *cobra.Command {
	var pins pinFlags
	var entry string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "receipt --vkey FILE --registry FILE RECEIPT.tlog-proof ...",
		Short: "Verify receipts offline: checkpoint signature, inclusion proof, agency signature",
		Long: `verify receipt checks, for each receipt and without any network access:
  1. the checkpoint is signed by the pinned log key, with the pinned origin;
  2. the entry's envelope (the proof's extra line, or --entry) is included at the
     proof's index in that checkpoint's tree;
  3. the envelope is signed by a key the registry gives its agency, and passes
     every admission rule that needs no log state (specs/admission.md).
With --root-key (and --log), the registry in force at the receipt's index and
the witness policy in force at its tree size (the last policy.set entry below
it, named in the output) come from the log: the checkpoint must carry that
policy's quorum.`,
		Example: `  acdledger verify receipt --vkey demo/log.vkey --registry demo/registry.json demo/receipts/*.tlog-proof`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := pins.loadOffline(cmd.Context())
			if err != nil {
				return err
			}
			var env []byte
			if entry != "" {
				if len(args) != 1 {
					return usage(errors.New("--entry goes with exactly one receipt"))
				}
				if env, err = os.ReadFile(entry); err != nil {
					return usage(err)
				}
			}
			return verifyFiles(cmd, args, asJSON, func(data []byte) (*verifier.ReceiptResult, error) {
				return p.VerifyReceipt(data, env)
			}, func(f string, r *verifier.ReceiptResult) string {
				pol := ""
				if r.WitnessPolicy != nil {
					pol = fmt.Sprintf(", witness policy of registry entry %s", r.WitnessPolicy.EntryID)
				}
				return fmt.Sprintf("OK %s: entry %s (%s, %s seq %d) at index %d of %s tree %d%s%s",
					f, r.EntryID, r.Kind, r.Agency, r.Seq, r.Index, r.Origin, r.Size, cosigned(r.Cosigners), pol)
			})
		},
	}
	pins.add(cmd, true)
	pins.addTrustLog(cmd)
	cmd.Flags().StringVar(&entry, "entry", "", "the entry's envelope, for a receipt without an extra line")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print results as JSON")
	return cmd
}

// verifyFiles runs one offline check over each file: a malformed file stops
// with a usage error; failed checks are collected and reported together
// (exit 1); each success is one line, or all results are one JSON object.
func verifyFiles[R any](cmd *cobra.Command, files []string, asJSON bool, check func([]byte) (R, error), line func(file string, r R) string) error {
	var results []R
	var failures []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return usage(err)
		}
		r, err := check(data)
		if errors.Is(err, verifier.ErrInput) {
			return usage(fmt.Errorf("%s: %w", f, err))
		} else if err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", f, err))
			continue
		}
		results = append(results, r)
		if !asJSON {
			fmt.Fprintln(cmd.OutOrStdout(), line(f, r))
		}
	}
	if asJSON {
		if err := printJSON(cmd.OutOrStdout(), map[string]any{"verified": results, "failed": errStrings(failures)}); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return failed(errors.Join(failures...))
	}
	return nil
}

// headline puts the misbehaviour first, in capitals, where an operator
// scanning a log will see it.
func headline(err error) error {
	var fork *tlog.ForkError
	var rollback *tlog.RollbackError
	var inconsistent *tlog.InconsistentError
	switch {
	case errors.As(err, &fork):
		return fmt.Errorf("FORK (the log signed two different trees of one size): %w", err)
	case errors.As(err, &rollback):
		return fmt.Errorf("ROLLBACK (the log now shows fewer entries than it signed before): %w", err)
	case errors.As(err, &inconsistent):
		return fmt.Errorf("INCONSISTENT (the new tree does not extend the trusted one): %w", err)
	}
	return err
}

// cosigned renders the witnesses that cosigned a checkpoint, if any.
func cosigned(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ", cosigned by " + strings.Join(names, ", ")
}

func errStrings(errs []error) []string {
	out := []string{}
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

type consistencyOutput struct {
	Status      string   `json:"status"` // first-use | unchanged | consistent
	Log         string   `json:"log"`
	Origin      string   `json:"origin"`
	TrustedSize uint64   `json:"trusted_size"`
	Size        uint64   `json:"tree_size"`
	Root        string   `json:"root_hash"`
	Cosigners   []string `json:"cosigners,omitempty"`
	ProofHashes int      `json:"proof_hashes"`
	State       string   `json:"state"`
	Evidence    []string `json:"evidence,omitempty"`
	// Message is the incident (fork, rollback, inconsistent), if any.
	Message string `json:"message,omitempty"`
}

// incidentStatus names the incident an error of CheckConsistency is, or "".
func incidentStatus(err error) string {
	var fork *tlog.ForkError
	var rb *tlog.RollbackError
	var inc *tlog.InconsistentError
	switch {
	case errors.As(err, &fork):
		return "fork"
	case errors.As(err, &rb):
		return "rollback"
	case errors.As(err, &inc):
		return "inconsistent"
	}
	return ""
}

func newVerifyConsistency() *cobra.Command {
	var pins pinFlags
	var logLoc, state, evidence string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "consistency --log DIR|URL --vkey FILE --state FILE",
		Short: "Check the log's current checkpoint against the last one you trusted",
		Long: `verify consistency fetches the log's current checkpoint, verifies its signature
and origin, and compares it with the checkpoint in your state file:

  larger tree       a consistency proof (built from the log's tiles) must verify
  same size & root  unchanged
  same size, other root   FORK: the log has shown two different histories
  smaller tree      ROLLBACK: the log has gone back on what it signed

Only a verified result updates the state file. On a fork, rollback or failed
proof, both checkpoints (and the proof) are written to the --evidence directory
and the command exits 1. Without a state file, the current checkpoint is trusted
on first use and saved.`,
		Example: `  acdledger verify consistency --log demo/log --vkey demo/log.vkey --state auditor.state
  acdledger verify consistency --log https://log.example/acd --vkey log.vkey --state auditor.state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			trusted, err := tlog.LoadState(state, p.Trust)
			if err != nil {
				return failed(err)
			}
			res, err := src.CheckConsistency(cmd.Context(), p.Trust, trusted)
			if err != nil {
				err = headline(err)
				files, werr := tlog.WriteEvidence(evidence, err)
				switch {
				case werr != nil:
					err = fmt.Errorf("%w\nevidence NOT written: %v", err, werr)
				case len(files) > 0:
					err = fmt.Errorf("%w\nevidence written: %s", err, strings.Join(files, ", "))
				}
				if status := incidentStatus(err); asJSON && status != "" {
					out := consistencyOutput{Status: status, Log: src.String(), Origin: p.Trust.Verifier.Name(), State: state, Evidence: files, Message: err.Error()}
					if trusted != nil {
						out.Origin, out.TrustedSize = trusted.Origin, trusted.Size
					}
					printJSON(cmd.OutOrStdout(), out)
				}
				return failed(err)
			}
			if err := tlog.SaveState(state, res.Current); err != nil {
				return usage(err)
			}
			out := consistencyOutput{Log: src.String(), Origin: res.Current.Origin, Size: res.Current.Size,
				Root: base64.StdEncoding.EncodeToString(res.Current.Hash), Cosigners: res.Current.Cosigners, ProofHashes: len(res.Proof), State: state}
			switch {
			case res.FirstUse:
				out.Status = "first-use"
			case res.Grown:
				out.Status, out.TrustedSize = "consistent", res.Trusted.Size
			default:
				out.Status, out.TrustedSize = "unchanged", res.Trusted.Size
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			switch out.Status {
			case "first-use":
				fmt.Fprintf(w, "first use: trusting %s at size %d, root %s%s (saved to %s)\n", out.Origin, out.Size, out.Root, cosigned(out.Cosigners), state)
			case "consistent":
				fmt.Fprintf(w, "consistent: %s grew %d → %d (proof of %d hashes verified), root %s%s\n", out.Origin, out.TrustedSize, out.Size, out.ProofHashes, out.Root, cosigned(out.Cosigners))
			default:
				fmt.Fprintf(w, "unchanged: %s at size %d, root %s%s\n", out.Origin, out.Size, out.Root, cosigned(out.Cosigners))
			}
			return nil
		},
	}
	pins.add(cmd, false)
	f := cmd.Flags()
	f.StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.StringVar(&state, "state", "", "the auditor's state file (last trusted checkpoint)")
	f.StringVar(&evidence, "evidence", "evidence", "directory for the evidence package (specs/evidence.md) of a fork, rollback or failed proof; one file per incident, never overwritten")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("state")
	return cmd
}
