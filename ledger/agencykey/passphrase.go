package agencykey

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

// Passphrase returns the key passphrase from $ACDLEDGER_KEY_PASSPHRASE or,
// on a terminal, a prompt (asked twice when confirm is set). With neither,
// it fails rather than read a secret from a pipe by surprise.
func Passphrase(confirm bool) ([]byte, error) {
	if pw, ok := os.LookupEnv(PassphraseEnv); ok {
		return []byte(pw), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("no passphrase: set %s or run on a terminal", PassphraseEnv)
	}
	fmt.Fprint(os.Stderr, "Key passphrase: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(os.Stderr, "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the passphrases differ")
		}
	}
	return pw, nil
}
