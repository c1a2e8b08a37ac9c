package tlog

import (
	"fmt"
	"slices"
	"strings"
)

// PolicyDiff says where policy f (named fName in the messages) differs
// from policy l (lName), in what an auditor checks: the witnesses (name and key; URLs are the
// operator's concern) and the quorum (group and quorum lines).
func PolicyDiff(f, l *Policy, fName, lName string) []string {
	lines := func(p *Policy) []string {
		out := []string{fmt.Sprintf("log %s+%08x", p.Log.Name(), p.Log.KeyHash())}
		for _, w := range p.Witnesses {
			out = append(out, "witness "+w.Name+" "+w.VKey)
		}
		for _, ln := range strings.Split(string(p.Raw), "\n") {
			ln, _, _ = strings.Cut(ln, "#")
			fs := strings.Fields(ln)
			if len(fs) > 0 && (fs[0] == "group" || fs[0] == "quorum") {
				out = append(out, strings.Join(fs, " "))
			}
		}
		return out
	}
	fl, ll := lines(f), lines(l)
	var d []string
	for _, x := range fl {
		if !slices.Contains(ll, x) {
			d = append(d, fmt.Sprintf("%s has %q, %s does not", fName, x, lName))
		}
	}
	for _, x := range ll {
		if !slices.Contains(fl, x) {
			d = append(d, fmt.Sprintf("%s has %q, %s does not", lName, x, fName))
		}
	}
	return d
}
