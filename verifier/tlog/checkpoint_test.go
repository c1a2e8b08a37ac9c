package tlog_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// A fixed test-only key, so that the fuzz corpus stays meaningful between
// runs: mutations of a validly signed checkpoint reach the parsing code.
const (
	fuzzSKey = "PRIVATE+KEY+example.com/acdledger/fuzz+89690cb3+AX2sAZplG0HHEpaY51Npbw75xsXuELtytWuz61KRMpYU"
	fuzzVKey = "example.com/acdledger/fuzz+89690cb3+ARGSePlwlQs8/UZoB93Ij/Ibp3peFCMf4xc9qupDVhEy"
)

func sign(t testing.TB, s note.Signer, body string) []byte {
	t.Helper()
	raw, err := note.Sign(&note.Note{Text: body}, s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func cpBody(origin string, size uint64, hash []byte) string {
	return string(log.Checkpoint{Origin: origin, Size: size, Hash: hash}.Marshal())
}

var someRoot = rfc6962.DefaultHasher.HashLeaf([]byte("root"))

func TestParseVerifierKey(t *testing.T) {
	v, err := tlog.ParseVerifierKey("  " + fuzzVKey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != "example.com/acdledger/fuzz" {
		t.Errorf("name %q", v.Name())
	}
	for _, bad := range []string{"", "nonsense", fuzzSKey, "a+b+!!!"} {
		if _, err := tlog.ParseVerifierKey(bad); err == nil {
			t.Errorf("ParseVerifierKey(%q) succeeded", bad)
		}
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	k := newTestKey(t)
	other := newTestKey(t) // same name, different key
	good := sign(t, k.signer, cpBody(testOrigin, 42, someRoot))

	cp, err := tlog.VerifyCheckpoint(good, k.trust)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != testOrigin || cp.Size != 42 || !bytes.Equal(cp.Hash, someRoot) || !bytes.Equal(cp.Raw, good) {
		t.Errorf("got %+v", cp)
	}

	// A valid signature whose last byte is changed: the key is known but
	// the signature does not verify.
	i := bytes.LastIndexByte(good[:len(good)-1], ' ')
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(good[i+1:])))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	badSig := fmt.Appendf(bytes.Clone(good[:i+1]), "%s\n", base64.StdEncoding.EncodeToString(sig))

	flippedBody := bytes.Replace(good, []byte("42"), []byte("43"), 1)

	for _, tc := range []struct {
		name  string
		raw   []byte
		trust tlog.Trust
		want  error
		msg   string
	}{
		{"other key", good, other.trust, tlog.ErrBadSignature, "not signed by log key"},
		{"altered body", flippedBody, k.trust, tlog.ErrBadSignature, "does not verify"},
		{"altered signature", badSig, k.trust, tlog.ErrBadSignature, "does not verify"},
		{"wrong origin", good, tlog.Trust{Origin: "example.com/other", Verifier: k.trust.Verifier}, tlog.ErrWrongOrigin, `"example.com/other"`},
		{"origin not key name", sign(t, k.signer, cpBody("example.com/elsewhere", 1, someRoot)), k.trust, tlog.ErrWrongOrigin, ""},
		{"not a note", []byte("hello\n"), k.trust, tlog.ErrMalformedCheckpoint, ""},
		{"empty", nil, k.trust, tlog.ErrMalformedCheckpoint, ""},
		{"bad size", sign(t, k.signer, testOrigin+"\nlots\n"+base64.StdEncoding.EncodeToString(someRoot)+"\n"), k.trust, tlog.ErrMalformedCheckpoint, "size"},
		{"short hash", sign(t, k.signer, cpBody(testOrigin, 1, someRoot[:20])), k.trust, tlog.ErrMalformedCheckpoint, "20 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlog.VerifyCheckpoint(tc.raw, tc.trust)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}

	if _, err := tlog.VerifyCheckpoint(good, tlog.Trust{}); err == nil {
		t.Error("verified without a key")
	}
}

func TestCompareCheckpointsOffline(t *testing.T) {
	k := newTestKey(t)
	mk := func(size uint64, root []byte) *tlog.Checkpoint {
		cp, err := tlog.VerifyCheckpoint(sign(t, k.signer, cpBody(testOrigin, size, root)), k.trust)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	a, b := mk(5, someRoot), mk(5, rfc6962.DefaultHasher.HashLeaf([]byte("other")))
	if err := tlog.CompareCheckpoints(a, a, nil); err != nil {
		t.Errorf("same checkpoint: %v", err)
	}
	var fork *tlog.ForkError
	if err := tlog.CompareCheckpoints(a, b, nil); !errors.As(err, &fork) {
		t.Errorf("fork: got %v", err)
	}
	var rb *tlog.RollbackError
	if err := tlog.CompareCheckpoints(mk(6, someRoot), a, nil); !errors.As(err, &rb) {
		t.Errorf("rollback: got %v", err)
	}
	if err := tlog.CompareCheckpoints(a, mk(9, someRoot), nil); !errors.Is(err, tlog.ErrProofRequired) {
		t.Errorf("no proof: got %v", err)
	}
	if err := tlog.CompareCheckpoints(mk(0, rfc6962.DefaultHasher.EmptyRoot()), a, nil); err != nil {
		t.Errorf("from empty tree: %v", err)
	}
	if _, err := tlog.WriteEvidence(t.TempDir(), errors.New("plain")); err == nil {
		t.Error("WriteEvidence accepted an error without evidence")
	}
}

func TestState(t *testing.T) {
	k := newTestKey(t)
	path := filepath.Join(t.TempDir(), "state")

	cp, err := tlog.LoadState(path, k.trust)
	if err != nil || cp != nil {
		t.Fatalf("missing state file: got %v, %v; want nil, nil", cp, err)
	}

	want, err := tlog.VerifyCheckpoint(sign(t, k.signer, cpBody(testOrigin, 7, someRoot)), k.trust)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := tlog.LoadState(path, k.trust)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Raw, want.Raw) || got.Size != 7 {
		t.Errorf("round trip: got %+v", got)
	}
	// Saving again replaces the file and leaves no temporary behind.
	if err := tlog.SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d files, want 1", len(ents))
	}

	// Someone edits the state to an older, smaller tree.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(raw, []byte("\n7\n"), []byte("\n3\n"), 1), 0o600)
	if _, err := tlog.LoadState(path, k.trust); !errors.Is(err, tlog.ErrBadSignature) || !strings.Contains(err.Error(), path) {
		t.Errorf("tampered state: got %v", err)
	}
	// A state file from another log's key.
	os.WriteFile(path, raw, 0o600)
	if _, err := tlog.LoadState(path, newTestKey(t).trust); err == nil {
		t.Error("state signed by another key accepted")
	}
	if err := tlog.SaveState(path, &tlog.Checkpoint{}); err == nil {
		t.Error("saved a checkpoint without raw bytes")
	}
}

func TestProofText(t *testing.T) {
	p := [][]byte{someRoot, rfc6962.DefaultHasher.EmptyRoot()}
	got, err := tlog.ParseProof(tlog.FormatProof(p))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], p[0]) || !bytes.Equal(got[1], p[1]) {
		t.Errorf("round trip: %v, %v", got, err)
	}
	if _, err := tlog.ParseProof([]byte("AAAA\n")); err == nil {
		t.Error("short hash accepted")
	}
}

func FuzzVerifyCheckpoint(f *testing.F) {
	s, err := note.NewSigner(fuzzSKey)
	if err != nil {
		f.Fatal(err)
	}
	v, err := tlog.ParseVerifierKey(fuzzVKey)
	if err != nil {
		f.Fatal(err)
	}
	trust := tlog.Trust{Verifier: v}
	f.Add(sign(f, s, cpBody(v.Name(), 12345, someRoot)))
	f.Add(sign(f, s, cpBody(v.Name(), 0, rfc6962.DefaultHasher.EmptyRoot())+"extension line\n"))
	f.Add(sign(f, s, "not a checkpoint\n"))
	f.Add([]byte("example.com/acdledger/fuzz\n1\nAAAA\n\n— example.com/acdledger/fuzz iWkMs0xx\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		cp, err := tlog.VerifyCheckpoint(raw, trust)
		if err != nil {
			if !errors.Is(err, tlog.ErrMalformedCheckpoint) && !errors.Is(err, tlog.ErrBadSignature) && !errors.Is(err, tlog.ErrWrongOrigin) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if cp.Origin != v.Name() || len(cp.Hash) != 32 || !bytes.Equal(cp.Raw, raw) {
			t.Fatalf("accepted odd checkpoint %+v", cp)
		}
	})
}
