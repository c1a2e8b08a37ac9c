// Package progress draws the progress bar of the CLI's long commands
// (append, audit, report, watch catch-up, migrate) on a terminal, and
// nothing at all elsewhere, so scripts and CI logs stay clean.
//
// The drawing is schollz/progressbar's; this package fixes the two things
// every command must get right: the bar ends at 100 % and stays on screen
// (a bar cleared on finish, or whose last update was throttled away, showed
// 93 % at the end of an audit of 17,500 entries), and a nil *Bar (no
// terminal) is a valid bar that does nothing.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar is one command's progress; the nil Bar draws nothing.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	what  string
	bar   *progressbar.ProgressBar
	total uint64
	done  uint64
	ended bool
	shown time.Time // when a frame was last drawn
}

// Stderr returns a bar drawn on stderr if stderr is a terminal, else nil.
func Stderr(what string) *Bar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	return New(os.Stderr, what)
}

// New returns a bar drawn on w, terminal or not (tests give a buffer).
func New(w io.Writer, what string) *Bar {
	return &Bar{w: w, what: what}
}

// Update sets how much of total is done. The total may grow (a log read
// while it grows, a watcher's catch-up); updates may come from several
// goroutines.
func (b *Bar) Update(done, total uint64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(done, total)
}

// Add counts n more done out of total.
func (b *Bar) Add(n, total uint64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(b.done+n, total)
}

// throttle bounds how often the bar is redrawn: append reports every entry.
const throttle = 100 * time.Millisecond

func (b *Bar) update(done, total uint64) {
	if b.ended || total == 0 {
		return
	}
	if b.bar == nil {
		b.bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetDescription(b.what), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionSetPredictTime(false))
	}
	b.done = min(done, total)
	if total != b.total {
		b.total = total
		b.bar.ChangeMax64(int64(total))
	}
	// The first, the last and then one frame per throttle period are drawn.
	if b.done == b.total || time.Since(b.shown) >= throttle {
		b.draw()
	}
}

func (b *Bar) draw() {
	b.bar.Set64(int64(b.done))
	b.shown = time.Now()
}

// Finish ends the bar: when everything was done, the last frame shows
// 100 % and stays; when the command stopped early (an error), the bar
// stays where it was. Either way the cursor moves to a new line, so what
// the command prints next starts on its own line. Finish is idempotent.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended || b.bar == nil {
		b.ended = true
		return
	}
	b.ended = true
	b.draw() // the frame a throttled update skipped
	b.bar.Exit()
	fmt.Fprintln(b.w)
}
