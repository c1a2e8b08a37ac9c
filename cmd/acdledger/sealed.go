package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/sealed"
	"github.com/spf13/cobra"
)

// openedEntry is one entry found in the log, proven, and opened.
type openedEntry struct {
	index uint64
	proof []byte
	entry *specs.Entry
	box   *specs.Box
}

// openFlags are what a commission member gives to open an entry.
type openFlags struct {
	pins        pinFlags
	logLoc      string
	identity    string
	unencrypted bool
}

func (o *openFlags) add(cmd *cobra.Command) {
	o.pins.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&o.logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.StringVar(&o.identity, "identity", "", "the member's age identity file (from keygen --member)")
	addUnencryptedFlag(cmd, &o.unencrypted, "use an age identity file that is not encrypted with a passphrase (refused otherwise)")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("identity")
}

// open finds the entry (INDEX or ID) at the log's current checkpoint,
// proves it like a receipt, and opens its box. A box that breaks its
// commitments is reported as the agency's misconduct, with the index.
func (o *openFlags) open(ctx context.Context, ref string) (*openedEntry, error) {
	ids, err := loadIdentities(o.identity, o.unencrypted)
	if err != nil {
		return nil, usage(err)
	}
	pins, src, err := o.pins.loadWithLog(o.logLoc)
	if err != nil {
		return nil, err
	}
	if err := replayTrust(ctx, pins, src); err != nil {
		return nil, err
	}
	cp, err := src.Checkpoint(ctx, pins.Trust)
	if err != nil {
		return nil, failed(err)
	}
	index, err := strconv.ParseUint(ref, 10, 64)
	if err != nil {
		if index, err = verifier.FindEntry(ctx, src, cp, ref); err != nil {
			return nil, failed(err)
		}
	}
	if index >= cp.Size {
		return nil, usage(fmt.Errorf("index %d: the log has %d entries", index, cp.Size))
	}
	proof, a, err := pins.EntryProof(ctx, src, cp, index)
	if err != nil {
		return nil, failed(err)
	}
	box, err := sealed.Open(a.Entry, ids...)
	var v *specs.Violation
	switch {
	case errors.Is(err, sealed.ErrNotSealed):
		// box stays nil: nothing is sealed, so there is nothing to open.
	case errors.As(err, &v):
		return nil, failed(fmt.Errorf("MISCONDUCT by agency %s: the entry at index %d does not open to what it commits to: %w", a.Entry.Agency, index, err))
	case err != nil:
		return nil, failed(fmt.Errorf("index %d: %w", index, err))
	}
	return &openedEntry{index: index, proof: proof.Marshal(), entry: a.Entry, box: box}, nil
}

func newOpen() *cobra.Command {
	var o openFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "open --identity FILE --log DIR|URL --vkey FILE --registry FILE INDEX|ID",
		Short: "A commission member opens the sealed fields of one entry",
		Long: `open finds one entry of the log (by leaf index, or by entry id, which reads the
log from the start), proves it is in the log at the current checkpoint like a
receipt, decrypts its sealed box with the member's age identity and checks every
value against the salted commitment the agency signed (specs/sealed.md).

A box that does not decrypt with a key it is sealed to, holds another entry's
id, or holds values that do not match the commitments is the agency's
misconduct: open names the entry, its index and the field, and exits 1. An
identity the entry is not sealed to also exits 1, naming who it is sealed to.`,
		Example: `  acdledger open --identity keys/member-1.age --log demo/log --vkey demo/log.vkey \
      --registry demo/agencies/registry.json 42`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := o.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fields := map[string]json.RawMessage{}
			if op.box != nil {
				for name, f := range op.box.Fields {
					fields[name] = f.Value
				}
			}
			if asJSON {
				return printJSON(out, map[string]any{"index": op.index, "entry_id": op.entry.ID, "kind": op.entry.Kind, "agency": op.entry.Agency, "fields": fields, "commitments_verified": true})
			}
			fmt.Fprintf(out, "entry %s (%s, %s seq %d) at index %d: %d sealed fields, every commitment verified\n",
				op.entry.ID, op.entry.Kind, op.entry.Agency, op.entry.Seq, op.index, len(fields))
			for _, name := range sortedMapKeys(fields) {
				fmt.Fprintf(out, "  %s: %s\n", name, fields[name])
			}
			return nil
		},
	}
	o.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the fields as JSON")
	return cmd
}

func newDisclose() *cobra.Command {
	var o openFlags
	var field, out string
	cmd := &cobra.Command{
		Use:   "disclose --identity FILE --log DIR|URL --vkey FILE --registry FILE --field NAME INDEX|ID",
		Short: "Make a disclosure file proving one sealed field of one entry, for anyone to check",
		Long: `disclose opens one entry (as 'acdledger open' does) and writes a disclosure file
(specs/sealed.md): the one field's value and salt, the entry's index and id, and
the entry's receipt (C2SP tlog-proof with the envelope). Anyone holding the
log's public key and the registry can check it with 'acdledger verify
disclosure', without any commission key; nothing else of the entry's sealed
part is revealed. This is how the commission shows one fact to the Diet or a
court without opening the rest.`,
		Example: `  acdledger disclose --identity keys/member-1.age --log demo/log --vkey demo/log.vkey \
      --registry demo/agencies/registry.json --field target_address --out target.disclosure.json 42`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := o.open(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var f *specs.BoxField
			if op.box != nil {
				f = op.box.Fields[field]
			}
			if f == nil {
				return usage(fmt.Errorf("entry %s at index %d seals no field %q", op.entry.ID, op.index, field))
			}
			d := &specs.Disclosure{Version: specs.DisclosureVersion, Index: op.index, EntryID: op.entry.ID,
				Field: field, Value: f.Value, Salt: f.Salt, Proof: string(op.proof)}
			data, err := d.Marshal()
			if err != nil {
				return failed(err)
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := atomicfile.Write(out, data, 0o644); err != nil {
				return usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s of entry %s at index %d\n", out, field, op.entry.ID, op.index)
			return nil
		},
	}
	o.add(cmd)
	cmd.Flags().StringVar(&field, "field", "", "the sealed field to disclose, e.g. target_address")
	cmd.Flags().StringVar(&out, "out", "", "file to write (default: standard output)")
	cmd.MarkFlagRequired("field")
	return cmd
}

func newVerifyDisclosure() *cobra.Command {
	var pins pinFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "disclosure --vkey FILE --registry FILE DISCLOSURE.json ...",
		Short: "Verify disclosure files offline, with no commission key",
		Long: `verify disclosure checks, for each disclosure file (specs/sealed.md):
  1. its receipt, as 'verify receipt' does: checkpoint signature, inclusion of the
     entry's envelope, agency signature and stateless admission rules;
  2. the receipt is for the index and entry id the disclosure names;
  3. the value and salt hash to the commitment the agency signed for the field.`,
		Example: `  acdledger verify disclosure --vkey demo/log.vkey --registry demo/agencies/registry.json target.disclosure.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := pins.loadOffline(cmd.Context())
			if err != nil {
				return err
			}
			return verifyFiles(cmd, args, asJSON, p.VerifyDisclosure, func(f string, r *verifier.DisclosureResult) string {
				return fmt.Sprintf("OK %s: %s of entry %s (%s, %s) at index %d of %s tree %d%s is %s",
					f, r.Field, r.EntryID, r.Kind, r.Agency, r.Index, r.Origin, r.Size, cosigned(r.Cosigners), r.Value)
			})
		},
	}
	pins.add(cmd, true)
	pins.addTrustLog(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print results as JSON")
	return cmd
}
