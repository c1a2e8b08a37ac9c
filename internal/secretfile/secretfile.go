// Package secretfile keeps private key files encrypted at rest: the log's
// checkpoint key (log.key), the witnesses' keys and the age identities of
// commission members and agencies. A file is an age file encrypted to a
// passphrase (age's scrypt recipient, ASCII-armored), exactly what
// `age -p -a` writes, so an identity file is one age itself reads (age
// asks for the passphrase of a passphrase-encrypted identity file), and
// any key can be recovered or re-encrypted with the age tool alone.
//
// Reading a file that is not encrypted is refused unless the caller allows
// it (the commands' --unencrypted-key): a plain key is a deliberate choice.
package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// WorkFactor is the scrypt work factor (log2 N) of files written here: the
// one sigstore uses for agency signing keys (N = 32768), so every key of
// a deployment costs an attacker the same per guess and the tools stay
// quick on small machines. age's own default is 18; age reads either.
const WorkFactor = 15

// maxWorkFactor bounds what a file may ask for when read (age's default
// ceiling is 22): a file of ours never needs more.
const maxWorkFactor = 22

// ErrUnencrypted: the file holds a key in the clear.
var ErrUnencrypted = errors.New("the key file is not encrypted with a passphrase")

// Seal encrypts plain to passphrase.
func Seal(plain, passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("an empty passphrase would leave the key unprotected")
	}
	r, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, err
	}
	r.SetWorkFactor(WorkFactor)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Encrypted says whether data is an age file (armored or binary), as the
// age tool tells an encrypted identity file from a plain one.
func Encrypted(data []byte) bool {
	return bytes.HasPrefix(data, []byte(armor.Header)) || bytes.HasPrefix(data, []byte("age-encryption.org/v1\n"))
}

// Open returns the plain key of a file read from name. passphrase is
// called only for an encrypted file. A plain file is refused with an error
// wrapping ErrUnencrypted unless allowPlain; a wrong passphrase is an
// error naming the file.
func Open(name string, data []byte, passphrase func() ([]byte, error), allowPlain bool, flag string) ([]byte, error) {
	if !Encrypted(data) {
		if allowPlain {
			return data, nil
		}
		return nil, fmt.Errorf("%s: %w; encrypt it (acdledger key encrypt %s, or age -p -a) or pass %s to use it as it is", name, ErrUnencrypted, name, flag)
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("%s is encrypted: %w", name, err)
	}
	id, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	id.SetMaxWorkFactor(maxWorkFactor)
	var in io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(data, []byte(armor.Header)) {
		in = armor.NewReader(in)
	}
	r, err := age.Decrypt(in, id)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot decrypt it (wrong passphrase?): %w", name, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return plain, nil
}

// Read is Open of the file at path.
func Read(path string, passphrase func() ([]byte, error), allowPlain bool, flag string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Open(path, data, passphrase, allowPlain, flag)
}
