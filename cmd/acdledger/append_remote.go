package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
	"golang.org/x/term"
)

// appendRemote posts the envelopes to a server, up to parallel at a time,
// started in input order. The input order is an admissible order (each
// agency's seqs ascending, refs pointing backward); requests that overtake
// each other on the way are put back in order by the server, which holds an
// early entry until those before it arrive. Each answer is the entry's
// receipt (or, with wait false, its index once durably sequenced); retries
// are safe.
//
// A server that gives no answer at all is reported once, as a usage error
// (exit 2: nothing was refused, the same command can run again), naming
// the URL, the cause and how many entries were not sent; the other
// requests are cancelled rather than each waiting out its own retries.
func appendRemote(ctx context.Context, url string, items []item, receipts string, parallel int, wait bool, bar *progress.Bar) ([]appendResult, error) {
	c, err := submit.New(url)
	if err != nil {
		return nil, usage(err)
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		c.OnRetry = retryNotice(os.Stderr, c.URL())
	}
	results := make([]appendResult, len(items))
	for i, it := range items {
		env, err := specs.ReadEnvelope(it.raw) // as the server reads a submission
		if err != nil {
			return nil, failed(&sourcedError{source: it.source, err: err, text: fmt.Sprintf("rejected %s: %v; nothing was sent", it.source, err)})
		}
		e, err := specs.ParseEntry(env.Payload)
		if err != nil {
			return nil, failed(&sourcedError{source: it.source, err: err, text: fmt.Sprintf("rejected %s: %v; nothing was sent", it.source, err)})
		}
		results[i] = appendResult{EntryID: e.ID, Kind: e.Kind, Agency: e.Agency, Seq: e.Seq}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu          sync.Mutex
		unreachable *submit.UnreachableError
		done        int
	)
	errs := make([]error, len(items))
	receiptErrs := make([]error, len(items))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i := range items {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := c.Add(ctx, items[i].raw, wait)
			if err == nil {
				results[i].Index, results[i].AlreadyLogged = res.Index, res.Existing
			}
			if err == nil && res.Receipt != "" {
				// The entry is in the log whatever happens to its receipt.
				receiptErrs[i] = saveReceipt(&results[i], receipts, []byte(res.Receipt))
			}
			mu.Lock()
			defer mu.Unlock()
			var ue *submit.UnreachableError
			switch {
			case err == nil:
				done++
				bar.Add(1, uint64(len(items)))
			case errors.As(err, &ue):
				if unreachable == nil {
					unreachable = ue
				}
				cancel()
			case unreachable != nil && errors.Is(err, context.Canceled):
				// cancelled because the server is unreachable: counted below
			default:
				errs[i] = &sourcedError{source: items[i].source, err: err}
			}
		}()
	}
	wg.Wait()
	if unreachable != nil {
		return results[:0], usage(fmt.Errorf("%w; %d of %d entries acknowledged, the other %d not (sending them again is safe)",
			unreachable, done, len(items), len(items)-done))
	}
	if err := errors.Join(errs...); err != nil {
		return results, failed(err)
	}
	return results, receiptsNotWritten(results, receiptErrs, receipts, "--log "+url+" --vkey <log.vkey>")
}

// retryNotice prints one line per retry round on a terminal, so a person
// sees why append is waiting; many requests in flight retry in step, so a
// round is printed once.
func retryNotice(w io.Writer, url string) func(attempt, of int, pause time.Duration, cause error) {
	var mu sync.Mutex
	last := 0
	return func(attempt, of int, pause time.Duration, cause error) {
		mu.Lock()
		defer mu.Unlock()
		if attempt <= last {
			return
		}
		last = attempt
		fmt.Fprintf(w, "acdledger: %s: %v; try %d of %d failed, retrying in %s\n", url, cause, attempt, of, pause.Round(10*time.Millisecond))
	}
}
