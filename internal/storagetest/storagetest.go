// Package storagetest runs the ledger's behaviour tests against every
// storage driver: a fresh POSIX directory, or a fresh database and bucket on
// the MariaDB and versitygw that scripts/services.sh starts (make test does
// that itself). Nothing is mocked.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/go-sql-driver/mysql"
)

// Drivers are the storage drivers every behaviour test runs against.
var Drivers = []string{ledger.DriverPOSIX, ledger.DriverAWS}

// Environment variables that scripts/services.sh prints.
const (
	EnvDSN        = "ACDLEDGER_TEST_MYSQL_DSN"   // root DSN, no database
	EnvS3Endpoint = "ACDLEDGER_TEST_S3_ENDPOINT" // credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
	EnvNoServices = "ACDLEDGER_NO_SERVICES"      // "1": skip the tests that need the services
)

// TTL is the reservation TTL of test ledgers: short, so a killed
// frontend's unfinished admissions are settled within a test.
const TTL = 5 * time.Second

// Services returns the test services' settings. Without them the test
// fails, saying how to get them, unless ACDLEDGER_NO_SERVICES=1 says to
// skip it.
func Services(t testing.TB) (dsn, endpoint string) {
	t.Helper()
	dsn, endpoint = os.Getenv(EnvDSN), os.Getenv(EnvS3Endpoint)
	if dsn != "" && endpoint != "" {
		return dsn, endpoint
	}
	msg := "this test needs MariaDB and versitygw (the AWS storage driver's services): run `make test`, which starts them " +
		"with scripts/services.sh, or `eval \"$(scripts/services.sh start)\"` before go test; install them with " +
		"scripts/install-test-deps.sh (apt-get install mariadb-server; go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
	if os.Getenv(EnvNoServices) == "1" {
		t.Skip("ACDLEDGER_NO_SERVICES=1: skipping: " + msg)
	}
	t.Fatal(EnvDSN + " and " + EnvS3Endpoint + " are not set: " + msg)
	return "", ""
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// AWSStorage makes a fresh database and bucket and returns the settings of
// a ledger on them.
func AWSStorage(t testing.TB) ledger.Storage {
	t.Helper()
	dsn, endpoint := Services(t)
	ctx := context.Background()
	name := randomName("acdt_")
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dsn)
		if err == nil {
			db.Exec("DROP DATABASE " + name)
			db.Close()
		}
	})
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c.DBName = name
	sdk, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(sdk, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	bucket := strings.ReplaceAll(name, "_", "-")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("creating test bucket: %v", err)
	}
	return ledger.Storage{Driver: ledger.DriverAWS, Bucket: bucket, Endpoint: endpoint, DSN: c.FormatDSN(), ReservationTTL: ledger.Duration(TTL)}
}

// NewLedger initialises a ledger directory on the given driver and
// returns it (open it with ledger.Open).
func NewLedger(t testing.TB, driver, origin string, registry []byte) string {
	t.Helper()
	st := ledger.Storage{Driver: ledger.DriverPOSIX}
	if driver == ledger.DriverAWS {
		st = AWSStorage(t)
	}
	dir := t.TempDir()
	if _, err := ledger.InitStorage(dir, origin, registry, st); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Frontend copies a ledger directory's configuration (keys, registry,
// storage settings) to a new directory: another frontend of the same log.
func Frontend(t testing.TB, dir string) string {
	t.Helper()
	out := t.TempDir()
	for _, f := range []string{ledger.SignerFile, ledger.VerifierFile, ledger.RegistryFile, ledger.StorageFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Run runs f as a subtest once per driver.
func Run(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range Drivers {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}
