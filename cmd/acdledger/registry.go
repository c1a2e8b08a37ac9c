package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"
)

const registryHelp = `The registry of a log with a genesis (acdledger init --root-key) is what the log
says: its genesis at index 0, then every registry.change entry, signed by the
commission root key (specs/registry.md). Each command here makes one such entry,
signed, as one DSSE envelope line on stdout, for 'acdledger append' (to the
ledger directory, or --server URL while 'serve' runs). The ledger applies it as
soon as it is admitted: no restart, no file to copy.

The entry carries the root key's next seq: give --seq, or --log with --vkey (or
--policy) and the change is also checked against the registry in force now, so a
change that cannot apply is refused here rather than by the ledger.

--valid-from (default now) is the first occurred_at the new key, member or
setting counts for; it may be earlier than now (the start of a member's term, a
key in use since the morning). A revocation or retirement is never back-dated: it
takes effect from the entry's position in the log, so entries logged before it
still verify and those logged after it are refused.`

// changeFlags are what every registry change command takes.
type changeFlags struct {
	rootKey, at, validFrom, id string
	seq                        uint64
	logLoc                     string
	pins                       pinFlags
	asJSON                     bool
}

func (c *changeFlags) add(cmd *cobra.Command, validFrom bool) {
	f := cmd.Flags()
	f.StringVar(&c.rootKey, "root-key", "", "the commission root private key (from keygen --commission)")
	f.Uint64Var(&c.seq, "seq", 0, "the root key's next seq (1 is the genesis); or give --log to look it up")
	f.StringVar(&c.logLoc, "log", "", "the log (directory or URL): look up the next seq and check the change against the registry in force")
	f.StringVar(&c.pins.vkey, "vkey", "", "with --log: the log's checkpoint verifier key file")
	f.StringVar(&c.pins.policy, "policy", "", "with --log: instead of --vkey, a witness policy file")
	f.StringVar(&c.at, "at", "", "the entry's occurred_at: when the commission made the change (RFC 3339; default now)")
	f.StringVar(&c.id, "id", "", "the entry id (default registry-<seq>)")
	if validFrom {
		f.StringVar(&c.validFrom, "valid-from", "", "first occurred_at the change counts for (RFC 3339; default now; may be earlier)")
	}
	f.BoolVar(&c.asJSON, "json", false, "print a refusal or error as a JSON document (the envelope is a JSON line either way)")
	cmd.MarkFlagRequired("root-key")
}

// run signs the change and prints its envelope.
func (c *changeFlags) run(cmd *cobra.Command, body map[string]any) error {
	now := time.Now().UTC().Truncate(time.Second)
	at := now
	if c.at != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, c.at); err != nil {
			return usage(fmt.Errorf("--at: %w", err))
		}
	}
	if _, ok := body["valid_from"]; ok {
		vf := now
		if c.validFrom != "" {
			var err error
			if vf, err = time.Parse(time.RFC3339, c.validFrom); err != nil {
				return usage(fmt.Errorf("--valid-from: %w", err))
			}
		}
		body["valid_from"] = vf.Format(time.RFC3339)
	}
	signer, err := loadSigner(c.rootKey)
	if err != nil {
		return err
	}
	var current *specs.Registry
	if c.logLoc != "" {
		c.pins.root = signer.KeyID()
		pins, src, err := c.pins.loadWithLog(c.logLoc)
		if err != nil {
			return err
		}
		r, err := pins.Audit(cmd.Context(), src, verifier.AuditOptions{})
		if err != nil {
			return classify(fmt.Errorf("log %s: %w", src, err))
		}
		if r.History == nil {
			return failed(fmt.Errorf("log %s: its genesis does not verify with root key %s (a log made without --root-key takes no registry entries)", src, signer.KeyID()))
		}
		current = r.History.Current()
		next := uint64(1)
		if s := r.ByAgency[specs.RootAgency]; s != nil {
			next = s.LastSeq + 1
		}
		if c.seq != 0 && c.seq != next {
			return usage(fmt.Errorf("--seq %d: the log's next root seq is %d", c.seq, next))
		}
		c.seq = next
	}
	if c.seq < 2 {
		return usage(errors.New("give --seq (the root key's next seq; the genesis is 1) or --log"))
	}
	id := c.id
	if id == "" {
		id = fmt.Sprintf("registry-%d", c.seq)
	}
	draft, err := registrylog.Draft(id, specs.KindRegistryChange, c.seq, at, body)
	if err != nil {
		return usage(err)
	}
	env, err := signer.Sign(draft)
	if err != nil {
		return failed(err)
	}
	if current != nil {
		a, err := current.VerifySigned(env)
		if err == nil {
			_, err = registrylog.Apply(current, a.Entry)
		}
		if err != nil {
			return failed(fmt.Errorf("the change would be refused: %w", err))
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s\n", env)
	return nil
}

func newRegistry() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "The commission's registry entries (agencies, keys, members, policy, rules) and the registry in force",
		Long:  registryHelp,
	}
	cmd.AddCommand(newRegistryShow(), newAddAgency(), newRetireAgency(), newAddKey(), newRotateKey(), newRevokeKey(),
		newAddMember(), newSetPolicy(), newAdoptRules())
	return cmd
}

func readPubKey(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, usage(err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(raw)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", path, err))
	}
	k, err := registrylog.KeyOf(pub)
	if err != nil {
		return nil, usage(fmt.Errorf("%s: %w", path, err))
	}
	return map[string]any{"key_id": k.ID, "public_key": k.PublicKey}, nil
}

func changeCmd(use, short, long, example string, validFrom bool, setup func(*cobra.Command), body func() (map[string]any, error)) *cobra.Command {
	var c changeFlags
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long + "\n\n" + registryHelp, Example: example, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := body()
			if err != nil {
				return err
			}
			return c.run(cmd, b)
		},
	}
	setup(cmd)
	c.add(cmd, validFrom)
	return cmd
}

func newAddAgency() *cobra.Command {
	var agency, name, role, kinds, pub, recipient string
	return changeCmd("add-agency --agency ID --name NAME --pub FILE --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Register a new agency with its first key",
		`add-agency makes an agency.added entry: the agency, its role, the kinds it may append,
its first public key (BASE.pub from keygen --agency) and optionally its own age
recipient (the line "recipient: age1…" keygen printed), valid from --valid-from.`,
		`  acdledger keygen --agency mic --out keys/mic --name "MIC"
  acdledger registry add-agency --agency mic --name "MIC" --pub keys/mic.pub --recipient age1… \
      --root-key keys/commission-root.key --log ledger/log --vkey ledger/log.vkey > add-mic.dsse
  acdledger append --server http://127.0.0.1:8080 add-mic.dsse`, true,
		func(cmd *cobra.Command) {
			f := cmd.Flags()
			f.StringVar(&agency, "agency", "", "the new agency's id")
			f.StringVar(&name, "name", "", "its full name (default the id)")
			f.StringVar(&role, "role", "agency", "agency or commission")
			f.StringVar(&kinds, "kinds", "all", "comma-separated kinds it may append; 'all' = every kind its role allows")
			f.StringVar(&pub, "pub", "", "its public key file (PEM, from keygen --agency)")
			f.StringVar(&recipient, "recipient", "", "its own age recipient, to read back its sealed entries")
			cmd.MarkFlagRequired("agency")
			cmd.MarkFlagRequired("pub")
		},
		func() (map[string]any, error) {
			k, err := readPubKey(pub)
			if err != nil {
				return nil, err
			}
			if name == "" {
				name = agency
			}
			a := map[string]any{"id": agency, "name": name, "role": role, "kinds": kindList(kinds, role), "keys": []any{k}}
			if recipient != "" {
				a["recipient"] = recipient
			}
			return map[string]any{"change": registrylog.AgencyAdded, "agency": a, "valid_from": ""}, nil
		})
}

func kindList(list, role string) []string {
	if list != "all" {
		return strings.Split(list, ",")
	}
	var out []string
	for _, k := range specs.Kinds {
		if specs.CommissionKinds[k] == (role == "commission") && !specs.RootKinds[k] {
			out = append(out, k)
		}
	}
	return out
}

func newRetireAgency() *cobra.Command {
	var agency, reason string
	return changeCmd("retire-agency --agency ID --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Retire an agency: its entries logged after this one are refused",
		`retire-agency makes an agency.retired entry. It takes effect from its position in
the log (never back-dated); the agency's earlier entries still verify, and its id
is never reused.`,
		`  acdledger registry retire-agency --agency mic --reason "merged into nco" --root-key keys/commission-root.key --seq 7`, false,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&agency, "agency", "", "the agency's id")
			cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
			cmd.MarkFlagRequired("agency")
		},
		func() (map[string]any, error) {
			b := map[string]any{"change": registrylog.AgencyRetired, "agency_id": agency}
			if reason != "" {
				b["reason"] = reason
			}
			return b, nil
		})
}

func newAddKey() *cobra.Command {
	var agency, pub string
	return changeCmd("add-key --agency ID --pub FILE --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Add a key to an agency (beside its others)",
		`add-key makes a key.added entry: the agency may sign with the new key for entries
that occurred from --valid-from on, and keeps its other keys.`,
		`  acdledger registry add-key --agency nco --pub keys/nco-2.pub --root-key keys/commission-root.key --seq 3`, true,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&agency, "agency", "", "the agency's id")
			cmd.Flags().StringVar(&pub, "pub", "", "the new public key file (PEM, from keygen --agency)")
			cmd.MarkFlagRequired("agency")
			cmd.MarkFlagRequired("pub")
		},
		func() (map[string]any, error) {
			k, err := readPubKey(pub)
			if err != nil {
				return nil, err
			}
			return map[string]any{"change": registrylog.KeyAdded, "agency_id": agency, "key": k, "valid_from": ""}, nil
		})
}

func newRotateKey() *cobra.Command {
	var agency, pub, replaces string
	return changeCmd("rotate-key --agency ID --pub NEW.pub --replaces KEYID|OLD.pub --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Replace an agency key: the new one is added, the old one revoked from this entry on",
		`rotate-key makes a key.rotated entry: the new key signs entries that occurred from
--valid-from on; the old key is revoked from the entry's position in the log (its
entries logged before still verify, those logged after are refused).`,
		`  acdledger keygen --agency nco --out keys/nco-2
  acdledger registry rotate-key --agency nco --pub keys/nco-2.pub --replaces keys/nco.pub \
      --root-key keys/commission-root.key --log ledger/log --vkey ledger/log.vkey > rotate.dsse`, true,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&agency, "agency", "", "the agency's id")
			cmd.Flags().StringVar(&pub, "pub", "", "the new public key file (PEM)")
			cmd.Flags().StringVar(&replaces, "replaces", "", "the old key: its key id, or its public key file")
			cmd.MarkFlagRequired("agency")
			cmd.MarkFlagRequired("pub")
			cmd.MarkFlagRequired("replaces")
		},
		func() (map[string]any, error) {
			k, err := readPubKey(pub)
			if err != nil {
				return nil, err
			}
			old, err := keyIDArg(replaces)
			if err != nil {
				return nil, err
			}
			return map[string]any{"change": registrylog.KeyRotated, "agency_id": agency, "key": k, "replaces": old, "valid_from": ""}, nil
		})
}

// keyIDArg is a key id given as such or as a public key file.
func keyIDArg(s string) (string, error) {
	if checkFingerprint(s) == nil {
		return s, nil
	}
	k, err := readPubKey(s)
	if err != nil {
		return "", err
	}
	return k["key_id"].(string), nil
}

func newRevokeKey() *cobra.Command {
	var agency, key, reason string
	return changeCmd("revoke-key --agency ID --key KEYID|FILE.pub --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Revoke an agency key from this entry's position in the log on",
		`revoke-key makes a key.revoked entry. A revocation is never back-dated: entries
signed by the key and logged before it still verify (ten years later too), those
logged after it are refused (rule key.unknown, naming this entry).`,
		`  acdledger registry revoke-key --agency nco --key keys/nco.pub --reason compromised --root-key keys/commission-root.key --seq 5`, false,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&agency, "agency", "", "the agency's id")
			cmd.Flags().StringVar(&key, "key", "", "the key: its key id, or its public key file")
			cmd.Flags().StringVar(&reason, "reason", "", "why, for the record")
			cmd.MarkFlagRequired("agency")
			cmd.MarkFlagRequired("key")
		},
		func() (map[string]any, error) {
			id, err := keyIDArg(key)
			if err != nil {
				return nil, err
			}
			b := map[string]any{"change": registrylog.KeyRevoked, "agency_id": agency, "key_id": id}
			if reason != "" {
				b["reason"] = reason
			}
			return b, nil
		})
}

func newAddMember() *cobra.Command {
	var member, name, recipient string
	return changeCmd("add-member --member ID --recipient age1… --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Add a commission member's sealing key, or rotate it",
		`add-member makes a member.added entry: entries that occurred from --valid-from on
are sealed to this recipient. For a member already registered it is a rotation:
the previous recipient is closed at --valid-from (and one that would only start
at or after it is replaced). --valid-from may be back-dated, e.g. to the start
of the member's term. Make the identity with 'acdledger keygen --member ID --out
BASE --registry FILE' (any registry file: its recipient line is what counts).`,
		`  acdledger registry add-member --member member-1 --recipient age1… --valid-from 2026-04-01T00:00:00+09:00 \
      --root-key keys/commission-root.key --log ledger/log --vkey ledger/log.vkey > member.dsse`, true,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&member, "member", "", "the member's recipient id, e.g. member-1")
			cmd.Flags().StringVar(&name, "name", "", "the member's name (default the id)")
			cmd.Flags().StringVar(&recipient, "recipient", "", "the member's age recipient (age1…), or an age identity file to take it from")
			cmd.MarkFlagRequired("member")
			cmd.MarkFlagRequired("recipient")
		},
		func() (map[string]any, error) {
			if name == "" {
				name = member
			}
			r := recipient
			if !strings.HasPrefix(r, "age1") {
				ids, err := loadIdentities(r, false)
				if err != nil {
					return nil, usage(err)
				}
				x, ok := ids[0].(*age.X25519Identity)
				if !ok {
					return nil, usage(fmt.Errorf("%s: not an X25519 identity", r))
				}
				r = x.Recipient().String()
			}
			return map[string]any{"change": registrylog.MemberAdded, "member": map[string]any{"id": member, "name": name, "recipient": r}, "valid_from": ""}, nil
		})
}

func newSetPolicy() *cobra.Command {
	var policy string
	return changeCmd("set-policy --new-policy FILE --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Record a new witness policy (witness set and quorum)",
		`set-policy makes a policy.set entry holding the witness policy file
(specs/witnesses.md), in force for checkpoints from --valid-from on. Auditors
read it with 'registry show'; the ledger's serve keeps taking its witnesses
from its own --witness-policy (restart it with the new file).`,
		`  acdledger registry set-policy --new-policy commission-2.policy --root-key keys/commission-root.key --seq 6`, true,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&policy, "new-policy", "", "the new witness policy file")
			cmd.MarkFlagRequired("new-policy")
		},
		func() (map[string]any, error) {
			raw, err := os.ReadFile(policy)
			if err != nil {
				return nil, usage(err)
			}
			if _, err := tlog.ParsePolicy(raw); err != nil {
				return nil, usage(fmt.Errorf("%s: %w", policy, err))
			}
			return map[string]any{"change": registrylog.PolicySet, "policy": string(raw), "valid_from": ""}, nil
		})
}

func newAdoptRules() *cobra.Command {
	var cfg, version string
	return changeCmd("adopt-rules --rules-config FILE --version V --root-key FILE (--seq N | --log LOC --vkey FILE)",
		"Record the rules configuration (durations the law leaves open) audits and reports must name",
		`adopt-rules makes a rules.adopted entry: the configuration's version and its
digest (canonical JSON, as evidence and compliance statements name it), in force
from --valid-from on.`,
		`  acdledger registry adopt-rules --rules-config rules-2027.json --version 2027.1 --root-key keys/commission-root.key --seq 4`, true,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&cfg, "rules-config", "", "the rules configuration file (default specs/rules.default.json)")
			cmd.Flags().StringVar(&version, "version", "", "the version audits and reports will name")
			cmd.MarkFlagRequired("version")
		},
		func() (map[string]any, error) {
			c, err := loadRulesConfig(cfg)
			if err != nil {
				return nil, err
			}
			_, digest, err := c.Digest()
			if err != nil {
				return nil, usage(err)
			}
			return map[string]any{"change": registrylog.RulesAdopted, "version": version, "digest": digest, "valid_from": ""}, nil
		})
}

func newRegistryShow() *cobra.Command {
	var pins pinFlags
	var logLoc, at, write string
	var index int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show --log DIR|URL --vkey FILE --root-key FINGERPRINT [--at TIME | --index N]",
		Short: "Print the registry in force at a time or index, replayed from the log",
		Long: `show replays the log (as audit does, without the compliance rules) from its
genesis, trusting only the pinned log key and root key fingerprint, and prints the
registry in force: for the entry at --index N (the registry the changes before N
made), or at --at TIME (the changes in log order whose occurred_at is not after
TIME), or, by default, now. --write FILE saves it as a registry file: what 'sign
--registry' seals to. With --json the output is the registry JSON with the
version it is (index and id of the entry that made it) and the whole history.`,
		Example: `  acdledger registry show --log ledger/log --vkey ledger/log.vkey --root-key 8601…443d
  acdledger registry show --log https://log.example/ --policy commission.policy --root-key 8601…443d --at 2026-07-01T00:00:00+09:00 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if at != "" && index >= 0 {
				return usage(errors.New("give --at or --index, not both"))
			}
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			r, err := p.Audit(cmd.Context(), src, verifier.AuditOptions{})
			if err != nil {
				return classify(fmt.Errorf("log %s: %w", src, err))
			}
			if r.History == nil {
				msg := "the genesis does not verify"
				if len(r.Failures) > 0 {
					msg = r.Failures[0].Message
				}
				return failed(fmt.Errorf("log %s: no trust history: %s", src, msg))
			}
			h := r.History
			v := h.Versions()[len(h.Versions())-1]
			switch {
			case index >= 0:
				if uint64(index) > r.Size {
					return usage(fmt.Errorf("--index %d: the log has %d entries", index, r.Size))
				}
				v = h.AtIndex(uint64(index))
			case at != "":
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usage(fmt.Errorf("--at: %w", err))
				}
				v = h.AtTime(t)
			}
			if write != "" {
				if err := writeRegistry(write, v.Registry); err != nil {
					return usage(fmt.Errorf("--write: %w", err))
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					Version  *registrylog.Version  `json:"version"`
					Registry *specs.Registry       `json:"registry"`
					Trust    *verifier.TrustReport `json:"trust"`
				}{v, v.Registry, r.Trust})
			}
			printRegistry(cmd.OutOrStdout(), v, r)
			return nil
		},
	}
	pins.add(cmd, true)
	cmd.Flags().StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	cmd.Flags().StringVar(&at, "at", "", "the registry in force at this time (RFC 3339)")
	cmd.Flags().Int64Var(&index, "index", -1, "the registry the entry at this index is checked against")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the registry and its history as JSON")
	cmd.Flags().StringVar(&write, "write", "", "also write that registry as a registry file, e.g. for 'sign --registry' to seal to the members in force")
	cmd.MarkFlagRequired("log")
	return cmd
}

func printRegistry(w io.Writer, v *registrylog.Version, r *verifier.AuditReport) {
	from := "the genesis"
	if v.Change == "implicit-genesis" {
		from = "the registry file (this log has no genesis)"
	} else if v.Change != "genesis" {
		from = fmt.Sprintf("%s (entry %s at index %d, occurred %s)", v.Change, v.EntryID, v.Index, v.OccurredAt)
	}
	fmt.Fprintf(w, "registry in force, as made by %s\n", from)
	reg := v.Registry
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nAGENCY\tROLE\tKEY\tVALID FROM\tSTATUS")
	for _, a := range reg.Agencies {
		for _, k := range a.Keys {
			status := "in force"
			if k.RevokedBy != "" {
				status = "revoked by " + k.RevokedBy
			}
			if a.RetiredBy != "" {
				status = "agency retired by " + a.RetiredBy
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Role, k.ID[:16], orDash(k.ValidFrom), status)
		}
	}
	fmt.Fprintln(tw, "\nMEMBER\tRECIPIENT\tVALID FROM\tVALID UNTIL\t")
	for _, m := range reg.Recipients {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", m.ID, m.Recipient, m.ValidFrom, orDash(m.ValidUntil))
	}
	tw.Flush()
	for _, k := range reg.RootKeys {
		fmt.Fprintf(w, "\nroot key: %s\n", k.ID)
	}
	if reg.WitnessPolicy != nil {
		fmt.Fprintf(w, "witness policy: set by %s, valid from %s\n", reg.WitnessPolicy.SetBy, reg.WitnessPolicy.ValidFrom)
	}
	if reg.Rules != nil {
		fmt.Fprintf(w, "rules: version %s (%s), adopted by %s, valid from %s\n", reg.Rules.Version, reg.Rules.Digest, reg.Rules.AdoptedBy, reg.Rules.ValidFrom)
	}
	if r.Trust != nil {
		fmt.Fprintf(w, "\nhistory (%d versions):\n", len(r.Trust.Versions))
		for _, x := range r.Trust.Versions {
			fmt.Fprintf(w, "  index %d  %s  %s  %s\n", x.Index, orDash(x.EntryID), x.Change, orDash(x.OccurredAt))
		}
		for _, d := range r.Trust.CrossCheck {
			fmt.Fprintf(w, "registry file differs: %s\n", d)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
