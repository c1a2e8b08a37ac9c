package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/go-sql-driver/mysql"
)

// Storage drivers.
const (
	DriverPOSIX = "posix" // Tessera's POSIX driver: the log is DIR/log, one process (the default)
	DriverAWS   = "aws"   // Tessera's AWS driver: a MySQL-compatible database and an S3-compatible bucket, many frontends
)

// StorageFile holds a ledger directory's storage settings. It is absent for
// the POSIX driver (the default), and never holds a secret.
const StorageFile = "storage.json"

// Environment variables read when a ledger is opened. Credentials come only
// from the environment (or, for S3, the AWS SDK's usual chain: environment,
// shared files, instance roles), never from flags or StorageFile.
const (
	EnvMySQLDSN      = "ACDLEDGER_MYSQL_DSN"      // a whole DSN, password included; replaces the saved one
	EnvMySQLPassword = "ACDLEDGER_MYSQL_PASSWORD" // the password for the saved DSN
)

// Storage says where a ledger's log and admission state live. With the AWS
// driver the ledger directory keeps only the frontend's configuration (keys,
// registry, this file); the log is in the bucket and the admission state in
// the database, shared by every frontend.
type Storage struct {
	Driver string `json:"driver"`

	Bucket   string `json:"bucket,omitempty"`
	Prefix   string `json:"prefix,omitempty"`   // object key prefix: several logs may share a bucket
	Endpoint string `json:"endpoint,omitempty"` // S3-compatible service (path-style requests); empty for AWS S3
	Region   string `json:"region,omitempty"`   // default us-east-1 with an endpoint, else the SDK's
	DSN      string `json:"mysql_dsn,omitempty"`

	// Frontend names this process in the shared admission state, so that
	// after a crash it can settle its own unfinished admissions at once.
	// Default: host name and ledger directory. Two running frontends must
	// not share one (the directory lock ensures it on one host).
	Frontend string `json:"frontend,omitempty"`
	// ReservationTTL is how long an admission may stay unsequenced before
	// any frontend settles it (default 1 minute; see docs/deploy.md).
	ReservationTTL Duration `json:"reservation_ttl,omitempty"`
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// Validate checks the settings a driver needs, and that the saved DSN
// carries no password.
func (s Storage) Validate() error {
	switch s.Driver {
	case "", DriverPOSIX:
		if s.Bucket != "" || s.DSN != "" || s.Endpoint != "" {
			return errors.New("bucket, endpoint and MySQL DSN are settings of the aws storage driver, not posix")
		}
		return nil
	case DriverAWS:
		if s.Bucket == "" {
			return errors.New("aws storage: the S3 bucket is required (--s3-bucket or ACDLEDGER_S3_BUCKET)")
		}
		if s.DSN == "" {
			return errors.New("aws storage: the MySQL DSN is required (--mysql-dsn without password, or " + EnvMySQLDSN + ")")
		}
		if _, err := mysql.ParseDSN(s.DSN); err != nil {
			return fmt.Errorf("aws storage: MySQL DSN: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown storage driver %q: want posix or aws", s.Driver)
}

// withoutPassword is the DSN to save: the password, if any, is dropped.
func withoutPassword(dsn string) (string, bool, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", false, err
	}
	had := c.Passwd != ""
	c.Passwd = ""
	return c.FormatDSN(), had, nil
}

// resolvedDSN applies the environment: a whole DSN, or a password.
func (s Storage) resolvedDSN() (string, error) {
	if v := os.Getenv(EnvMySQLDSN); v != "" {
		return v, nil
	}
	pw := os.Getenv(EnvMySQLPassword)
	if pw == "" {
		return s.DSN, nil
	}
	c, err := mysql.ParseDSN(s.DSN)
	if err != nil {
		return "", err
	}
	c.Passwd = pw
	return c.FormatDSN(), nil
}

// ParseStorageSpec reads the --storage flag: "posix", "posix:DIR" (DIR is
// then the ledger directory, for commands that take one storage argument)
// or "aws".
func ParseStorageSpec(spec string) (driver, dir string, err error) {
	d, rest, _ := strings.Cut(spec, ":")
	switch d {
	case DriverPOSIX:
		return DriverPOSIX, rest, nil
	case DriverAWS:
		if rest != "" {
			return "", "", fmt.Errorf("storage %q: aws takes its settings from the --s3-… and --mysql-dsn flags", spec)
		}
		return DriverAWS, "", nil
	}
	return "", "", fmt.Errorf("storage %q: want posix, posix:DIR or aws", spec)
}

// WriteStorage saves storage settings in a ledger directory (nothing for
// the POSIX driver). A password in the DSN is refused: it belongs in the
// environment.
func WriteStorage(dir string, s Storage) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Driver == "" || s.Driver == DriverPOSIX {
		return nil
	}
	dsn, had, err := withoutPassword(s.DSN)
	if err != nil {
		return err
	}
	if had {
		return fmt.Errorf("the MySQL DSN to save carries a password; give the password in %s (or the whole DSN in %s) instead", EnvMySQLPassword, EnvMySQLDSN)
	}
	s.DSN = dsn
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, StorageFile), append(b, '\n'), 0o644)
}

// ReadStorage loads a ledger directory's storage settings (POSIX if the
// file is absent).
func ReadStorage(dir string) (Storage, error) {
	b, err := os.ReadFile(filepath.Join(dir, StorageFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Storage{Driver: DriverPOSIX}, nil
	}
	if err != nil {
		return Storage{}, err
	}
	var s Storage
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Storage{}, fmt.Errorf("%s: %w", StorageFile, err)
	}
	if s.Driver == "" {
		s.Driver = DriverPOSIX
	}
	return s, s.Validate()
}
