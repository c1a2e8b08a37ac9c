package watch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
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

// fixture is a real log on disk, a registry, and watchers on one state
// file with a settable clock.
type fixture struct {
	t     testing.TB
	kit   *testsign.Kit
	log   *testlog.Log
	src   *tlog.Source
	opts  watch.Options
	evs   []watch.Event
	now   time.Time
	state string
}

var basis = map[string]any{"law": "police-duties-act", "article": "6-2"}

func newFixture(t testing.TB) *fixture {
	f := &fixture{t: t, now: time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)}
	f.kit = testsign.New(t, testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"mofa.consulted"}},
		testsign.Agency{ID: "commission", Role: "commission", Kinds: []string{"demand"}})
	reg, err := specs.ParseRegistry(f.kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	f.log = testlog.New(t, "test.example/watch-state")
	vkey, err := tlog.ParseVerifierKey(f.log.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	if f.src, err = tlog.Open(f.log.Dir); err != nil {
		t.Fatal(err)
	}
	f.state = filepath.Join(t.TempDir(), "state")
	f.opts = watch.Options{Trust: tlog.Trust{Verifier: vkey}, Registry: reg, Rules: rules.DefaultConfig(), State: f.state,
		Emit: func(e watch.Event) { f.evs = append(f.evs, e) }, Now: func() time.Time { return f.now }}
	return f
}

func (f *fixture) open() *watch.Watcher {
	f.t.Helper()
	w, err := f.openErr()
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

func (f *fixture) openErr() (*watch.Watcher, error) { return openWith(f, f.opts) }

func openWith(f *fixture, opts watch.Options) (*watch.Watcher, error) { return watch.Open(f.src, opts) }

// poll polls w and returns the summary of what it reported.
func (f *fixture) poll(w *watch.Watcher) (string, error) {
	f.evs = nil
	_, err := w.Poll(context.Background())
	return summary(f.evs), err
}

func (f *fixture) mustPoll(w *watch.Watcher, want string) {
	f.t.Helper()
	got, err := f.poll(w)
	if err != nil || got != want {
		f.t.Fatalf("poll: %v\ngot  %s\nwant %s", err, got, want)
	}
}

func (f *fixture) consult(id, at string) {
	f.log.Add(f.t, f.kit.Entry(f.t, "npa", id, "mofa.consulted", basis, map[string]any{"consulted_at": at}, nil, nil))
}

// A crash between writing the bulk and writing the head (the commit):
// nothing of the failed poll is reported, the saved state is the one
// before it, and the next watcher reports the same entries once, with no
// admission alarm (a state that had admitted them already would call
// each one a reused id).
func TestWatchCrashBetweenWrites(t *testing.T) {
	f := newFixture(t)
	f.consult("A", "2026-06-01T09:00:00+09:00")
	w := f.open()
	f.mustPoll(w, "entry@0 checkpoint:1")
	head, _ := os.ReadFile(f.state)

	f.consult("B", "2026-06-01T09:10:00+09:00")
	f.consult("C", "2026-06-01T09:20:00+09:00")
	crash := errors.New("crash between the writes")
	watch.SetTestHookBulkSaved(func() error { return crash })
	got, err := f.poll(w)
	watch.SetTestHookBulkSaved(nil)
	if !errors.Is(err, crash) || got != "" {
		t.Fatalf("poll: %v, reported %q; want the crash and nothing reported", err, got)
	}
	if now, _ := os.ReadFile(f.state); !bytes.Equal(now, head) {
		t.Fatal("the head changed although the poll did not commit")
	}
	// The same watcher retrying, and a fresh one, each report them once.
	f.mustPoll(w, "entry@1 entry@2 checkpoint:3")
	f.mustPoll(w, "")
	f.mustPoll(f.open(), "")
	if bulks, _ := filepath.Glob(f.state + ".bulk-*"); len(bulks) != 1 {
		t.Fatalf("bulk files %v, want one", bulks)
	}
}

// Restarted from the head saved before the crash, a fresh process reports
// the uncommitted entries once.
func TestWatchCrashRestart(t *testing.T) {
	f := newFixture(t)
	f.consult("A", "2026-06-01T09:00:00+09:00")
	f.mustPoll(f.open(), "entry@0 checkpoint:1")
	f.consult("B", "2026-06-01T09:10:00+09:00")
	watch.SetTestHookBulkSaved(func() error { return errors.New("crash") })
	if _, err := f.poll(f.open()); err == nil {
		t.Fatal("no error from a failed save")
	}
	watch.SetTestHookBulkSaved(nil)
	f.mustPoll(f.open(), "entry@1 checkpoint:2")
	f.mustPoll(f.open(), "")
}

// A poll with nothing new reads only the head: with the bulk file gone it
// still succeeds; a poll with new entries then needs it and names it.
func TestWatchNothingNewReadsOnlyTheHead(t *testing.T) {
	f := newFixture(t)
	f.consult("A", "2026-06-01T09:00:00+09:00")
	w := f.open()
	f.mustPoll(w, "entry@0 checkpoint:1")
	bulk := w.BulkFile()
	if err := os.Remove(bulk); err != nil {
		t.Fatal(err)
	}
	f.mustPoll(f.open(), "")
	f.consult("B", "2026-06-01T09:10:00+09:00")
	if _, err := f.poll(f.open()); err == nil || !strings.Contains(err.Error(), bulk) {
		t.Fatalf("poll without the bulk: %v, want an error naming %s", err, bulk)
	}
}

// A deadline that passes while nothing new is logged is reported by a
// nothing-new poll once the head's next deadline is behind the clock,
// once.
func TestWatchDeadlineWithNothingNew(t *testing.T) {
	f := newFixture(t)
	f.log.Add(t, f.kit.Entry(t, "commission", "DEM", "demand", map[string]any{"law": "acd-act", "article": "67", "paragraph": "1"},
		map[string]any{"target_agency": "npa", "subject": "handling_records", "issued_at": "2026-06-01T10:00:00+09:00", "due": "2026-06-10T00:00:00+09:00"},
		nil, nil))
	f.mustPoll(f.open(), "entry@0 checkpoint:1")
	f.mustPoll(f.open(), "")
	f.now = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	// A save that fails between the writes reports nothing; the retry
	// reports the violation, once.
	w := f.open()
	watch.SetTestHookBulkSaved(func() error { return errors.New("crash") })
	if got, err := f.poll(w); err == nil || got != "" {
		t.Fatalf("poll with a failing save: %v, reported %q", err, got)
	}
	watch.SetTestHookBulkSaved(nil)
	f.mustPoll(w, "violation:R13@0")
	f.mustPoll(w, "")
	f.mustPoll(f.open(), "")
}

// A version 2 state file (one file holding everything) is read and
// rewritten as a head and a bulk; the watcher carries on from it.
func TestWatchMigratesVersion2(t *testing.T) {
	f := newFixture(t)
	f.consult("A", "2026-06-01T09:00:00+09:00")
	w := f.open()
	f.mustPoll(w, "entry@0 checkpoint:1")
	legacy, err := w.LegacyState()
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(w.BulkFile())
	if err := os.WriteFile(f.state, legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	w = f.open()
	if head, _ := os.ReadFile(f.state); !bytes.HasPrefix(head, []byte(`{"version":3,`)) {
		t.Fatalf("not migrated: %.60s", head)
	}
	if _, err := os.Stat(w.BulkFile()); err != nil {
		t.Fatal(err)
	}
	f.mustPoll(w, "")
	f.consult("B", "2026-06-01T09:10:00+09:00")
	f.mustPoll(f.open(), "entry@1 checkpoint:2")
}

// Every way a state file can be wrong is refused, naming the file and the
// field; the bulk is checked when it is read.
func TestWatchBadState(t *testing.T) {
	f := newFixture(t)
	f.consult("A", "2026-06-01T09:00:00+09:00")
	w := f.open()
	f.mustPoll(w, "entry@0 checkpoint:1")
	head, _ := os.ReadFile(f.state)
	bulkFile := w.BulkFile()
	bulk, _ := os.ReadFile(bulkFile)
	restore := func() {
		os.WriteFile(f.state, head, 0o600)
		os.WriteFile(bulkFile, bulk, 0o600)
	}
	for _, c := range []struct {
		name       string
		head, bulk func([]byte) []byte
		want       string
	}{
		{"unknown member", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`{"version":3,`), []byte(`{"version":3,"x":1,`), 1)
		}, nil, `unknown field "x"`},
		{"not compact", func(b []byte) []byte { return bytes.Replace(b, []byte(`{"version":3,`), []byte(`{"version": 3,`), 1) }, nil, "one encoding"},
		{"two values", func(b []byte) []byte { return append(b, b...) }, nil, "after top-level value"},
		{"version", func(b []byte) []byte { return bytes.Replace(b, []byte(`{"version":3,`), []byte(`{"version":9,`), 1) }, nil, "version: 9"},
		{"digest", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"bulk_sha256":"`), []byte(`"bulk_sha256":"X`), 1)
		}, nil, "bulk_sha256"},
		{"edge", func(b []byte) []byte { return bytes.Replace(b, []byte(`"size":1`), []byte(`"size":2`), 1) }, nil, "edge"},
		{"bulk altered", nil, func(b []byte) []byte { return bytes.Replace(b, []byte(`"tree_size":1`), []byte(`"tree_size":2`), 1) }, "not the bulk saved with it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			restore()
			defer restore()
			if c.head != nil {
				os.WriteFile(f.state, c.head(head), 0o600)
			}
			if c.bulk != nil {
				os.WriteFile(bulkFile, c.bulk(bulk), 0o600)
			}
			w, err := watch.Open(f.src, f.opts)
			if err == nil {
				f.consult("N-"+strings.ReplaceAll(c.name, " ", "-"), "2026-06-01T09:30:00+09:00")
				_, err = w.Poll(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			file := f.state
			if c.bulk != nil {
				file = bulkFile
			}
			if !strings.Contains(err.Error(), file) {
				t.Fatalf("error %q does not name %s", err, file)
			}
		})
	}
}

// A catch-up longer than one verification batch: signatures are checked
// on the workers batch by batch, and the events still come one leaf after
// the other, each alarm right after its entry.
func TestWatchCatchUpInOrder(t *testing.T) {
	f := newFixture(t)
	f.opts.Workers = 2
	const n = 2100
	var leaves [][]byte
	for i := range n {
		id := fmt.Sprintf("E%d", i)
		if i == 1500 {
			id = "E7" // a reused id: an admission alarm in the second batch
		}
		leaves = append(leaves, f.kit.Entry(t, "npa", id, "mofa.consulted", basis, map[string]any{"consulted_at": "2026-06-01T09:00:00+09:00"}, nil, nil))
	}
	f.log.Add(t, leaves...)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("entry@%d", i))
		if i == 1500 {
			want = append(want, "alarm:admission:id.duplicate", "violation:R14@1500") // the rules see the reuse too
		}
	}
	want = append(want, fmt.Sprintf("checkpoint:%d", n))
	w := f.open()
	f.evs = nil
	alarm, err := w.Poll(context.Background())
	if err != nil || !alarm {
		t.Fatalf("poll: alarm %v, %v", alarm, err)
	}
	if got := summary(f.evs); got != strings.Join(want, " ") {
		t.Fatalf("events out of order or missing:\n%s", got)
	}
}
