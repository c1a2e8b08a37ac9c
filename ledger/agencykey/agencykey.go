// Package agencykey makes, stores and uses an agency's signing key: the key
// an agency signs its entries with, and whose public half the commission
// pins in the agency registry.
//
// Keys are generated and loaded through sigstore's cryptoutils and signature
// packages. The private key is written encrypted (sigstore's
// "ENCRYPTED SIGSTORE PRIVATE KEY": scrypt + secretbox) with mode 0600.
package agencykey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/internal/atomicfile"
	"os"

	"github.com/acdledger/acdledger/specs"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PassphraseEnv is the environment variable a passphrase is read from before
// falling back to a terminal prompt.
const PassphraseEnv = "ACDLEDGER_KEY_PASSPHRASE"

// Algorithms accepted by Generate.
const (
	Ed25519   = "ed25519"
	ECDSAP256 = "ecdsa-p256"
)

// Generate makes a new key pair and returns the encrypted private key PEM,
// the public key PEM and the key id (specs.KeyID).
func Generate(algorithm string, passphrase []byte) (privPEM, pubPEM []byte, keyID string, err error) {
	if len(passphrase) == 0 {
		return nil, nil, "", errors.New("an empty passphrase would leave the private key unprotected")
	}
	var priv crypto.Signer
	switch algorithm {
	case Ed25519, "":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, nil, "", fmt.Errorf("algorithm %q: use %s or %s", algorithm, Ed25519, ECDSAP256)
	}
	if err != nil {
		return nil, nil, "", err
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		return nil, nil, "", err
	}
	privPEM = pem.EncodeToMemory(&pem.Block{Type: string(cryptoutils.EncryptedSigstorePrivateKeyPEMType), Bytes: der})
	if pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public()); err != nil {
		return nil, nil, "", err
	}
	if keyID, err = specs.KeyID(priv.Public()); err != nil {
		return nil, nil, "", err
	}
	return privPEM, pubPEM, keyID, nil
}

// WriteFiles writes NAME.key (0600, refusing to overwrite) and NAME.pub.
func WriteFiles(base string, privPEM, pubPEM []byte) error {
	if err := atomicfile.WriteNew(base+".key", privPEM, 0o600); err != nil {
		return fmt.Errorf("writing private key: %w", err)
	}
	return atomicfile.Write(base+".pub", pubPEM, 0o644)
}

// Signer signs entry payloads for one agency key, producing DSSE envelopes.
type Signer struct {
	keyID string
	sv    signature.SignerVerifier
}

// Load decrypts a private key file with the passphrase.
func Load(path string, passphrase []byte) (*Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(raw, passphrase)
}

// Parse decrypts a private key PEM with the passphrase.
func Parse(privPEM, passphrase []byte) (*Signer, error) {
	if block, _ := pem.Decode(privPEM); block == nil || block.Type != string(cryptoutils.EncryptedSigstorePrivateKeyPEMType) {
		return nil, errors.New("not an encrypted acdledger/sigstore private key (PEM type ENCRYPTED SIGSTORE PRIVATE KEY)")
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(privPEM, cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		return nil, fmt.Errorf("decrypting private key (wrong passphrase?): %w", err)
	}
	return FromPrivateKey(priv)
}

// FromPrivateKey wraps an in-memory private key; tests and the demo
// generator use it to avoid the deliberate slowness of key decryption.
func FromPrivateKey(priv crypto.PrivateKey) (*Signer, error) {
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, err
	}
	id, err := specs.KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{keyID: id, sv: sv}, nil
}

// KeyID is the id of the signer's public key.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns the signer's public key.
func (s *Signer) PublicKey() crypto.PublicKey {
	pub, _ := s.sv.PublicKey()
	return pub
}

// Sign wraps an entry payload in a DSSE envelope signed by this key. The
// payload is signed in its canonical form (RFC 8785, specs.Canonical),
// the only form admission takes; a draft the strict reader refuses
// (duplicate names, a non-integer number, …) is refused here, before
// anything is signed, as a *specs.Violation.
func (s *Signer) Sign(payload []byte) ([]byte, error) {
	canon, err := specs.CanonicalEntry(payload)
	if err != nil {
		return nil, err
	}
	return s.SignExact(canon)
}

// SignExact signs the payload bytes exactly as given, canonical or not:
// for tests of what admission does with payloads the tools would not make.
func (s *Signer) SignExact(payload []byte) ([]byte, error) {
	env := specs.Envelope{Payload: payload}
	sig, err := s.sv.SignMessage(bytes.NewReader(env.PAE()))
	if err != nil {
		return nil, err
	}
	return specs.EnvelopeJSON(payload, s.keyID, sig)
}
