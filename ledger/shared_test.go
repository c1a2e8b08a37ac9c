package ledger_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
)

// Two frontends of one log (same database and bucket) race on the same
// agency's seq, round after round: two different entries, both claiming
// seq N, admitted at the same moment. Exactly one wins each round; the
// other gets the ordinary seq refusal; the log ends with one entry per seq,
// and each frontend sees the other's admissions.
func TestTwoFrontendsRaceOnSeq(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir1 := storagetest.NewLedger(t, ledger.DriverAWS, "race.test.example/log", kit.RegJSON)
	dir2 := storagetest.Frontend(t, dir1)
	l1, err := ledger.Open(ctx, dir1, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close(ctx)
	l2, err := ledger.Open(ctx, dir2, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(ctx)
	const rounds = 20
	wins := [2]int{}
	for n := 1; n <= rounds; n++ {
		a := kit.Signed(t, "nco")
		kit.Unseq("nco")
		b := kit.Signed(t, "nco") // another id, the same seq
		var wg sync.WaitGroup
		errs := [2]error{}
		ps := [2][]*ledger.Pending{}
		for i, c := range []struct {
			l   *ledger.Ledger
			env []byte
		}{{l1, a}, {l2, b}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ps[i], errs[i] = c.l.Append(ctx, c.env)
			}()
		}
		wg.Wait()
		var v *specs.Violation
		switch {
		case errs[0] == nil && errors.As(errs[1], &v) && v.Rule == specs.RuleSeq:
			wins[0]++
			if _, err := l1.Index(ps[0][0]); err != nil {
				t.Fatal(err)
			}
		case errs[1] == nil && errors.As(errs[0], &v) && v.Rule == specs.RuleSeq:
			wins[1]++
			if _, err := l2.Index(ps[1][0]); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("round %d: want exactly one admission and one seq refusal, got %v and %v", n, errs[0], errs[1])
		}
	}
	for _, l := range []*ledger.Ledger{l1, l2} {
		if got := l.LastSeq("nco"); got != rounds {
			t.Fatalf("last seq %d, want %d", got, rounds)
		}
		if got := l.Len(); got != rounds {
			t.Fatalf("%d entries, want %d", got, rounds)
		}
	}
	t.Logf("wins: frontend 1 %d, frontend 2 %d", wins[0], wins[1])
}

// The storage settings refuse what they must: a password in a saved DSN,
// a driver that does not exist, AWS without its bucket or database.
func TestStorageSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   ledger.Storage
		want string
	}{
		{"password in DSN", ledger.Storage{Driver: "aws", Bucket: "b", DSN: "acd:secret@tcp(db:3306)/acd"}, "password"},
		{"unknown driver", ledger.Storage{Driver: "ftp"}, "unknown storage driver"},
		{"no bucket", ledger.Storage{Driver: "aws", DSN: "acd@tcp(db:3306)/acd"}, "bucket is required"},
		{"no DSN", ledger.Storage{Driver: "aws", Bucket: "b"}, "DSN is required"},
		{"posix with bucket", ledger.Storage{Driver: "posix", Bucket: "b"}, "not posix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ledger.InitStorage(t.TempDir(), "x.example/log", testkit.New(t).RegJSON, tc.st)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// An admission table made by an older acdledger (without the kind and
// case_id columns that rule refs.kind reads) is refused on open, with a
// message saying what to do, rather than used to admit unchecked refs.
func TestSharedRefusesOldEntryTable(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	st := storagetest.AWSStorage(t)
	db, err := sql.Open("mysql", st.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE acd_entry (
		id VARBINARY(255) NOT NULL PRIMARY KEY, agency VARBINARY(255) NOT NULL, seq BIGINT UNSIGNED NOT NULL,
		idx BIGINT UNSIGNED NULL, hash BINARY(32) NOT NULL, owner VARBINARY(255) NOT NULL, floor BIGINT UNSIGNED NOT NULL,
		reserved_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ledger.InitStorage(dir, "old.test.example/log", kit.RegJSON, st); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err == nil {
		l.Close(ctx)
		t.Fatal("opened a ledger on an admission table without kind and case_id")
	}
	if !strings.Contains(err.Error(), "made by an older acdledger") || !strings.Contains(err.Error(), "drop the tables") {
		t.Fatalf("got %v", err)
	}
}
