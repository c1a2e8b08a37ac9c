package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/ledger/seal"
	"github.com/acdledger/acdledger/specs"
	"github.com/spf13/cobra"
)

func newDemo() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Make demonstration material (used by 'make demo')",
	}
	cmd.AddCommand(newDemoGenerate(), newDemoDecode())
	return cmd
}

func newDemoGenerate() *cobra.Command {
	var out string
	var seed int64
	var entries, parts int
	var start, end string
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Generate agencies, keys, a registry and realistic signed entries",
		Long: `generate plays the agencies for a demonstration. Deterministically from --seed,
it writes into DIR:

  keys/<agency>.key, .pub    a key pair per agency (encrypted with $` + agencykey.PassphraseEnv + `)
  keys/<agency>.age          each agency's age identity (reads its own sealed fields)
  keys/member-N.age          the commission members' age identities; member-3
                             rotates its key mid-period (member-3.rotated.age)
  registry.json              the agency registry pinning those keys and recipients
  part-N.dsse.jsonl          signed entries (DSSE envelopes, one per line) in log
                             order, split into --parts growth steps
  rejected/nainai.dsse.json  the next nco entry, claiming a 内内 acquisition: refused
  misconduct/measure-before-approval.dsse.json
                             the next police measure of its agency, started two
                             hours before its approval was decided: admitted (its
                             form is sound), then found by the rules (R3); only
                             when the activity has an approved police measure

The entries are fictitious but follow the legal workflow: approvals before
acquisitions and measures, selection batches that balance, emergency notices,
inspections with responses. Their sealed fields contain the marker ` + activity.SecretMarker() + `
and are sealed (salted commitments + an age box to the members and the agency),
so the marker never appears in the log. The public parts are the same for a
seed; salts and ciphertexts differ from run to run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := activity.DefaultConfig()
			cfg.Seed, cfg.Entries = seed, entries
			var err error
			if start != "" {
				if cfg.Start, err = time.Parse(time.RFC3339, start); err != nil {
					return usage(fmt.Errorf("--start: %w", err))
				}
			}
			if end != "" {
				if cfg.End, err = time.Parse(time.RFC3339, end); err != nil {
					return usage(fmt.Errorf("--end: %w", err))
				}
			}
			if parts < 1 {
				return usage(errors.New("--parts must be at least 1"))
			}
			pass, err := agencykey.Passphrase(false)
			if err != nil {
				return usage(err)
			}
			return generateDemo(cmd, out, cfg, parts, pass)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write into")
	f.Int64Var(&seed, "seed", 1, "random seed: the same seed gives the same entries")
	f.IntVar(&entries, "entries", 300, "about how many entries to generate")
	f.IntVar(&parts, "parts", 2, "how many append steps to split the entries into")
	f.StringVar(&start, "start", "", "first occurred_at (RFC 3339; default 2026-04-01T00:00:00+09:00)")
	f.StringVar(&end, "end", "", "last occurred_at (RFC 3339)")
	cmd.MarkFlagRequired("out")
	return cmd
}

func generateDemo(cmd *cobra.Command, out string, cfg activity.Config, parts int, pass []byte) error {
	if err := os.MkdirAll(filepath.Join(out, "keys"), 0o700); err != nil {
		return usage(err)
	}
	reg := &specs.Registry{}
	signers := map[string]*agencykey.Signer{}
	for _, a := range activity.Agencies() {
		privPEM, pubPEM, _, err := agencykey.Generate(agencykey.Ed25519, pass)
		if err != nil {
			return err
		}
		if err := agencykey.WriteFiles(filepath.Join(out, "keys", a.ID), privPEM, pubPEM); err != nil {
			return usage(err)
		}
		s, err := agencykey.Parse(privPEM, pass)
		if err != nil {
			return err
		}
		signers[a.ID] = s
		if _, err := reg.Add(a.ID, a.Name, a.Role, a.Kinds, s.PublicKey()); err != nil {
			return err
		}
		recipient, err := writeAgeIdentity(filepath.Join(out, "keys", a.ID+".age"), pass)
		if err != nil {
			return usage(err)
		}
		if err := reg.SetAgencyRecipient(a.ID, recipient); err != nil {
			return err
		}
	}
	if err := addDemoMembers(reg, filepath.Join(out, "keys"), cfg, pass); err != nil {
		return err
	}
	regJSON, err := reg.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "registry.json"), regJSON, 0o644); err != nil {
		return usage(err)
	}
	entries, err := activity.Generate(cfg)
	if err != nil {
		return err
	}
	per := (len(entries) + parts - 1) / parts
	for p := 0; p < parts; p++ {
		var b strings.Builder
		for _, e := range entries[min(p*per, len(entries)):min((p+1)*per, len(entries))] {
			payload, err := seal.Seal(e.Payload, reg)
			if err != nil {
				return err
			}
			env, err := signers[e.Agency].Sign(payload)
			if err != nil {
				return err
			}
			b.Write(env)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(out, fmt.Sprintf("part-%d.dsse.jsonl", p+1)), []byte(b.String()), 0o644); err != nil {
			return usage(err)
		}
	}
	if err := writeRejected(filepath.Join(out, "rejected"), signers, reg, entries); err != nil {
		return err
	}
	if err := writeMisconduct(filepath.Join(out, "misconduct"), signers, reg, entries); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "generated %d entries for %d agencies in %s (seed %d, %d parts)\n",
		len(entries), len(signers), out, cfg.Seed, parts)
	return nil
}

// addDemoMembers registers three commission members, valid from a month
// before the activity starts; member-3 rotates its key halfway through, so
// the demo log holds entries sealed to both of its keys.
func addDemoMembers(reg *specs.Registry, keys string, cfg activity.Config, pass []byte) error {
	from := cfg.Start.AddDate(0, -1, 0)
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("member-%d", i)
		r, err := writeAgeIdentity(filepath.Join(keys, id+".age"), pass)
		if err != nil {
			return usage(err)
		}
		if err := reg.AddRecipient(id, fmt.Sprintf("Commission member %d", i), r, from); err != nil {
			return err
		}
	}
	r, err := writeAgeIdentity(filepath.Join(keys, "member-3.rotated.age"), pass)
	if err != nil {
		return usage(err)
	}
	mid := cfg.Start.Add(cfg.End.Sub(cfg.Start) / 2).Truncate(time.Hour)
	return reg.AddRecipient("member-3", "Commission member 3", r, mid)
}

// writeRejected makes an envelope that admission must refuse: the next
// nco entry (right seq, new id) claiming a domestic-to-domestic (NAINAI)
// acquisition, so the demo shows a rejection that leaves the log unchanged.
func writeRejected(dir string, signers map[string]*agencykey.Signer, reg *specs.Registry, entries []activity.Entry) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usage(err)
	}
	var base map[string]any
	var lastSeq float64
	for _, e := range entries {
		if e.Agency != "nco" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			return err
		}
		lastSeq = m["seq"].(float64)
		if body, _ := m["body"].(map[string]any); body["direction"] != nil {
			base = m
		}
	}
	if base == nil {
		return errors.New("no nco entry with a direction to derive the rejection example from")
	}
	base["id"] = "DEMO-REJECTED-NAINAI"
	base["seq"] = lastSeq + 1
	base["body"].(map[string]any)["direction"] = "NAINAI"
	payload, err := json.Marshal(base)
	if err != nil {
		return err
	}
	if payload, err = seal.Seal(payload, reg); err != nil {
		return err
	}
	env, err := signers["nco"].Sign(payload)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "nainai.dsse.json"), env, 0o644)
}

// writeMisconduct makes one piece of misconduct for the demo's second act:
// the agency of the last approved police measure executes another measure
// under the same approval, started two hours before that approval was
// decided. Admission accepts it (every field is well formed, the agency
// signed it); the compliance rules catch it (R3 measure.authorised).
func writeMisconduct(dir string, signers map[string]*agencykey.Signer, reg *specs.Registry, entries []activity.Entry) error {
	decided := map[string]string{} // approval id -> decided_at
	lastSeq := map[string]float64{}
	var base map[string]any
	for _, e := range entries {
		var m map[string]any
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			return err
		}
		lastSeq[e.Agency] = m["seq"].(float64)
		body, _ := m["body"].(map[string]any)
		switch m["kind"] {
		case "approval.decided":
			if at, ok := body["decided_at"].(string); ok {
				decided[m["id"].(string)] = at
			}
		case "measure.executed":
			if a, _ := body["approval"].(string); a != "" && decided[a] != "" && body["executor"] == "police" {
				base = m
			}
		}
	}
	if base == nil {
		return nil // a small activity may have no approved police measure: no example then
	}
	body := base["body"].(map[string]any)
	at, err := time.Parse(time.RFC3339, decided[body["approval"].(string)])
	if err != nil {
		return fmt.Errorf("misconduct example: decided_at: %w", err)
	}
	agency := base["agency"].(string)
	start, end := at.Add(-2*time.Hour).Format(time.RFC3339), at.Add(-time.Hour).Format(time.RFC3339)
	base["id"] = "DEMO-MISCONDUCT-MEASURE"
	base["seq"] = lastSeq[agency] + 1
	base["occurred_at"] = start
	base["refs"] = []any{body["approval"]}
	body["started_at"], body["ended_at"] = start, end
	payload, err := json.Marshal(base)
	if err != nil {
		return err
	}
	if payload, err = seal.Seal(payload, reg); err != nil {
		return err
	}
	env, err := signers[agency].Sign(payload)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usage(err)
	}
	return os.WriteFile(filepath.Join(dir, "measure-before-approval.dsse.json"), env, 0o644)
}

// newDemoDecode decodes standard base64, one value per line, for the demo's
// check that no sealed secret is in the log's decoded payloads: one process
// instead of a base64 -d per entry, which took a minute on a busy machine.
func newDemoDecode() *cobra.Command {
	return &cobra.Command{
		Use:   "decode < LINES",
		Short: "Decode base64 lines from stdin (one value per line; used by 'make demo')",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc := bufio.NewScanner(cmd.InOrStdin())
			sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
			w := bufio.NewWriter(cmd.OutOrStdout())
			for n := 1; sc.Scan(); n++ {
				line := strings.TrimSpace(sc.Text())
				if line == "" {
					continue
				}
				b, err := base64.StdEncoding.DecodeString(line)
				if err != nil {
					return usage(fmt.Errorf("line %d: not standard base64: %v", n, err))
				}
				w.Write(b)
				w.WriteByte('\n')
			}
			if err := sc.Err(); err != nil {
				return usage(err)
			}
			return w.Flush()
		},
	}
}
