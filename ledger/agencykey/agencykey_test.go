package agencykey_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
)

func TestKeyLifecycle(t *testing.T) {
	for _, alg := range []string{agencykey.Ed25519, agencykey.ECDSAP256} {
		t.Run(alg, func(t *testing.T) {
			priv, pub, id, err := agencykey.Generate(alg, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(priv), "ENCRYPTED SIGSTORE PRIVATE KEY") || !strings.Contains(string(pub), "PUBLIC KEY") {
				t.Fatalf("unexpected PEM types:\n%s\n%s", priv, pub)
			}
			base := filepath.Join(t.TempDir(), "k")
			if err := agencykey.WriteFiles(base, priv, pub); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(base + ".key"); fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key mode %v", fi.Mode())
			}
			if err := agencykey.WriteFiles(base, priv, pub); err == nil {
				t.Fatal("overwrote an existing private key")
			}
			if _, err := agencykey.Load(base+".key", []byte("wrong")); err == nil {
				t.Fatal("wrong passphrase accepted")
			}
			s, err := agencykey.Load(base+".key", []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != id {
				t.Fatalf("key id %s after load, %s at generation", s.KeyID(), id)
			}
			// What it signs verifies with the registered public key.
			reg := &specs.Registry{}
			if _, err := reg.Add("nco", "NCO", "agency", []string{"pm.ordered"}, s.PublicKey()); err != nil {
				t.Fatal(err)
			}
			env, err := s.Sign([]byte(`{"id":"A","kind":"pm.ordered","schema":2,"agency":"nco","seq":1,"occurred_at":"2026-06-01T00:00:00Z","case":"C","legal_basis":{"law":"sdf-act","article":"81"},"refs":[],"body":{"order_id":"PM-1","ordered_at":"2026-06-01T00:00:00Z"}}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Verify(env); err != nil {
				t.Fatalf("own signature does not verify: %v", err)
			}
		})
	}
	if _, _, _, err := agencykey.Generate(agencykey.Ed25519, nil); err == nil {
		t.Fatal("empty passphrase accepted")
	}
	if _, _, _, err := agencykey.Generate("rsa", []byte("pw")); err == nil {
		t.Fatal("RSA accepted")
	}
}
