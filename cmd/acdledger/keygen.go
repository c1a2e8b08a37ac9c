package main

import (
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/internal/atomicfile"
	"os"
	"strings"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/spf13/cobra"
)

func newKeygen() *cobra.Command {
	var agency, out, algorithm, registry, name, role, kinds string
	cmd := &cobra.Command{
		Use:   "keygen --agency ID --out BASE",
		Short: "Make an agency signing key pair (and register its public key)",
		Long: `keygen makes a key pair for an agency: BASE.key, the private key encrypted with a
passphrase (from $` + agencykey.PassphraseEnv + ` or a prompt; mode 0600), and BASE.pub, the public key.

With --registry, the public key is also added to that registry file (created if
missing) under the agency, with the kinds it may append. Only an agency with role
"commission" may append ` + strings.Join(sortedMapKeys(specs.CommissionKinds), ", ") + `.`,
		Example: `  ACDLEDGER_KEY_PASSPHRASE=… acdledger keygen --agency nco --out keys/nco \
      --registry registry.json --name "National Cybersecurity Office" --kinds all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pass, err := agencykey.Passphrase(true)
			if err != nil {
				return usage(err)
			}
			privPEM, pubPEM, keyID, err := agencykey.Generate(algorithm, pass)
			if err != nil {
				return usage(err)
			}
			if err := agencykey.WriteFiles(out, privPEM, pubPEM); err != nil {
				return usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.pub\nkey id: %s\n", out, out, keyID)
			if registry == "" {
				return nil
			}
			if err := registerKey(registry, agency, name, role, kinds, pubPEM); err != nil {
				return usage(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered in %s as agency %s (role %s)\n", registry, agency, role)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&agency, "agency", "", "agency id, e.g. nco, npa, sdf, commission")
	f.StringVar(&out, "out", "", "file name base: writes BASE.key and BASE.pub")
	f.StringVar(&algorithm, "algorithm", agencykey.Ed25519, "key algorithm: ed25519 or ecdsa-p256")
	f.StringVar(&registry, "registry", "", "also add the public key to this registry file")
	f.StringVar(&name, "name", "", "agency's full name, for a new registry entry")
	f.StringVar(&role, "role", "agency", "registry role: agency or commission")
	f.StringVar(&kinds, "kinds", "all", "comma-separated kinds the agency may append; 'all' = every kind its role allows")
	cmd.MarkFlagRequired("agency")
	cmd.MarkFlagRequired("out")
	return cmd
}

func registerKey(path, agency, name, role, kindList string, pubPEM []byte) error {
	reg := &specs.Registry{}
	if raw, err := os.ReadFile(path); err == nil {
		if reg, err = specs.ParseRegistry(raw); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return err
	}
	if name == "" {
		name = agency
	}
	var kinds []string
	if kindList == "all" {
		for _, k := range specs.Kinds {
			if specs.CommissionKinds[k] == (role == "commission") {
				kinds = append(kinds, k)
			}
		}
	} else {
		kinds = strings.Split(kindList, ",")
	}
	if _, err := reg.Add(agency, name, role, kinds, pub); err != nil {
		return err
	}
	out, err := reg.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, out, 0o644)
}
