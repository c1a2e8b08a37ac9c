// Command acdledger is the one CLI of the ledger: agencies make keys, sign
// and append entries; the operator initialises and runs the log; auditors
// verify receipts, consistency and the whole log. Commands are thin: they
// parse flags and call ledger/ (writing side) or verifier/ (auditors' side).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/acdledger/acdledger/verifier"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
)

// Exit codes, the same for every command.
const (
	exitOK     = 0
	exitFailed = 1 // a verification failed, or an entry was rejected
	exitUsage  = 2 // bad flags, unreadable or malformed input, a server that cannot be reached
	// exitReceipts: append put every entry in the log but could not write
	// some receipts (a full disk): nothing to append again, only receipts
	// to fetch (acdledger receipt, or the same append once there is room).
	exitReceipts = 3
)

// exitError carries the exit code a command wants.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func failed(err error) error { return &exitError{exitFailed, err} }
func usage(err error) error  { return &exitError{exitUsage, err} }

// classify maps verifier errors: malformed input is a usage error, anything
// else that went wrong in a check is a failed verification.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, verifier.ErrInput) {
		return usage(err)
	}
	return failed(err)
}

func main() {
	root := newRoot()
	cmd, err := root.ExecuteC()
	if err == nil {
		os.Exit(exitOK)
	}
	fmt.Fprintln(os.Stderr, "acdledger:", err)
	os.Exit(reportFailure(cmd, err))
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "acdledger",
		Short: "A verifiable audit ledger for Active Cyber Defense oversight",
		Long: `acdledger records every acquisition, selection, deletion, provision, approval and
access/neutralization measure under Japan's Active Cyber Defense laws as an
agency-signed entry in a Merkle-tree transparency log (C2SP tlog-tiles), so that
the oversight commission (サイバー通信情報監理委員会) can verify the record
independently of the agencies and of the log operator.

Agencies:   keygen → sign → append (or append --key; append --server over HTTP)
Operator:   init → serve (or publish the log/ directory with any static file server)
Witnesses:  witness keygen → witness serve (commission members cosign checkpoints)
Auditors:   verify receipt | verify consistency | audit | watch (pin --vkey, or --policy for witnesses)
Anyone:     receipt (fetch a logged entry's receipt) | fsck (check every file of a log)
Commission: keygen --member → open (sealed fields) → disclose → verify disclosure (anyone)
Commission: report annual → report.json/.md/.html; anyone: report verify

Exit codes: 0 ok, 1 verification failed or entry rejected, 2 usage or input error
(or a server that cannot be reached).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var verbose bool
	root.PersistentFlags().BoolVar(&verbose, "verbose", false, "also print Tessera's internal log lines on stderr")
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if !verbose {
			// Tessera logs through klog; its progress lines would bury the
			// one line a rejection or a failed check prints.
			klog.LogToStderr(false)
			klog.SetOutput(io.Discard)
		}
	}
	root.AddCommand(newInit(), newKeygen(), newSign(), newAppend(), newServe(), withVerifyCompliance(newVerify()), newAudit(), newWatch(), newReport(), newOpen(), newDisclose(), newWitness(), newMigrate(), newDemo(), newBundle(), newKey(), newCompliance(), newReceipt(), newFsck(), newRegistry())
	return root
}

// printJSON writes v as indented JSON: a command's result, so a failure
// after it prints no second JSON document (errjson.go).
func printJSON(w io.Writer, v any) error {
	resultPrinted = true
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
