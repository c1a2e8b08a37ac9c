package secretfile

import (
	"errors"
	"strings"
	"testing"
)

func TestRoundTripAndRefusals(t *testing.T) {
	pass := func() ([]byte, error) { return []byte("correct horse"), nil }
	sealed, err := Seal([]byte("PRIVATE+KEY+x\n"), []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !Encrypted(sealed) || !strings.HasPrefix(string(sealed), "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("not an armored age file: %q", sealed)
	}
	got, err := Open("k", sealed, pass, false, "--unencrypted-key")
	if err != nil || string(got) != "PRIVATE+KEY+x\n" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := Open("k", sealed, func() ([]byte, error) { return []byte("wrong"), nil }, false, "--unencrypted-key"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open("k", []byte("PRIVATE+KEY+x\n"), pass, false, "--unencrypted-key"); !errors.Is(err, ErrUnencrypted) || !strings.Contains(err.Error(), "--unencrypted-key") {
		t.Fatalf("plain key: %v", err)
	}
	if got, err := Open("k", []byte("PRIVATE+KEY+x\n"), pass, true, "--unencrypted-key"); err != nil || string(got) != "PRIVATE+KEY+x\n" {
		t.Fatalf("plain key allowed: %q %v", got, err)
	}
	if _, err := Seal([]byte("x"), nil); err == nil {
		t.Fatal("empty passphrase accepted")
	}
}
