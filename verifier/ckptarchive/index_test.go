package ckptarchive_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/acdledger/acdledger/verifier/ckptarchive"
)

func TestParseIndex(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []uint64
		line int
		rule string
	}{
		{"", nil, 0, ""},
		{"0\n", []uint64{0}, 0, ""},
		{"0\n1\n256\n18446744073709551615\n", []uint64{0, 1, 256, 18446744073709551615}, 0, ""},
		{"0", nil, 1, ckptarchive.RuleIndexLine},
		{"0\n\n", nil, 2, ckptarchive.RuleIndexLine},
		{"0\r\n", nil, 1, ckptarchive.RuleIndexLine},
		{"+1\n", nil, 1, ckptarchive.RuleIndexLine},
		{"1 \n", nil, 1, ckptarchive.RuleIndexLine},
		{"00\n", nil, 1, ckptarchive.RuleIndexLine},
		{"18446744073709551616\n", nil, 1, ckptarchive.RuleIndexLine},
		{"2\n2\n", nil, 2, ckptarchive.RuleIndexAscending},
		{"3\n1\n", nil, 2, ckptarchive.RuleIndexAscending},
	} {
		got, err := ckptarchive.ParseIndex([]byte(c.in))
		if c.rule == "" {
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("%q: got %v %v, want %v", c.in, got, err, c.want)
			}
			continue
		}
		var e *ckptarchive.Error
		if !errors.As(err, &e) || e.Rule != c.rule || e.Line != c.line {
			t.Errorf("%q: got %v, want rule %s on line %d", c.in, err, c.rule, c.line)
		} else {
			t.Logf("%q: %v", c.in, err)
		}
	}
}
