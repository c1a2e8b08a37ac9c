package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"
)

// storageFlags are the storage settings that init, serve and migrate take.
// Credentials are never flags: the MySQL password comes from
// ACDLEDGER_MYSQL_PASSWORD (or a whole DSN from ACDLEDGER_MYSQL_DSN), the S3
// keys from the AWS SDK's usual chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, shared files, instance roles).
type storageFlags struct {
	driver, bucket, prefix, endpoint, region, dsn, frontend string
	ttl                                                     time.Duration
}

const storageHelp = `Storage: --storage posix (the default: the log is DIR/log, one process) or
--storage aws (Tessera's AWS driver: a MySQL-compatible database and an
S3-compatible bucket, shared by any number of frontends; see docs/deploy.md):
  --s3-bucket, --s3-prefix, --s3-endpoint (non-AWS S3, path-style), --s3-region,
  --mysql-dsn (without password), --frontend, --reservation-ttl.
Environment: ACDLEDGER_STORAGE, ACDLEDGER_S3_BUCKET, ACDLEDGER_S3_PREFIX,
ACDLEDGER_S3_ENDPOINT, ACDLEDGER_S3_REGION, ACDLEDGER_FRONTEND; credentials only
from the environment: ACDLEDGER_MYSQL_PASSWORD (or the whole DSN in
ACDLEDGER_MYSQL_DSN), and the AWS SDK's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
shared config files or instance roles.`

var storageEnv = map[string]string{
	"storage": "ACDLEDGER_STORAGE", "s3-bucket": "ACDLEDGER_S3_BUCKET", "s3-prefix": "ACDLEDGER_S3_PREFIX",
	"s3-endpoint": "ACDLEDGER_S3_ENDPOINT", "s3-region": "ACDLEDGER_S3_REGION", "frontend": "ACDLEDGER_FRONTEND",
}

func (s *storageFlags) register(cmd *cobra.Command, driverFlag string) {
	f := cmd.Flags()
	if driverFlag != "" {
		f.StringVar(&s.driver, driverFlag, "", "storage driver: posix or aws")
	}
	f.StringVar(&s.bucket, "s3-bucket", "", "aws storage: S3 bucket holding the log")
	f.StringVar(&s.prefix, "s3-prefix", "", "aws storage: object key prefix (several logs may share a bucket)")
	f.StringVar(&s.endpoint, "s3-endpoint", "", "aws storage: S3-compatible endpoint URL (path-style); empty for AWS S3")
	f.StringVar(&s.region, "s3-region", "", "aws storage: region (default us-east-1 with --s3-endpoint, else the SDK's)")
	f.StringVar(&s.dsn, "mysql-dsn", "", "aws storage: MySQL DSN without password, e.g. acd@tcp(db:3306)/acdledger (password: ACDLEDGER_MYSQL_PASSWORD)")
	f.StringVar(&s.frontend, "frontend", "", "aws storage: this frontend's name in the shared state (default host:directory)")
	f.DurationVar(&s.ttl, "reservation-ttl", 0, "aws storage: how long an admission may stay unsequenced before any frontend settles it (default 1m)")
}

// envDefaults applies the storage environment variables, and refuses a
// password given on the command line.
func (s *storageFlags) envDefaults(cmd *cobra.Command) error {
	if err := envDefaults(cmd, storageEnv); err != nil {
		return err
	}
	if s.dsn != "" {
		c, err := mysql.ParseDSN(s.dsn)
		if err != nil {
			return fmt.Errorf("--mysql-dsn: %w", err)
		}
		if c.Passwd != "" {
			return errors.New("--mysql-dsn carries a password: credentials never go on the command line; set ACDLEDGER_MYSQL_PASSWORD (or the whole DSN in ACDLEDGER_MYSQL_DSN)")
		}
	} else if v := os.Getenv(ledger.EnvMySQLDSN); v != "" {
		// The saved settings keep the DSN without its password; the
		// password is read from the environment again on every open.
		c, err := mysql.ParseDSN(v)
		if err != nil {
			return fmt.Errorf("%s: %w", ledger.EnvMySQLDSN, err)
		}
		c.Passwd = ""
		s.dsn = c.FormatDSN()
	}
	return nil
}

func (s *storageFlags) anySet() bool {
	return s.bucket != "" || s.prefix != "" || s.endpoint != "" || s.region != "" || s.dsn != "" || s.frontend != "" || s.ttl != 0
}

// over lays the flags given over base (a ledger directory's saved settings).
func (s *storageFlags) over(base ledger.Storage) ledger.Storage {
	if s.driver != "" {
		base.Driver = s.driver
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&base.Bucket, s.bucket)
	set(&base.Prefix, s.prefix)
	set(&base.Endpoint, s.endpoint)
	set(&base.Region, s.region)
	set(&base.DSN, s.dsn)
	set(&base.Frontend, s.frontend)
	if s.ttl != 0 {
		base.ReservationTTL = ledger.Duration(s.ttl)
	}
	return base
}

// forDir is the storage to open dir with: its saved settings, with any
// storage flags laid over them (nil when no flag is given).
func (s *storageFlags) forDir(dir string) (*ledger.Storage, error) {
	if s.driver == "" && !s.anySet() {
		return nil, nil
	}
	base, err := ledger.ReadStorage(dir)
	if err != nil {
		return nil, err
	}
	st := s.over(base)
	return &st, st.Validate()
}
