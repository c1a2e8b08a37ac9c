package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

type receiptResult struct {
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id"`
	Size    uint64 `json:"checkpoint_size"`
	Receipt string `json:"receipt,omitempty"` // the file written
	Proof   string `json:"proof,omitempty"`   // with --json and no --out: the tlog-proof text
}

// errFound stops a replay once every asked-for id is found.
var errFound = errors.New("found")

func newReceipt() *cobra.Command {
	var lf logFlags
	var out string
	var indexes []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "receipt (--ledger DIR | --log DIR|URL --vkey FILE|--policy FILE) [--out DIR] (ENTRY-ID... | --index N...)",
		Short: "Fetch the receipt of any logged entry, by entry id or log index",
		Long: `receipt builds the receipt of entries already in the log — the same C2SP
tlog-proof 'append --receipts' writes, with the envelope in its extra line —
from the log's published checkpoint and tiles, and checks it before handing it
out. Use it for entries whose receipt was lost, or never written (an append
killed or out of disk space after the entries were acknowledged).

Entries are named by id (the log is read through until every id is found, and
the whole tree read is checked against the checkpoint) or by --index. With
--out DIR, each receipt is written as DIR/<entry id>.tlog-proof and one line
per entry is printed; without it, a single receipt goes to stdout as is (with
--json, every receipt is in the JSON). An id not in the log exits 1 naming it.
It reads the log as an auditor does and takes no lock: it runs beside a live
'serve'.`,
		Example: `  acdledger receipt --ledger ledger --out receipts 01KN28E0MBV7ZSMM0CBKYGH8VP
  acdledger receipt --log http://127.0.0.1:8080 --vkey ledger/log.vkey --index 0 > first.tlog-proof
  acdledger receipt --ledger ledger --json --index 0 --index 1`,
		RunE: func(cmd *cobra.Command, ids []string) error {
			if len(ids) == 0 && len(indexes) == 0 {
				return usage(errors.New("name at least one entry id or --index"))
			}
			if out == "" && !asJSON && len(ids)+len(indexes) > 1 {
				return usage(errors.New("several receipts need --out DIR or --json"))
			}
			pins, src, err := lf.open()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cp, err := src.Checkpoint(ctx, pins.Trust)
			if err != nil {
				return failed(err)
			}
			var want []uint64
			for _, s := range indexes {
				n, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return usage(fmt.Errorf("--index %q: not a log index", s))
				}
				if n >= cp.Size {
					return failed(fmt.Errorf("--index %d: the published checkpoint covers indexes 0 to %d", n, int64(cp.Size)-1))
				}
				want = append(want, n)
			}
			if len(ids) > 0 {
				found := map[string]uint64{}
				missing := map[string]bool{}
				for _, id := range ids {
					missing[id] = true
				}
				err := src.Replay(ctx, cp, tlog.ReplayOptions{}, func(index uint64, leaf []byte) error {
					h, err := specs.PeekHeader(leaf)
					if err == nil && missing[h.ID] {
						delete(missing, h.ID)
						found[h.ID] = index
						if len(missing) == 0 {
							return errFound
						}
					}
					return nil
				})
				if err != nil && !errors.Is(err, errFound) {
					return failed(err)
				}
				for _, id := range ids {
					if missing[id] {
						return failed(fmt.Errorf("entry %s is not in the log (checkpoint size %d)", id, cp.Size))
					}
					want = append(want, found[id])
				}
			}
			if out != "" {
				if err := os.MkdirAll(out, 0o755); err != nil {
					return usage(err)
				}
			}
			var results []receiptResult
			for _, idx := range want {
				leaf, err := src.Leaf(ctx, idx, cp)
				if err != nil {
					return failed(err)
				}
				hashes, err := src.InclusionProof(ctx, idx, cp)
				if err != nil {
					return failed(err)
				}
				if err := tlog.VerifyInclusion(leaf, idx, hashes, cp); err != nil {
					return failed(fmt.Errorf("index %d: %w", idx, err))
				}
				h, err := specs.PeekHeader(leaf)
				if err != nil {
					return failed(fmt.Errorf("index %d: %w", idx, err))
				}
				proof := (&tlogproof.Proof{Extra: leaf, Index: idx, Hashes: hashes, Checkpoint: cp.Raw}).Marshal()
				r := receiptResult{Index: idx, EntryID: h.ID, Size: cp.Size}
				switch {
				case out != "":
					r.Receipt = filepath.Join(out, h.ID+".tlog-proof")
					if err := os.WriteFile(r.Receipt, proof, 0o644); err != nil {
						return err
					}
				case asJSON:
					r.Proof = string(proof)
				default:
					_, err := cmd.OutOrStdout().Write(proof)
					return err
				}
				results = append(results, r)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), results)
			}
			for _, r := range results {
				fmt.Fprintf(cmd.OutOrStdout(), "receipt index %d  %s  %s\n", r.Index, r.EntryID, r.Receipt)
			}
			return nil
		},
	}
	lf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write each receipt as DIR/<entry id>.tlog-proof")
	f.StringArrayVar(&indexes, "index", nil, "an entry's log index instead of its id (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON (with the receipts' text unless --out)")
	return cmd
}
