package rules

import (
	"regexp"
	"strings"
	"testing"
)

// Every message names a field as a.b[1], the notation of the admission
// rules (specs/admission.md): an index is never written as a.b.1.
func TestPathsUseBrackets(t *testing.T) {
	l := compliant().edit("BAT", func(b map[string]any) {
		b["counts"].([]any)[1].(map[string]any)["n"] = 1
		b["n_selected"], b["n_deleted"] = 11, 89
	})
	l = l.edit("PROV", func(b map[string]any) { b["categories"] = []any{"HEADER_META", "ESSENTIAL_CONTENT"} })
	got := l.run(DefaultConfig(), asOf)
	var reasons []string
	for _, v := range got {
		if v.Rule == EssentialContent {
			reasons = append(reasons, v.Reason)
		}
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{"body.counts[1] counts 1 ESSENTIAL_CONTENT", "body.categories[1] provides ESSENTIAL_CONTENT"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no message naming %q in:\n%s", want, joined)
		}
	}
	dotted := regexp.MustCompile(`\.[0-9]+\b`)
	for _, v := range got {
		if dotted.MatchString(strings.ReplaceAll(v.Reason, "sha256:", "")) && strings.Contains(v.Reason, "body.") {
			t.Errorf("%s: path with a dotted index: %s", v.Rule, v.Reason)
		}
	}
}

// A deletion dated thousands of years after its window is reported with
// the real span, not Go's saturated 2562047h47m16.854775807s.
func TestLongSpanNotSaturated(t *testing.T) {
	l := compliant().edit("BAT", func(b map[string]any) {
		b["deleted_at"] = "9999-12-31T00:00:00+09:00"
		b["window_start"], b["window_end"] = "0001-01-02T09:00:00+09:00", "0001-01-02T09:00:00+09:00"
	})
	var reason string
	for _, v := range l.run(DefaultConfig(), asOf) {
		if v.Rule == SelectionBalance && strings.Contains(v.Reason, "after the window ended") {
			reason = v.Reason
		}
	}
	if reason == "" {
		t.Fatal("no R9 violation for the late deletion")
	}
	if strings.Contains(reason, "2562047h") || !strings.Contains(reason, "3652056 days 15h0m0s after") {
		t.Errorf("span not in days: %s", reason)
	}
}
