package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/spf13/cobra"
)

type appendResult struct {
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id"`
	Kind    string `json:"kind"`
	Agency  string `json:"agency"`
	Seq     uint64 `json:"seq"`
	Receipt string `json:"receipt,omitempty"`
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
written as DIR/<entry id>.tlog-proof (C2SP tlog-proof with the envelope in its
extra line; check it with 'acdledger verify receipt').

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
append exits 2 naming the URL and the cause. With --no-wait, append returns
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
				fmt.Fprintf(out, "appended index %d  %s  %s  %s seq %d", r.Index, r.EntryID, r.Kind, r.Agency, r.Seq)
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

// appendAll admits the whole batch, then waits for every receipt with a
// bounded pool of goroutines, so Tessera can sequence and publish them in
// a few large batches instead of one by one.
// The bar counts the receipts obtained: most of a large append is waiting
// for checkpoints to cover the entries.
func appendAll(ctx context.Context, l *ledger.Ledger, items []item, receipts string, bar *progress.Bar) ([]appendResult, error) {
	raws := make([][]byte, len(items))
	for i, it := range items {
		raws[i] = it.raw
	}
	pending, err := l.Append(ctx, raws...)
	if err != nil {
		var be *specs.BatchError
		if errors.As(err, &be) {
			src := items[be.Position].source
			return nil, failed(&sourcedError{source: src, err: be.Err, text: fmt.Sprintf("rejected %s: %v; nothing was appended", src, be.Err)})
		}
		return nil, failed(err)
	}
	results := make([]appendResult, len(pending))
	errs := make([]error, len(pending))
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for i, p := range pending {
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
			errs[i] = saveReceipt(&results[i], receipts, r.Proof)
			bar.Add(1, uint64(len(pending)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results, failed(err)
	}
	return results, nil
}

// saveReceipt writes a receipt as DIR/<entry id>.tlog-proof when a receipts
// directory was asked for.
func saveReceipt(r *appendResult, dir string, proof []byte) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, r.EntryID+".tlog-proof")
	if err := os.WriteFile(path, proof, 0o644); err != nil {
		return err
	}
	r.Receipt = path
	return nil
}
