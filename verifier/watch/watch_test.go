package watch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/watch"
)

func summary(evs []watch.Event) string {
	var s []string
	for _, e := range evs {
		switch e.Type {
		case watch.TypeEntry:
			s = append(s, fmt.Sprintf("entry@%d", *e.Index))
		case watch.TypeViolation:
			s = append(s, fmt.Sprintf("violation:%s@%d", e.Rule, *e.Index))
		case watch.TypeCheckpoint:
			s = append(s, fmt.Sprintf("checkpoint:%d", *e.Size))
		case watch.TypeAlarm:
			s = append(s, fmt.Sprintf("alarm:%s:%s", e.Alarm, e.Rule))
		}
	}
	return strings.Join(s, " ")
}

// A log written with no admission in the way: the watcher raises an
// admission alarm for the NAINAI entry (and the rules a violation), saves
// the checkpoint anyway, and a new watcher on the saved state reports only
// what comes after.
func TestWatchRawLog(t *testing.T) {
	kit := testsign.New(t, testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"mofa.consulted", "measure.executed"}})
	reg, err := specs.ParseRegistry(kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	l := testlog.New(t, "test.example/watch")
	vkey, err := tlog.ParseVerifierKey(l.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	basis := map[string]any{"law": "police-duties-act", "article": "6-2"}
	now := time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)
	state := filepath.Join(t.TempDir(), "state")
	var evs []watch.Event
	open := func() *watch.Watcher {
		w, err := watch.Open(src, watch.Options{Trust: tlog.Trust{Verifier: vkey}, Registry: reg, Rules: rules.DefaultConfig(), State: state,
			Emit: func(e watch.Event) { evs = append(evs, e) }, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	poll := func(w *watch.Watcher, wantAlarm bool, want string) {
		t.Helper()
		evs = nil
		alarm, err := w.Poll(context.Background())
		if err != nil || alarm != wantAlarm {
			t.Fatalf("poll: alarm %v, %v", alarm, err)
		}
		if got := summary(evs); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}

	l.Add(t, kit.Entry(t, "npa", "A", "mofa.consulted", basis, map[string]any{"consulted_at": "2026-06-01T09:00:00+09:00"}, nil, nil))
	w := open()
	poll(w, false, "entry@0 checkpoint:1")

	// A measure abroad in case "NAINAI": admission alarm, rule R7, and no
	// approval (R3).
	l.Add(t, kit.Entry(t, "npa", "B", "measure.executed", basis, map[string]any{"executor": "police", "measure": "police_measure_abroad",
		"target_location": "foreign", "mode": "direct", "started_at": "2026-06-01T10:00:00+09:00", "ended_at": "2026-06-01T11:00:00+09:00",
		"outcome": "neutralized"}, []string{"A"}, map[string]any{"case": "NAINAI"}))
	poll(w, true, "entry@1 alarm:admission:direction.nainai violation:R7@1 violation:R3@1 checkpoint:2")
	poll(w, false, "")

	// A fresh watcher on the saved state: nothing again, then only the new.
	now = now.Add(time.Hour)
	w = open()
	poll(w, false, "")
	l.Add(t, kit.Entry(t, "npa", "C", "mofa.consulted", basis, map[string]any{"consulted_at": "2026-06-02T09:00:00+09:00"}, nil,
		map[string]any{"occurred_at": "2026-06-02T09:00:00+09:00"}))
	poll(w, false, "entry@2 checkpoint:3")
}
