package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
)

// genesisLedger is a POSIX ledger opened on a log whose genesis (index 0)
// pins a commission root key made from seed, for the tests of registry
// entries in the log. The test closes the ledger.
type genesisLedger struct {
	kit     *testkit.Kit
	dir     string
	root    *agencykey.Signer
	at      time.Time // the genesis's time, and the registry entries'
	l       *Ledger
	genesis []byte
}

func newGenesisLedger(t *testing.T, origin string, seed byte) *genesisLedger {
	t.Helper()
	ctx := context.Background()
	g := &genesisLedger{kit: testkit.New(t), dir: filepath.Join(t.TempDir(), "ledger"), at: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	vkey, err := Init(g.dir, origin, g.kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, ed25519.SeedSize)
	key[0] = seed
	if g.root, err = agencykey.FromPrivateKey(ed25519.NewKeyFromSeed(key)); err != nil {
		t.Fatal(err)
	}
	if g.l, err = Open(ctx, g.dir, Options{}); err != nil {
		t.Fatal(err)
	}
	draft, err := registrylog.GenesisDraft("genesis", g.at, origin, vkey, g.root.PublicKey(), g.kit.Registry)
	if err != nil {
		t.Fatal(err)
	}
	g.genesis, _ = g.root.Sign(draft)
	if err := g.l.WriteGenesis(ctx, g.genesis); err != nil {
		t.Fatal(err)
	}
	return g
}

// revokeNco logs registry entry 2, revoking agency nco's key, and waits for
// its index.
func (g *genesisLedger) revokeNco(t *testing.T) {
	t.Helper()
	rev, _ := registrylog.Draft("revoke", specs.KindRegistryChange, 2, g.at, map[string]any{"change": "key.revoked", "agency_id": "nco", "key_id": g.kit.Signers["nco"].KeyID()})
	revEnv, _ := g.root.Sign(rev)
	ps, err := g.l.Append(context.Background(), revEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.l.Index(ps[0]); err != nil {
		t.Fatal(err)
	}
}

// A POSIX ledger with a genesis applies a revocation as soon as it is
// admitted, also to an entry verified just before it (against the registry
// the revocation replaced), and restores the trust history on reopen.
func TestTrustHistoryAdmission(t *testing.T) {
	ctx := context.Background()
	g := newGenesisLedger(t, "trust.example/log", 0x77)
	kit, dir, root, at, l, genesis := g.kit, g.dir, g.root, g.at, g.l, g.genesis
	if err := l.WriteGenesis(ctx, genesis); err == nil || !strings.Contains(err.Error(), "only ever at index 0") {
		t.Fatalf("a second genesis: %v", err)
	}
	// An nco entry verified now, admitted after the revocation.
	early, err := l.currentRegistry().VerifyBatch([][]byte{kit.Signed(t, "nco")})
	if err != nil {
		t.Fatal(err)
	}
	g.revokeNco(t)
	_, _, err = l.admit(ctx, early)
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleKeyUnknown || !strings.Contains(v.Message, "revoked by registry entry revoke") {
		t.Fatalf("entry verified before the revocation, admitted after: %v", err)
	}
	// A registry entry in a batch with others is refused.
	add, _ := registrylog.Draft("retire", specs.KindRegistryChange, 3, at, map[string]any{"change": "agency.retired", "agency_id": "npa"})
	addEnv, _ := root.Sign(add)
	if _, err := l.Append(ctx, addEnv, kit.Signed(t, "commission")); !errors.As(err, &v) || v.Rule != specs.RuleRegistry {
		t.Fatalf("registry entry in a batch: %v", err)
	}
	kit.Unseq("commission")
	// A change that cannot apply: rule registry.change, nothing appended.
	bad, _ := registrylog.Draft("bad", specs.KindRegistryChange, 3, at, map[string]any{"change": "key.revoked", "agency_id": "nco", "key_id": kit.Signers["nco"].KeyID()})
	badEnv, _ := root.Sign(bad)
	if _, err := l.Append(ctx, badEnv); !errors.As(err, &v) || v.Rule != specs.RuleRegistry || v.Field != "body.key_id" {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Reopened, the history is the log's: the key is still revoked, and
	// registry.json in the directory (unchanged) does not matter.
	l, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	kit.Unseq("nco")
	if _, err := l.Append(ctx, kit.Signed(t, "nco")); !errors.As(err, &v) || v.Rule != specs.RuleKeyUnknown {
		t.Fatalf("after reopen, the revoked key: %v", err)
	}
	if n := len(l.History().Versions()); n != 2 {
		t.Errorf("restored history has %d versions, want 2", n)
	}
	if l.snapSize == 0 {
		t.Errorf("reopened by a full replay: the history was not restored from the admission snapshot's trust section")
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, RegistryFile)); string(raw) != string(kit.RegJSON) {
		t.Errorf("registry.json was rewritten")
	}
}

// A log without a genesis stands on registry.json and refuses registry
// entries, saying why.
func TestNoGenesisRefusesRegistryEntries(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := filepath.Join(t.TempDir(), "ledger")
	if _, err := Init(dir, "plain.example/log", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	seed := make([]byte, ed25519.SeedSize)
	root, _ := agencykey.FromPrivateKey(ed25519.NewKeyFromSeed(seed))
	d, _ := registrylog.Draft("r", specs.KindRegistryChange, 2, time.Now(), map[string]any{"change": "agency.retired", "agency_id": "npa"})
	env, _ := root.Sign(d)
	var v *specs.Violation
	if _, err := l.Append(ctx, env); !errors.As(err, &v) || v.Rule != specs.RuleAgencyUnknown || !strings.Contains(v.Message, "has no commission root key") {
		t.Fatalf("registry entry on a log without genesis: %v", err)
	}
}
