package tlog_test

import (
	"strings"
	"testing"

	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/witness"
	"golang.org/x/mod/sumdb/note"
)

// A key file given by mistake (the private key, the registry) is refused
// with what it is and what is wanted, never echoed (a private key would be
// printed on the terminal) and never in the note library's words
// ("malformed verifier id").
func TestBadVerifierKeyMessages(t *testing.T) {
	skey, _, err := note.GenerateKey(nil, "log.example/acd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, text, want string }{
		{"private key", skey, "private signing key"},
		{"a JSON file", `{"registry": "x+y+z"}`, "want one line NAME+HASH+KEY"},
		{"bad base64", "log.example/acd+01020304+!!!notbase64", "malformed"},
	} {
		_, err := tlog.ParseVerifierKey(c.text)
		_, werr := witness.ParseLogKeys(c.text)
		for _, e := range []error{err, werr} {
			if e == nil {
				t.Fatalf("%s: accepted", c.name)
			}
			msg := e.Error()
			if !strings.Contains(msg, c.want) || strings.Contains(msg, c.text) || strings.Contains(msg, "verifier id") {
				t.Errorf("%s: %q (want %q, without the key text)", c.name, msg, c.want)
			}
			if c.name == "private key" && strings.Contains(msg, skey[len("PRIVATE+KEY+"):]) {
				t.Errorf("the private key is echoed: %q", msg)
			}
		}
	}
}
