package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/spf13/cobra"
)

type appendResult struct {
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id"`
	Kind    string `json:"kind"`
	Agency  string `json:"agency"`
	Seq     uint64 `json:"seq"`
	Receipt string `json:"receipt,omitempty"`
	// AlreadyLogged: the entry was in the log before this run (a re-run of
	// an interrupted batch); Index and Receipt are its original ones.
	AlreadyLogged bool `json:"already_logged,omitempty"`
}

func newAppend() *cobra.Command {
	var dir, server, receipts, key, registry string
	var unencrypted bool
	var asJSON, noWait bool
	var parallel int
	cmd := &cobra.Command{
		Use:   "append (--ledger DIR | --server URL) [--receipts DIR] ENVELOPE.json|ENVELOPES.jsonl|- ...",
		Short: "Admit signed entries into the log and write their receipts",
		Long: `append checks every envelope (specs/admission.md: size, envelope, schema, agency,
key, signature, kind allowed, seq = last + 1, no NAINAI, no ESSENTIAL_CONTENT,
unique id, refs to earlier entries) and appends them to the log, all or nothing:
if one is rejected, the command prints one line naming the entry, the field and
the rule, exits 1, and the log is unchanged.

Accepted entries are appended concurrently through Tessera and the command waits
until a signed checkpoint covers them. With --receipts, each entry's receipt is
written (atomically) as DIR/<entry id>.tlog-proof (C2SP tlog-proof with the
envelope in its extra line; check it with 'acdledger verify receipt').

Each entry is durable once acknowledged; a batch interrupted by a crash or a
full disk keeps the entries that got in. Running the same command again
resumes it: entries already in the log (same id and payload: a retry is
recognised by content) are skipped and get their original receipt
("already_logged" in --json), the rest are appended, every receipt is written.
Resume from the signed envelopes: --key seals again, and a re-sealed entry is a
new payload under a used id (refused). If the entries are in the log but some
receipts cannot be written, append exits 3 naming them and the 'acdledger
receipt' command that fetches them. Opening the ledger checks the log against
its checkpoint first (exit 1 naming a corrupt file; see 'acdledger fsck').

With --key, the inputs are unsigned entries, signed with that agency key first
(and sealed first if their sealed values are in clear, to the recipients of
--registry, by default the ledger's own registry; see 'acdledger sign').

With --server, the envelopes are posted to a running 'acdledger serve' instead,
--parallel at a time in input order (which must be an admissible order: each
agency's seqs ascending, refs to earlier lines), each request retried on network
errors and 503s (safe: a retry of an entry already in the log gets its original
receipt, never a second leaf). There is no all-or-nothing batch over HTTP:
entries before a refused one stay appended. A server that does not answer at
all is retried a few times (about 4 s, each retry shown on a terminal), then
append exits 2 naming the URL and the cause. Running the same command again is
safe and resumes the batch (the server answers an entry already in the log
with its original receipt). With --no-wait, append returns
once each entry is durably sequenced (while the witness quorum is down, for
instance); running it again later with --receipts fetches the receipts.`,
		Example: `  acdledger append --ledger ledger --receipts receipts entries.dsse.jsonl
  acdledger append --ledger ledger --key keys/nco.key entry.json
  acdledger append --server http://127.0.0.1:8080 --receipts receipts entries.dsse.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := readItems(args)
			if err != nil {
				return usage(err)
			}
			if key != "" {
				if registry == "" && dir != "" {
					registry = filepath.Join(dir, "registry.json")
				}
				reg, err := loadRegistryIfGiven(registry)
				if err != nil {
					return err
				}
				if err := sealAndSign(items, key, reg); err != nil {
					return err
				}
			}
			if receipts != "" {
				if err := os.MkdirAll(receipts, 0o755); err != nil {
					return usage(err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var results []appendResult
			bar := progress.Stderr("appending entries")
			defer bar.Finish()
			switch {
			case (dir == "") == (server == ""):
				return usage(errors.New("give exactly one of --ledger and --server"))
			case noWait && server == "":
				return usage(errors.New("--no-wait goes with --server (a local append always waits for its checkpoint)"))
			case server != "":
				if results, err = appendRemote(ctx, server, items, receipts, parallel, !noWait, bar); err != nil {
					return err
				}
			default:
				l, err := ledger.Open(ctx, dir, ledger.Options{KeyPassphrase: keyPassphrase, UnencryptedKey: unencrypted})
				if errors.Is(err, ledger.ErrCorrupt) {
					return failed(err) // a check failed: exit 1, naming the file
				}
				if err != nil {
					return usage(err)
				}
				results, err = appendAll(ctx, l, items, receipts, bar)
				// Close publishes a checkpoint covering everything admitted,
				// even when waiting for a receipt failed.
				if cerr := l.Close(context.Background()); err == nil && cerr != nil {
					err = failed(cerr)
				}
				if err != nil {
					return err
				}
			}
			bar.Finish()
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, results)
			}
			for _, r := range results {
				verb := "appended"
				if r.AlreadyLogged {
					verb = "already logged" // a re-run: skipped, its original receipt
				}
				fmt.Fprintf(out, "%s index %d  %s  %s  %s seq %d", verb, r.Index, r.EntryID, r.Kind, r.Agency, r.Seq)
				if r.Receipt != "" {
					fmt.Fprintf(out, "  receipt %s", r.Receipt)
				}
				fmt.Fprintln(out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	addUnencryptedFlag(cmd, &unencrypted, "with --ledger: use a log.key that is not encrypted with a passphrase (refused otherwise)")
	f.StringVar(&dir, "ledger", "", "ledger directory (from init), appended to in this process")
	f.StringVar(&server, "server", "", "URL of an 'acdledger serve' to post to instead")
	f.StringVar(&receipts, "receipts", "", "write each entry's receipt into this directory")
	f.StringVar(&key, "key", "", "sign the inputs with this agency key first (inputs are unsigned entries)")
	f.StringVar(&registry, "registry", "", "with --key: the registry whose recipients sealed values are sealed to (default with --ledger: DIR/registry.json)")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.IntVar(&parallel, "parallel", 256, "with --server: requests in flight at once")
	f.BoolVar(&noWait, "no-wait", false, "with --server: return once each entry is durably sequenced (its index), without waiting for a published checkpoint and its receipt; append the same envelopes again later for the receipts")
	return cmd
}

// appendAll appends a batch, resuming one that was interrupted: entries
// already in the log (same id, same payload — ledger.Existing recognises a
// retry by content) are skipped and get their original receipt, the rest
// are admitted together, all or nothing, and handed to Tessera in order.
// Each receipt is waited for with a bounded pool of goroutines, so Tessera
// sequences and publishes them in a few large batches, not one by one.
// The bar counts the entries done (already logged, or with their receipt):
// most of a large append is waiting for checkpoints to cover the entries.
func appendAll(ctx context.Context, l *ledger.Ledger, items []item, receipts string, bar *progress.Bar) ([]appendResult, error) {
	results := make([]appendResult, len(items))
	receiptErrs := make([]error, len(items))
	// Look every entry up first, in parallel (each is a read of its bundle
	// and a proof from the tiles, then an atomic receipt write).
	found := make([]bool, len(items))
	lookErrs := make([]error, len(items))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r, ok, err := l.Existing(ctx, it.raw)
			if err != nil {
				lookErrs[i] = fmt.Errorf("%s: looking it up in the log: %w", it.source, err)
				return
			}
			if !ok {
				return
			}
			e, err := receiptEntry(r.Proof)
			if err != nil {
				lookErrs[i] = fmt.Errorf("%s: %w", it.source, err)
				return
			}
			found[i] = true
			results[i] = appendResult{Index: r.Index, EntryID: e.ID, Kind: e.Kind, Agency: e.Agency, Seq: e.Seq, AlreadyLogged: true}
			receiptErrs[i] = saveReceipt(&results[i], receipts, r.Proof)
			bar.Add(1, uint64(len(items)))
		}()
	}
	wg.Wait()
	if err := errors.Join(lookErrs...); err != nil {
		return nil, failed(err)
	}
	var raws [][]byte
	var rest []int // positions of the items not in the log yet
	for i, it := range items {
		if !found[i] {
			raws, rest = append(raws, it.raw), append(rest, i)
		}
	}
	var pending []*ledger.Pending
	if len(raws) > 0 {
		var err error
		if pending, err = l.Append(ctx, raws...); err != nil {
			var be *specs.BatchError
			if errors.As(err, &be) {
				skipped := len(items) - len(raws)
				src := items[rest[be.Position]].source
				return nil, failed(&sourcedError{source: src, err: be.Err, text: fmt.Sprintf("rejected %s: %v; nothing was appended%s", src, be.Err, resumedNote(skipped))})
			}
			return nil, failed(err)
		}
	}
	errs := make([]error, len(items))
	sem = make(chan struct{}, 256)
	for k, p := range pending {
		i := rest[k]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e := p.Admitted.Entry
			results[i] = appendResult{EntryID: e.ID, Kind: e.Kind, Agency: e.Agency, Seq: e.Seq}
			r, err := l.Receipt(ctx, p)
			if err != nil {
				errs[i] = &sourcedError{source: items[i].source, err: err, text: fmt.Sprintf("%s (entry %s): %v", items[i].source, e.ID, err)}
				return
			}
			results[i].Index = r.Index
			receiptErrs[i] = saveReceipt(&results[i], receipts, r.Proof)
			bar.Add(1, uint64(len(items)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results, failed(err)
	}
	return results, receiptsNotWritten(results, receiptErrs, receipts, "--ledger "+l.Dir())
}

// receiptEntry reads the entry in a receipt's extra line (the logged
// envelope, checked when it was admitted).
func receiptEntry(proof []byte) (*specs.Entry, error) {
	tp, err := tlogproof.Parse(proof)
	if err != nil {
		return nil, err
	}
	env, err := specs.ReadEnvelope(tp.Extra)
	if err != nil {
		return nil, err
	}
	return specs.ParseEntry(env.Payload)
}

func resumedNote(skipped int) string {
	if skipped == 0 {
		return ""
	}
	return fmt.Sprintf(" (the %d entries before were already in the log)", skipped)
}

// receiptsNotWritten reports receipts that could not be written (a full
// disk, say) for entries that are in the log all the same: a distinct exit
// code, the ids, and how to get the receipts.
func receiptsNotWritten(results []appendResult, errs []error, receipts, from string) error {
	var ids []string
	var first error
	for i, err := range errs {
		if err != nil {
			ids = append(ids, results[i].EntryID)
			if first == nil {
				first = err
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return &exitError{exitReceipts, fmt.Errorf("all %d entries are in the log, but %d receipt(s) could not be written to %s (%v); "+
		"once there is room, run the same append again (it skips what is logged and writes every receipt) or fetch them with "+
		"'acdledger receipt %s --out %s %s'", len(results), len(ids), receipts, first, from, receipts, strings.Join(ids, " "))}
}

// saveReceipt writes a receipt as DIR/<entry id>.tlog-proof when a receipts
// directory was asked for.
func saveReceipt(r *appendResult, dir string, proof []byte) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, r.EntryID+".tlog-proof")
	// Atomically: an append killed mid-write leaves no half receipt.
	if err := atomicfile.Write(path, proof, 0o644); err != nil {
		return err
	}
	r.Receipt = path
	return nil
}
