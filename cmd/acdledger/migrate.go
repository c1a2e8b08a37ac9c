package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/ledger"
	"github.com/spf13/cobra"
)

func newMigrate() *cobra.Command {
	var from, to, dir string
	var asJSON, unencrypted bool
	var sf storageFlags
	cmd := &cobra.Command{
		Use:   "migrate --from posix:DIR --to aws --ledger NEWDIR [--s3-… --mysql-dsn …]",
		Short: "Move an existing log to the AWS storage driver, as the same log",
		Long: `migrate copies a POSIX ledger's log into Tessera's AWS driver (a MySQL-compatible
database and an S3-compatible bucket) with Tessera's migration support. The target
recomputes the tree from the copied entry bundles, and the command fails unless its
root equals the root in the source's signed checkpoint. NEWDIR becomes the first
frontend's configuration, with the log's own checkpoint key, origin and registry:
auditors' pins stay valid. The shared admission state is then rebuilt from the
migrated entries (each agency's seq continues) and the target publishes a
checkpoint of the same size and root, signed with the same key.

The source is locked during the copy (stop 'acdledger serve' on it first) and left
as it is. Serve the target with 'acdledger serve --ledger NEWDIR'.

` + storageHelp,
		Example: `  ACDLEDGER_MYSQL_PASSWORD=… AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
    acdledger migrate --from posix:ledger --to aws --ledger frontend \
    --s3-bucket acd-log --mysql-dsn 'acd@tcp(db.internal:3306)/acdledger'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sf.envDefaults(cmd); err != nil {
				return usage(err)
			}
			d, srcDir, err := ledger.ParseStorageSpec(from)
			if err != nil {
				return usage(err)
			}
			if d != ledger.DriverPOSIX || srcDir == "" {
				return usage(errors.New("--from must be posix:DIR (a ledger directory)"))
			}
			if to != ledger.DriverAWS {
				return usage(errors.New("--to must be aws"))
			}
			if dir == "" {
				return usage(errors.New("--ledger NEWDIR (the target frontend's configuration directory) is required"))
			}
			st := sf.over(ledger.Storage{Driver: ledger.DriverAWS})
			if err := st.Validate(); err != nil {
				return usage(err)
			}
			bar := progress.Stderr("copying entries")
			res, err := ledger.Migrate(context.Background(), srcDir, dir, st, ledger.Options{KeyPassphrase: keyPassphrase, UnencryptedKey: unencrypted}, bar.Update)
			bar.Finish()
			if err != nil {
				return failed(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"entries": res.Size, "root_hash": hex.EncodeToString(res.Root), "checkpoint": string(res.Checkpoint)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "migrated %d entries; the target's root %x equals the source checkpoint's\ntarget checkpoint:\n%s", res.Size, res.Root, res.Checkpoint)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "source: posix:DIR, a ledger directory")
	f.StringVar(&to, "to", ledger.DriverAWS, "target storage driver: aws")
	f.StringVar(&dir, "ledger", "", "target frontend's configuration directory to create")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	addUnencryptedFlag(cmd, &unencrypted, "use a log.key that is not encrypted with a passphrase (refused otherwise)")
	sf.register(cmd, "")
	return cmd
}
