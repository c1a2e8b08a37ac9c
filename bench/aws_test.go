package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/ledger"
)

var nAWSEntries = envInt("ACDLEDGER_BENCH_AWS_ENTRIES", 20_000) // (6)

// awsCheckpointInterval is the AWS driver's minimum, which acdledger uses.
const awsCheckpointInterval = time.Second

// awsStorage is a fresh database and bucket on the test services, or a
// skip with a note saying how to get them.
func awsStorage(b *testing.B) ledger.Storage {
	if os.Getenv(storagetest.EnvDSN) == "" || os.Getenv(storagetest.EnvS3Endpoint) == "" {
		fmt.Fprintln(os.Stderr, "bench: AWS-driver rows skipped: MariaDB and versitygw are not running "+
			"(make bench starts them when installed: scripts/install-test-deps.sh)")
		b.Skip("no test services")
	}
	return storagetest.AWSStorage(b)
}

// (6a) Bare Tessera on the AWS driver, as (1): the same leaves, the
// driver's minimum checkpoint interval (1s).
func BenchmarkTesseraAWS(b *testing.B) {
	f := loadFixture(b)
	n := min(nAWSEntries, len(f.envs))
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = make([]byte, f.avgSize)
		copy(leaves[i], fmt.Sprintf("leaf %d", i))
	}
	for b.Loop() {
		b.StopTimer()
		st := awsStorage(b)
		d, err := ledger.TesseraDriver(context.Background(), st)
		if err != nil {
			b.Fatal(err)
		}
		r := runTessera(b, d, awsCheckpointInterval, leaves, nil)
		b.StartTimer()
		r.id = "6a"
		r.name = fmt.Sprintf("bare Tessera AWS driver (MariaDB + versitygw), %d B leaves", f.avgSize)
		record(b, r)
	}
}

// (6b) acdledger in-process on the AWS driver, as (2): Append of chunks of
// 256 pre-signed envelopes from one goroutine, a Receipt for each, with the
// admission state in the shared database.
func BenchmarkLedgerAppendAWS(b *testing.B) {
	full := loadFixture(b)
	f := *full
	f.envs = full.envs[:min(nAWSEntries, len(full.envs))]
	for b.Loop() {
		b.StopTimer()
		st := awsStorage(b)
		r, _ := runLedgerOn(b, scratch(b, "ledger-aws"), &f, 0, true, st)
		b.StartTimer()
		r.id = "6b"
		r.name = fmt.Sprintf("in-process on the AWS driver, Append ×%d from 1 goroutine, Receipt each", chunk)
		record(b, r)
	}
}
