package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/spf13/cobra"
)

// maxStatementSize bounds a statement read from a URL: ten short lines and
// one signature line per member fit in far less.
const maxStatementSize = 1 << 20

// readStatement reads a compliance statement from a file or an http(s)
// URL (e.g. <log URL>/compliance/<N>.note, as serve publishes it).
func readStatement(ctx context.Context, loc string) ([]byte, error) {
	if !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
		return os.ReadFile(loc)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", loc, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStatementSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	if len(b) > maxStatementSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, no compliance statement", loc, maxStatementSize)
	}
	return b, nil
}

// statementPath is where the statement about tree size n is published
// under a log directory or URL.
func statementPath(logLoc string, n uint64) string {
	return strings.TrimSuffix(logLoc, "/") + "/compliance/" + strconv.FormatUint(n, 10) + ".note"
}

// loadMembers reads the members' keys: a policy file, or verifier key
// files that must all have signed.
func loadMembers(policyFile string, vkeys []string) (*compliance.Policy, error) {
	switch {
	case policyFile != "" && len(vkeys) > 0:
		return nil, errors.New("give --vkey or --policy, not both")
	case policyFile != "":
		raw, err := os.ReadFile(policyFile)
		if err != nil {
			return nil, err
		}
		p, err := compliance.ParsePolicy(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", policyFile, err)
		}
		return p, nil
	case len(vkeys) > 0:
		var text strings.Builder
		for _, f := range vkeys {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&text, "member %s\n", strings.TrimSpace(string(raw)))
		}
		p, err := compliance.ParsePolicy(text.String())
		if err != nil {
			return nil, fmt.Errorf("--vkey: %w", err)
		}
		return p, nil
	}
	return nil, errors.New("give the members' keys: --vkey or --policy")
}

func newCompliancePublish() *cobra.Command {
	var dir, policyFile string
	var vkeys []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "publish FILE --ledger DIR (--policy MEMBERS | --vkey MEMBER.vkey ...)",
		Short: "Check a compliance statement and store it in the ledger's log, where serve publishes it",
		Long: `publish checks a compliance statement before it is stored where readers fetch
it (specs/compliance.md): the members' quorum (--policy, or every --vkey) must
have signed it, it must be about this log (its origin), and its tree must be
the log's current one or provably a prefix of it (a consistency proof from the
statement's root to the current checkpoint). It is then written atomically to
DIR/log/compliance/<tree size>.note; if that file exists, it must be the same
statement, and the signatures are merged (a member who signed later adds to
it). acdledger serve answers GET /compliance/<N>.note from that file; any
static file server publishing DIR/log does as well.

Only the posix storage driver keeps the log in DIR/log; with the aws driver,
copy the checked file to compliance/<N>.note under the bucket's log prefix.

Exit 0 stored, 1 refused (quorum, signature, another log or tree), 2 usage.`,
		Example: `  acdledger compliance publish 1234.note --ledger ledger --policy members.txt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadMembers(policyFile, vkeys)
			if err != nil {
				return usage(err)
			}
			if st, err := ledger.ReadStorage(dir); err != nil {
				return usage(err)
			} else if st.Driver == ledger.DriverAWS {
				return usage(errors.New("the ledger keeps its log in a bucket (aws storage driver): copy the statement to compliance/<N>.note under the log's prefix"))
			}
			msg, err := readStatement(cmd.Context(), args[0])
			if err != nil {
				return usage(err)
			}
			st, signers, err := compliance.Verify(msg, p)
			if errors.Is(err, compliance.ErrMalformed) {
				return usage(fmt.Errorf("%s: %w", args[0], err))
			}
			if err != nil {
				return failed(fmt.Errorf("%s: %w", args[0], err))
			}
			pins, err := verifier.LoadPins(filepath.Join(dir, ledger.VerifierFile), "", "")
			if err != nil {
				return usage(err)
			}
			logDir := filepath.Join(dir, ledger.LogDir)
			src, err := tlog.Open(logDir)
			if err != nil {
				return usage(err)
			}
			if origin := pins.Trust.Verifier.Name(); st.Origin != origin {
				return failed(fmt.Errorf("%s: the statement is about log %s, this ledger is %s", args[0], st.Origin, origin))
			}
			tree := &tlog.Checkpoint{Origin: st.Origin, Size: st.Size, Hash: st.Root}
			if _, err := src.CheckConsistency(cmd.Context(), pins.Trust, tree); err != nil {
				return failed(fmt.Errorf("%s: the log contradicts the statement's tree (size %d): %w", args[0], st.Size, err))
			}
			out := statementPath(logDir, st.Size)
			if old, err := os.ReadFile(out); err == nil {
				if msg, err = compliance.Merge(old, msg); err != nil {
					return failed(fmt.Errorf("%s: %w", out, err))
				}
				// The stored copy's signatures are checked again, merged.
				if _, signers, err = compliance.Verify(msg, p); err != nil {
					return failed(fmt.Errorf("%s merged with %s: %w", out, args[0], err))
				}
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return usage(err)
			}
			if err := atomicfile.Write(out, msg, 0o644); err != nil {
				return usage(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					File      string                `json:"file"`
					Statement *compliance.Statement `json:"statement"`
					Signers   []string              `json:"signers"`
				}{out, st, signers})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %s: %s at tree size %d, signed by %s\n", out, st.Origin, st.Size, strings.Join(signers, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "ledger", "", "ledger directory (from init)")
	f.StringArrayVar(&vkeys, "vkey", nil, "a member's verifier key file (repeatable; all must have signed)")
	f.StringVar(&policyFile, "policy", "", `members policy file: "member <vkey>" lines and "quorum <k>"`)
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagRequired("ledger")
	return cmd
}
