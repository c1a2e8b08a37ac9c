package specs

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestTimeLiteralMatchesPattern: isTimeLiteral decides as the regular
// expression it stands for, on times and on every one-byte change of them,
// and on random strings of the bytes a time is made of.
func TestTimeLiteralMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(timeLiteralPattern)
	check := func(s string) {
		t.Helper()
		if got, want := isTimeLiteral(s), re.MatchString(s); got != want {
			t.Fatalf("%q: isTimeLiteral %v, the pattern %v", s, got, want)
		}
	}
	bytesOfTimes := []string{"0", "1", "9", "-", "+", ":", ".", "T", "Z", "t", "z", " ", "/", "a", "é", "\xff", ""}
	for _, s := range []string{
		"2026-06-01T10:00:00+09:00", "2026-06-01T10:00:00Z", "2026-06-01T10:00:00.5Z", "2026-06-01T10:00:00.123456789-01:30",
		"2026-06-01T10:00:00.1234567890Z", "2026-06-01T10:00:00.Z", "2026-06-01T10:00:00", "2026-06-01t10:00:00z", "",
	} {
		check(s)
		for i := 0; i <= len(s); i++ {
			for _, b := range bytesOfTimes {
				check(s[:i] + b + s[i:])
				if i < len(s) {
					check(s[:i] + b + s[i+1:])
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var b strings.Builder
		b.WriteString("2026-06-01T10:00:00"[:rng.IntN(20)])
		for range rng.IntN(10) {
			b.WriteString(bytesOfTimes[rng.IntN(len(bytesOfTimes))])
		}
		check(b.String())
	}
}
