package main_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/go-sql-driver/mysql"
)

// init --storage aws creates the database and the bucket when the
// credentials allow it, and says so; with a database user that may not
// create the database it writes nothing and exits 2 naming what to create;
// serve on a ledger whose database or bucket is gone names that piece.
func TestInitAWSCreatesOrNames(t *testing.T) {
	rootDSN, endpoint := storagetest.Services(t)
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	must(t, "demo", "generate", "--out", ag, "--seed", "3", "--entries", "20", "--parts", "1")
	reg := filepath.Join(ag, "registry.json")
	b := make([]byte, 5)
	rand.Read(b)
	name := "acdi_" + hex.EncodeToString(b)
	bucket := strings.ReplaceAll(name, "_", "-")
	c, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	root, err := sql.Open("mysql", rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	t.Cleanup(func() {
		root.Exec("DROP DATABASE IF EXISTS " + name)
		root.Exec("DROP USER IF EXISTS '" + name + "'@'%'")
	})

	// A user with no right to create databases: init names the database,
	// with the statement to run, and writes no ledger directory.
	if _, err := root.Exec("CREATE USER '" + name + "'@'%'"); err != nil {
		t.Fatal(err)
	}
	lim := *c
	lim.User, lim.DBName = name, name
	fe0 := filepath.Join(work, "refused")
	r := mustFail(t, 2, `database "`+name+`"`, "init", "--dir", fe0, "--origin", "init.acdledger.example/log", "--registry", reg,
		"--storage", "aws", "--s3-bucket", bucket, "--s3-endpoint", endpoint, "--mysql-dsn", lim.FormatDSN())
	if !strings.Contains(r.stderr, "CREATE DATABASE `"+name+"`") {
		t.Fatalf("the refusal does not say what to create: %s", r.stderr)
	}
	if _, err := os.Stat(fe0); !os.IsNotExist(err) {
		t.Fatalf("init wrote %s although it refused (%v)", fe0, err)
	}

	// With root: both are created, and said to be.
	withDB := *c
	withDB.DBName = name
	fe := filepath.Join(work, "frontend")
	out := must(t, "init", "--dir", fe, "--origin", "init.acdledger.example/log", "--registry", reg,
		"--storage", "aws", "--s3-bucket", bucket, "--s3-endpoint", endpoint, "--mysql-dsn", withDB.FormatDSN())
	if !strings.Contains(out, `created the database "`+name+`"`) || !strings.Contains(out, `created the bucket "`+bucket+`"`) {
		t.Fatalf("init did not say what it created:\n%s", out)
	}
	must(t, "append", "--ledger", fe, filepath.Join(ag, "part-1.dsse.jsonl"))

	// The database dropped behind the ledger's back: serve names it.
	if _, err := root.ExecContext(context.Background(), "DROP DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	mustFail(t, 2, `the database "`+name+`" on `+c.Addr+` does not exist`, "serve", "--ledger", fe, "--listen", "127.0.0.1:0")
	// A ledger pointed at a bucket that does not exist: serve names it.
	fe2 := filepath.Join(work, "frontend-2")
	must(t, "init", "--dir", fe2, "--origin", "init2.acdledger.example/log", "--registry", reg,
		"--storage", "aws", "--s3-bucket", bucket+"-2", "--s3-endpoint", endpoint, "--mysql-dsn", withDB.FormatDSN())
	if _, err := root.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	mustFail(t, 2, `the bucket "`+bucket+`-3" on `+endpoint+` does not exist`, "serve", "--ledger", fe2, "--listen", "127.0.0.1:0", "--s3-bucket", bucket+"-3")
}
