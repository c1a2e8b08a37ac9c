package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"

	"github.com/acdledger/acdledger/ledger"
	"github.com/spf13/cobra"
)

func newInit() *cobra.Command {
	var dir, origin, registry, rootKey string
	var unencrypted, asJSON bool
	var sf storageFlags
	cmd := &cobra.Command{
		Use:   "init --dir DIR --origin ORIGIN --registry FILE",
		Short: "Create a new ledger: an empty log, its checkpoint key, and the agency registry",
		Long: `init creates a ledger directory:

  DIR/log/           the transparency log (C2SP tlog-tiles), to publish as static files
  DIR/log.key        the operator's checkpoint signing key (mode 0600), encrypted with a
                     passphrase from $ACDLEDGER_KEY_PASSPHRASE or a prompt (an age
                     passphrase file; --unencrypted-key writes it in the clear)
  DIR/log.vkey       the checkpoint verifier key: auditors pin this
  DIR/registry.json  the agency registry: which agency may append which kinds with which keys

With --root-key (the commission root key, from 'acdledger keygen --commission'),
the log's first entry, index 0, is its genesis (specs/registry.md): the origin, the
checkpoint verifier key, the root public key and this registry, signed by the root
key. From then on the registry is what the log says: the commission changes it
with entries made by 'acdledger registry …', applied as soon as they are admitted,
and auditors pin only the root key's fingerprint. Without --root-key the log has
no genesis: DIR/registry.json is its registry for good (an implicit genesis; the
way logs were made before), and registry entries are refused.

The origin names the log in every checkpoint, e.g. log.cyber-oversight.example/acd.

With --storage aws the log lives in an S3 bucket and the admission state in a
MySQL-compatible database; DIR then holds one frontend's configuration (the keys,
the registry and storage.json, which never holds a secret). Copy DIR to start
more frontends of the same log (docs/deploy.md). init creates the database named in
the DSN and the bucket when they do not exist and the credentials allow it; when
they do not, it writes nothing and exits 2 naming what to create.

` + storageHelp,
		Example: `  acdledger init --dir ledger --origin log.cyber-oversight.example/acd --registry registry.json
  ACDLEDGER_MYSQL_PASSWORD=… AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
    acdledger init --dir frontend --origin log.cyber-oversight.example/acd --registry registry.json \
    --storage aws --s3-bucket acd-log --mysql-dsn 'acd@tcp(db.internal:3306)/acdledger'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sf.envDefaults(cmd); err != nil {
				return usage(err)
			}
			reg, err := os.ReadFile(registry)
			if err != nil {
				return usage(err)
			}
			st := sf.over(ledger.Storage{Driver: ledger.DriverPOSIX})
			if st.Driver != ledger.DriverAWS && sf.anySet() {
				return usage(fmt.Errorf("the --s3-… and --mysql-dsn flags need --storage aws"))
			}
			if rootKey != "" && st.Driver == ledger.DriverAWS {
				return usage(fmt.Errorf("--root-key: a genesis (trust history in the log) is not supported on the AWS driver yet; its frontends do not share registry changes"))
			}
			var root *agencykey.Signer
			if rootKey != "" {
				// Before anything is written: a wrong passphrase leaves no directory.
				if root, err = loadSigner(rootKey); err != nil {
					return err
				}
			}
			// The database and the bucket first: made when the credentials
			// allow, else named (exit 2) before anything is written.
			created, err := ledger.PrepareAWS(cmd.Context(), st, true)
			if err != nil {
				return usage(err)
			}
			pass, err := newKeyPassphrase(unencrypted)
			if err != nil {
				return usage(err)
			}
			vkey, err := ledger.InitEncrypted(dir, origin, reg, st, pass)
			if err != nil {
				return usage(err)
			}
			var fingerprint string
			if root != nil {
				if err := writeGenesis(context.Background(), dir, origin, vkey, reg, root, pass, unencrypted); err != nil {
					return failed(fmt.Errorf("writing the genesis: %w", err))
				}
				fingerprint = root.KeyID()
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), struct {
					Dir         string   `json:"dir"`
					Origin      string   `json:"origin"`
					VerifierKey string   `json:"verifier_key"`
					RootKey     string   `json:"root_key_fingerprint,omitempty"`
					Created     []string `json:"created,omitempty"`
				}{dir, origin, vkey, fingerprint, created})
			}
			for _, c := range created {
				fmt.Fprintf(cmd.OutOrStdout(), "created the %s\n", c)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "initialised ledger in %s\norigin: %s\ncheckpoint verifier key (pin this): %s\n", dir, origin, vkey)
			if fingerprint != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "genesis written at index 0; commission root key fingerprint (pin this): %s\n", fingerprint)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result, or the error, as JSON (specs/cli-json.md)")
	cmd.Flags().StringVar(&dir, "dir", "", "ledger directory to create")
	cmd.Flags().StringVar(&origin, "origin", "", "log origin, e.g. log.cyber-oversight.example/acd")
	cmd.Flags().StringVar(&registry, "registry", "", "agency registry JSON (specs/registry.md); see 'acdledger keygen --registry'")
	cmd.Flags().StringVar(&rootKey, "root-key", "", "the commission root private key (from keygen --commission): write the log's genesis, signed by it")
	addUnencryptedFlag(cmd, &unencrypted, "write log.key in the clear (it is encrypted with the key passphrase otherwise)")
	sf.register(cmd, "storage")
	for _, f := range []string{"dir", "origin", "registry"} {
		cmd.MarkFlagRequired(f)
	}
	return cmd
}

// writeGenesis signs the genesis of a new log and appends it at index 0.
func writeGenesis(ctx context.Context, dir, origin, vkey string, regRaw []byte, root *agencykey.Signer, pass []byte, unencrypted bool) error {
	reg, err := specs.ParseRegistry(regRaw)
	if err != nil {
		return err
	}
	draft, err := registrylog.GenesisDraft("genesis", time.Now().UTC().Truncate(time.Second), origin, vkey, root.PublicKey(), reg)
	if err != nil {
		return err
	}
	env, err := root.Sign(draft)
	if err != nil {
		return err
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{KeyPassphrase: func() ([]byte, error) { return pass, nil }, UnencryptedKey: unencrypted || pass == nil})
	if err != nil {
		return err
	}
	werr := l.WriteGenesis(ctx, env)
	if err := l.Close(ctx); werr == nil {
		werr = err
	}
	return werr
}
