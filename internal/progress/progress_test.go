package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// lastFrame is what a terminal shows at the end: the text after the last
// carriage return of the last non-empty line.
func lastFrame(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	frames := strings.Split(last, "\r")
	for i := len(frames) - 1; i >= 0; i-- {
		if strings.TrimSpace(frames[i]) != "" {
			return frames[i]
		}
	}
	return ""
}

// An audit of 17,500 entries reports progress per batch of 1024: the last
// frame on screen must be 100 %, even though the updates come faster than
// the throttle and the last batch is a short one.
func TestBarEndsAtFull(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "auditing entries")
	const total = 17500
	for done := uint64(1024); ; done += 1024 {
		b.Update(min(done, total), total)
		if done >= total {
			break
		}
	}
	b.Finish()
	b.Finish() // idempotent
	f := lastFrame(out.String())
	if !strings.Contains(f, "100%") || !strings.Contains(f, "(17500/17500") {
		t.Fatalf("last frame %q, want 100%% (17500/17500); all output:\n%q", f, out.String())
	}
	if !strings.HasSuffix(out.String(), "\n") {
		t.Error("the bar does not end its line")
	}
}

// A total that grows (a watcher catching up while the log grows) and
// counts added from many goroutines (append's receipts) still end at 100 %.
func TestBarGrowingTotalAndConcurrentAdds(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "appending")
	b.Update(10, 100)
	var wg sync.WaitGroup
	for i := 0; i < 190; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); b.Add(1, 200) }()
	}
	wg.Wait()
	b.Finish()
	if f := lastFrame(out.String()); !strings.Contains(f, "100%") || !strings.Contains(f, "(200/200") {
		t.Fatalf("last frame %q", f)
	}
}

// A command that stops early leaves the bar where it was, not at 100 %.
func TestBarStoppedEarly(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "auditing entries")
	b.Update(500, 1000)
	b.Finish()
	if f := lastFrame(out.String()); strings.Contains(f, "100%") || !strings.Contains(f, "50%") {
		t.Fatalf("last frame %q, want 50%%", f)
	}
}

// Without a terminal there is no bar: the nil Bar does nothing and the
// test's stderr (not a terminal under go test) gets no bar.
func TestNoTerminalNoBar(t *testing.T) {
	var b *Bar
	b.Update(1, 2)
	b.Add(1, 2)
	b.Finish()
	if Stderr("x") != nil {
		t.Skip("stderr is a terminal here")
	}
}
