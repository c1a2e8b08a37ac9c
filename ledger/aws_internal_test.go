package ledger

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

// Tessera's connections run READ COMMITTED (readCommittedDSN), whichever
// name the server gives the variable; a DSN that is not one is refused.
func TestReadCommittedDSN(t *testing.T) {
	if _, err := readCommittedDSN(context.Background(), "not a dsn"); err == nil {
		t.Fatal("a malformed DSN was accepted")
	}
	dsn := os.Getenv("ACDLEDGER_TEST_MYSQL_DSN") // internal/storagetest.EnvDSN (which imports this package)
	if dsn == "" {
		if os.Getenv("ACDLEDGER_NO_SERVICES") == "1" {
			t.Skip("ACDLEDGER_NO_SERVICES=1")
		}
		t.Fatal("MariaDB is not running: run the tests through scripts/services.sh test-run (make test does)")
	}
	rc, err := readCommittedDSN(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", rc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var level string
	if err := db.QueryRow(`SELECT COALESCE(@@tx_isolation, '')`).Scan(&level); err != nil {
		// MySQL 8 knows only transaction_isolation.
		if err := db.QueryRow(`SELECT @@transaction_isolation`).Scan(&level); err != nil {
			t.Fatal(err)
		}
	}
	if level != "READ-COMMITTED" {
		t.Fatalf("isolation %q through %s, want READ-COMMITTED", level, rc)
	}
}
