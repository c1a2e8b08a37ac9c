package shape

import (
	"regexp/syntax"
	"unicode/utf8"
)

// A simple pattern is one the schemas mostly use: anchored at both ends,
// a sequence of ASCII character classes or literals each repeated a fixed
// range of times, with at most a few optional groups of the same
// (^[a-z][a-z0-9-]{1,31}$, ^sha256:[0-9a-f]{64}$,
// ^[1-9][0-9]{0,3}(-[1-9][0-9]?)?$). Such a pattern is matched byte by
// byte, with no regexp machine: in an audit the regexps were a third of
// the schema check (issue 12's profile). Whatever Go's regexp would decide
// is decided here (TestSimplePatternsMatchRegexp): a string matches if
// some split of it meets each step's class and count, which is what an
// anchored regexp's MatchString reports; with ASCII classes only, a
// non-ASCII or invalid byte matches no class, as its rune matches none in
// the regexp. Any other pattern keeps the regexp.

// step is one class repeated min to max times (max < 0: no limit).
type step struct {
	set      [2]uint64 // the ASCII bytes of the class
	min, max int
}

func (s *step) has(c byte) bool { return c < 128 && s.set[c>>6]&(1<<(c&63)) != 0 }

// simplePattern is the pattern as its alternatives: each optional group
// doubles them (one with the group, one without).
type simplePattern struct {
	alts [][]step
}

// maxAlternatives bounds the expansion of optional groups.
const maxAlternatives = 8

// compileSimple returns the byte matcher of src, or nil if src is not a
// simple pattern.
func compileSimple(src string) *simplePattern {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	alts, ok := seqAlts(subs[1:len(subs)-1], [][]step{nil})
	if !ok {
		return nil
	}
	// A step of varying count whose class meets the next step's makes the
	// matcher go back and try shorter counts; more than two such steps
	// could make that costly (a*a*a*…b), so those patterns keep the regexp.
	for _, a := range alts {
		ambiguous := 0
		for i := 0; i+1 < len(a); i++ {
			if a[i].min != a[i].max && (a[i].set[0]&a[i+1].set[0] != 0 || a[i].set[1]&a[i+1].set[1] != 0) {
				ambiguous++
			}
		}
		if ambiguous > 2 {
			return nil
		}
	}
	return &simplePattern{alts: alts}
}

// seqAlts appends the steps of the expressions res to each alternative.
func seqAlts(res []*syntax.Regexp, alts [][]step) ([][]step, bool) {
	for _, re := range res {
		var ok bool
		if alts, ok = addAlts(re, alts); !ok {
			return nil, false
		}
	}
	return alts, true
}

func addAlts(re *syntax.Regexp, alts [][]step) ([][]step, bool) {
	if re.Flags&syntax.FoldCase != 0 {
		return nil, false
	}
	each := func(st ...step) [][]step {
		out := make([][]step, len(alts))
		for i, a := range alts {
			out[i] = append(append([]step(nil), a...), st...)
		}
		return out
	}
	switch re.Op {
	case syntax.OpLiteral:
		var sts []step
		for _, r := range re.Rune {
			st, ok := classStep([]rune{r, r})
			if !ok {
				return nil, false
			}
			st.min, st.max = 1, 1
			sts = append(sts, st)
		}
		return each(sts...), true
	case syntax.OpCharClass:
		st, ok := classStep(re.Rune)
		if !ok {
			return nil, false
		}
		st.min, st.max = 1, 1
		return each(st), true
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := re.Min, re.Max
		switch re.Op {
		case syntax.OpStar:
			lo, hi = 0, -1
		case syntax.OpPlus:
			lo, hi = 1, -1
		case syntax.OpQuest:
			lo, hi = 0, 1
		}
		sub := re.Sub[0]
		if st, ok := singleStep(sub); ok {
			st.min, st.max = lo, hi
			return each(st), true
		}
		// An optional group: the alternatives with it and without it.
		if lo != 0 || hi != 1 || 2*len(alts) > maxAlternatives {
			return nil, false
		}
		if sub.Op == syntax.OpCapture {
			sub = sub.Sub[0]
		}
		parts := []*syntax.Regexp{sub}
		if sub.Op == syntax.OpConcat {
			parts = sub.Sub
		}
		with, ok := seqAlts(parts, each())
		if !ok {
			return nil, false
		}
		return append(each(), with...), true
	}
	return nil, false
}

// singleStep is re as one step if it matches a single character.
func singleStep(re *syntax.Regexp) (step, bool) {
	if re.Flags&syntax.FoldCase != 0 {
		return step{}, false
	}
	switch {
	case re.Op == syntax.OpCharClass:
		return classStep(re.Rune)
	case re.Op == syntax.OpLiteral && len(re.Rune) == 1:
		return classStep([]rune{re.Rune[0], re.Rune[0]})
	}
	return step{}, false
}

// classStep is the step of a class given as rune ranges, if all ASCII.
func classStep(ranges []rune) (step, bool) {
	var st step
	if len(ranges) == 0 || len(ranges)%2 != 0 {
		return st, false
	}
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo < 0 || hi >= utf8.RuneSelf || lo > hi {
			return st, false
		}
		for c := lo; c <= hi; c++ {
			st.set[c>>6] |= 1 << (c & 63)
		}
	}
	return st, true
}

// MatchString reports whether s is of the pattern's form.
func (p *simplePattern) MatchString(s string) bool {
	for _, a := range p.alts {
		if matchSteps(a, s) {
			return true
		}
	}
	return false
}

// matchSteps tries each count of the first step (longest first) against
// the rest; the schemas' steps are few and mostly of disjoint classes, so
// this rarely goes back more than a byte or two.
func matchSteps(steps []step, s string) bool {
	if len(steps) == 0 {
		return s == ""
	}
	st := &steps[0]
	n := 0
	for n < len(s) && (st.max < 0 || n < st.max) && st.has(s[n]) {
		n++
	}
	for ; n >= st.min; n-- {
		if matchSteps(steps[1:], s[n:]) {
			return true
		}
	}
	return false
}
