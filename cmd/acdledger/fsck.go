package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/acdledger/acdledger/internal/tilecheck"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

// logFlags name a log and how its checkpoint is pinned: a ledger directory
// (its log/ and log.vkey) or a log directory or URL with --vkey/--policy.
type logFlags struct {
	dir, log string
	pins     pinFlags
}

func (f *logFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "ledger", "", "a ledger directory (from init): its log/ directory, pinned by its log.vkey")
	fl.StringVar(&f.log, "log", "", "a published log: a directory or an http(s):// URL (with --vkey or --policy)")
	fl.StringVar(&f.pins.vkey, "vkey", "", "the log's checkpoint verifier key file (default with --ledger: DIR/log.vkey)")
	fl.StringVar(&f.pins.policy, "policy", "", "instead of --vkey: a policy file; the checkpoint must carry its witness quorum")
	fl.StringVar(&f.pins.origin, "origin", "", "the log's origin (default: the verifier key's name)")
	cmd.MarkFlagsMutuallyExclusive("ledger", "log")
	cmd.MarkFlagsMutuallyExclusive("vkey", "policy")
}

func (f *logFlags) open() (*verifier.Pins, *tlog.Source, error) {
	loc := f.log
	switch {
	case f.dir == "" && f.log == "":
		return nil, nil, usage(errors.New("give --ledger DIR or --log DIR|URL"))
	case f.dir != "":
		loc = filepath.Join(f.dir, ledger.LogDir)
		if f.pins.vkey == "" && f.pins.policy == "" {
			f.pins.vkey = filepath.Join(f.dir, ledger.VerifierFile)
		}
	case f.pins.vkey == "" && f.pins.policy == "":
		return nil, nil, usage(errors.New("--log needs --vkey or --policy"))
	}
	return f.pins.loadWithLog(loc)
}

type fsckBad struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

type fsckResult struct {
	Log  string    `json:"log"`
	OK   bool      `json:"ok"`
	Size uint64    `json:"size"`
	Root string    `json:"root,omitempty"`
	Bad  []fsckBad `json:"bad"`
}

func newFsck() *cobra.Command {
	var lf logFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fsck (--ledger DIR | --log DIR|URL --vkey FILE|--policy FILE)",
		Short: "Check every file of a log against its signed checkpoint, naming every bad one",
		Long: `fsck checks a whole tlog-tiles log against its checkpoint: the checkpoint's
signature (and with --policy its witness quorum); the right edge of the tree
against the checkpoint's root; every full hash tile against the entry its
parent tile holds for it; every entry bundle's leaf hashes against its level-0
tile. Checking top-down blames the file that holds a flipped byte, not the
files checked against it; every bad file is printed as one line, its path and
why, and fsck exits 1. A log that passes prints one line and exits 0.

'serve' makes the same check of every file before it serves it, and opening a
ledger (append, serve) makes it for the right edge, the last full tile of each
level and the last two entry bundles; fsck is the full one, for cron or after
a disk fault. It reads the log as an auditor does and takes no lock, so it
runs beside a live 'serve'.`,
		Example: `  acdledger fsck --ledger ledger
  acdledger fsck --log https://log.example/acd --vkey log.vkey --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pins, src, err := lf.open()
			if err != nil {
				return err
			}
			res := fsckResult{Log: src.String(), Bad: []fsckBad{}}
			report := func() error {
				out := cmd.OutOrStdout()
				if asJSON {
					if err := printJSON(out, res); err != nil {
						return err
					}
				} else if res.OK {
					fmt.Fprintf(out, "ok: %s, size %d, root %s: every tile and entry bundle matches the checkpoint\n", res.Log, res.Size, res.Root)
				} else {
					for _, b := range res.Bad {
						fmt.Fprintf(out, "bad %s: %s\n", b.File, b.Reason)
					}
				}
				if !res.OK {
					return failed(fmt.Errorf("%s: %d bad file(s)", res.Log, len(res.Bad)))
				}
				return nil
			}
			cp, err := src.Checkpoint(cmd.Context(), pins.Trust)
			if err != nil {
				res.Bad = append(res.Bad, fsckBad{"checkpoint", err.Error()})
				return report()
			}
			res.Size, res.Root = cp.Size, base64.StdEncoding.EncodeToString(cp.Hash)
			bad, err := tilecheck.New(src, cp.Size, cp.Hash, nil).Full(cmd.Context())
			for _, b := range bad {
				res.Bad = append(res.Bad, fsckBad{b.Path, b.Reason})
			}
			if err != nil {
				res.Bad = append(res.Bad, fsckBad{"", err.Error()})
			}
			res.OK = len(res.Bad) == 0
			return report()
		},
	}
	lf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
