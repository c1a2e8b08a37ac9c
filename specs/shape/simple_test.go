package shape

import (
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

// simpleTestPatterns are the schemas' patterns (read from the files, so a
// new one is tested when it is added) and a few more of the same kind.
func simpleTestPatterns(t testing.TB) []string {
	out := []string{
		`^a$`, `^[ab]*c?$`, `^x(yz)?$`, `^(a[0-9]?)?(b)?$`, `^[a-c]+[b-d]+$`, `^[0-9]{2,}$`, `^-?[0-9]+$`,
		`^[^a]$`, `^.$`, `^(?i)abc$`, `^ab|cd$`, `^é$`, `abc`, `^a+$x`,
	}
	re := regexp.MustCompile(`"pattern":\s*"((?:[^"\\]|\\.)*)"`)
	for _, f := range []string{"../entry.schema.json", "../registry.schema.json"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(raw, -1) {
			out = append(out, strings.ReplaceAll(string(m[1]), `\\`, `\`))
		}
	}
	return out
}

// TestSimplePatternsMatchRegexp: the byte matcher decides as Go's regexp
// on every pattern it takes, over strings built to sit at its limits
// (each step at its minimum and maximum, one byte more or less) and
// random strings of the bytes its classes name, their neighbours,
// non-ASCII and invalid UTF-8.
func TestSimplePatternsMatchRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	simple := 0
	for _, src := range simpleTestPatterns(t) {
		p := compileSimple(src)
		if p == nil {
			continue
		}
		simple++
		re := regexp.MustCompile(src)
		alphabet := []string{"", "é", "\xff", "\n", "\x00"}
		for _, a := range p.alts {
			for _, st := range a {
				for c := 0; c < 128; c++ {
					if st.has(byte(c)) {
						alphabet = append(alphabet, string(rune(c)))
						if c > 0 {
							alphabet = append(alphabet, string(rune(c-1)))
						}
						alphabet = append(alphabet, string(rune(c+1)))
					}
				}
			}
		}
		check := func(s string) {
			if got, want := p.MatchString(s), re.MatchString(s); got != want {
				t.Fatalf("pattern %s, string %q: byte matcher %v, regexp %v", src, s, got, want)
			}
		}
		for range 3000 {
			var b strings.Builder
			for range rng.IntN(12) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			check(b.String())
		}
		// Strings built step by step, with counts around each limit.
		for _, a := range p.alts {
			for range 500 {
				var b strings.Builder
				for _, st := range a {
					var members []byte
					for c := 0; c < 128; c++ {
						if st.has(byte(c)) {
							members = append(members, byte(c))
						}
					}
					hi := st.max
					if hi < 0 {
						hi = st.min + 70
					}
					n := max(0, st.min-1+rng.IntN(hi-st.min+3))
					for range n {
						b.WriteByte(members[rng.IntN(len(members))])
					}
				}
				check(b.String())
			}
		}
	}
	if simple < 15 {
		t.Fatalf("only %d patterns are matched without a regexp", simple)
	}
}

// TestSchemaPatternsAreSimple: every pattern of the schemas but the ones
// named here is matched without a regexp (a new pattern that is not says
// so here, rather than quietly costing a regexp in every audit).
func TestSchemaPatternsAreSimple(t *testing.T) {
	for _, src := range simpleTestPatterns(t)[14:] {
		if compileSimple(src) == nil {
			t.Errorf("schema pattern %s is matched by a regexp", src)
		}
	}
}

// FuzzSimplePattern: the byte matcher against Go's regexp on any pattern
// and string.
func FuzzSimplePattern(f *testing.F) {
	for _, src := range simpleTestPatterns(f) {
		f.Add(src, "a")
		f.Add(src, "2026")
	}
	f.Fuzz(func(t *testing.T, src, s string) {
		p := compileSimple(src)
		if p == nil {
			return
		}
		if got, want := p.MatchString(s), regexp.MustCompile(src).MatchString(s); got != want {
			t.Fatalf("pattern %s, string %q: byte matcher %v, regexp %v", src, s, got, want)
		}
	})
}
