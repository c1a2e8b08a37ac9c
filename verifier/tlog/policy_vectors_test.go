package tlog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// policyVectors is specs/vectors/policy.json (its comment says what each
// field means); another implementation runs the same file.
type policyVectors struct {
	Spec  string `json:"spec"`
	Cases []struct {
		Name      string `json:"name"`
		Policy    string `json:"policy"`
		Rule      string `json:"rule"`
		Line      int    `json:"line"`
		ServeRule string `json:"serve_rule"`
		ServeLine int    `json:"serve_line"`
		Quorum    []struct {
			Cosigned  []string `json:"cosigned"`
			Satisfied bool     `json:"satisfied"`
		} `json:"quorum"`
	} `json:"cases"`
}

func loadPolicyVectors(t testing.TB) *policyVectors {
	raw, err := os.ReadFile("../../specs/vectors/policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var v policyVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("policy.json: %v", err)
	}
	return &v
}

func TestPolicyVectors(t *testing.T) {
	v := loadPolicyVectors(t)
	seen := map[string]bool{}
	for _, c := range v.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p, err := tlog.ParsePolicy([]byte(c.Policy))
			if c.Rule != "" {
				seen[c.Rule] = true
				var pe *tlog.PolicyError
				if !errors.As(err, &pe) {
					t.Fatalf("accepted, or not a PolicyError (%v); want rule %s at line %d", err, c.Rule, c.Line)
				}
				if pe.Rule != c.Rule || pe.Line != c.Line {
					t.Fatalf("got rule %s at line %d (%v); want rule %s at line %d", pe.Rule, pe.Line, err, c.Rule, c.Line)
				}
				// The message names the line and the rule.
				want := fmt.Sprintf("(rule %s)", c.Rule)
				if c.Line > 0 {
					want = fmt.Sprintf("policy line %d: ", c.Line)
				}
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.Rule) {
					t.Fatalf("message %q does not name the line and rule", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for _, q := range c.Quorum {
				if got := p.SatisfiedBy(q.Cosigned); got != q.Satisfied {
					t.Errorf("cosigned by %v: satisfied = %v, want %v", q.Cosigned, got, q.Satisfied)
				}
			}
			err = p.RequireWitnessURLs(nil)
			if c.ServeRule == "" {
				if err != nil {
					t.Fatalf("serve refuses it: %v", err)
				}
				return
			}
			seen[c.ServeRule] = true
			var pe *tlog.PolicyError
			if !errors.As(err, &pe) || pe.Rule != c.ServeRule || pe.Line != c.ServeLine {
				t.Fatalf("serve: %v; want rule %s at line %d", err, c.ServeRule, c.ServeLine)
			}
		})
	}
	// Every rule has a vector, but the limits and the serve-side log-key
	// check, which TestPolicyLimits and TestRequireWitnessURLs show.
	for _, r := range []string{tlog.RuleCharset, tlog.RuleLineEnd, tlog.RuleKeyword, tlog.RuleItems, tlog.RuleLogKey,
		tlog.RuleLogDuplicate, tlog.RuleWitnessKey, tlog.RuleWitnessDuplicate, tlog.RuleNameDefined, tlog.RuleNameReserved,
		tlog.RuleGroupEmpty, tlog.RuleThreshold, tlog.RuleUndefined, tlog.RuleMemberNone, tlog.RuleMemberTwice,
		tlog.RuleQuorumMissing, tlog.RuleQuorumTwice, tlog.RuleOneLog, tlog.RuleLogRequired, tlog.RuleThresholdForm,
		tlog.RuleWitnessURL, tlog.RuleCosignatureV1} {
		if !seen[r] {
			t.Errorf("no vector for rule %s", r)
		}
	}
}
