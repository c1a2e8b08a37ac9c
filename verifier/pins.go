// Package verifier is the auditors' side of acdledger. It trusts nothing
// but what an auditor pins, the log's origin and checkpoint verifier key
// and the agency registry, and reads only public formats: tlog-tiles,
// tlog-checkpoint, tlog-proof, DSSE envelopes and the specs/ schemas.
//
// It must never import ledger/: an auditor's verdict must not depend on the
// code path of the agencies and the log operator it checks.
package verifier

import (
	"errors"
	"fmt"
	"os"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// ErrInput marks errors in what the auditor gave (unreadable or malformed
// files), as opposed to a verification that failed. The CLI exits 2 on
// these and 1 on failed verification.
var ErrInput = errors.New("input error")

func inputErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInput, fmt.Sprintf(format, args...))
}

// Pins is everything an auditor trusts.
type Pins struct {
	Trust    tlog.Trust
	Registry *specs.Registry
	// Root is the commission root key fingerprint (hex SHA-256 of its DER
	// SubjectPublicKeyInfo) of a log with a genesis: the registry is then
	// replayed from the log (specs/registry.md) and Registry, if also
	// given, is only a cross-check.
	Root string
	// History, once replayed (AuditReport.History), gives the registry in
	// force at each index; RegistryAt uses it.
	History *registrylog.History
}

// RegistryAt is the registry an entry at index i is checked against: from
// the replayed trust history, or the pinned registry file.
func (p *Pins) RegistryAt(i uint64) *specs.Registry {
	if p.History != nil {
		return p.History.AtIndex(i).Registry
	}
	return p.Registry
}

// LoadPins reads the log's verifier key (signed-note text), the expected
// origin (empty: the key's name) and the agency registry. registryFile may
// be empty for checks that need no registry.
func LoadPins(vkeyFile, origin, registryFile string) (*Pins, error) {
	vkey, err := os.ReadFile(vkeyFile)
	if err != nil {
		return nil, inputErr("log verifier key: %v", err)
	}
	v, err := tlog.ParseVerifierKey(string(vkey))
	if err != nil {
		return nil, inputErr("log verifier key %s: %v", vkeyFile, err)
	}
	if origin == "" {
		origin = v.Name()
	}
	return withRegistry(&Pins{Trust: tlog.Trust{Origin: origin, Verifier: v}}, registryFile)
}

// LoadPolicyPins pins a witnessed log by its policy file (the log key and
// the witness quorum every checkpoint must carry) and the registry.
func LoadPolicyPins(policyFile, registryFile string) (*Pins, error) {
	raw, err := os.ReadFile(policyFile)
	if err != nil {
		return nil, inputErr("policy: %v", err)
	}
	pol, err := tlog.ParsePolicy(raw)
	if err != nil {
		return nil, inputErr("%s: %v", policyFile, err)
	}
	return withRegistry(&Pins{Trust: tlog.TrustPolicy(pol)}, registryFile)
}

func withRegistry(p *Pins, registryFile string) (*Pins, error) {
	if registryFile != "" {
		raw, err := os.ReadFile(registryFile)
		if err != nil {
			return nil, inputErr("registry: %v", err)
		}
		if p.Registry, err = specs.ParseRegistry(raw); err != nil {
			return nil, inputErr("%s: %v", registryFile, err)
		}
	}
	return p, nil
}
