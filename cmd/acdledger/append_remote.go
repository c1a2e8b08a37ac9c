package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
)

// appendRemote posts the envelopes to a server, up to parallel at a time,
// started in input order. The input order is an admissible order (each
// agency's seqs ascending, refs pointing backward); requests that overtake
// each other on the way are put back in order by the server, which holds an
// early entry until those before it arrive. Each answer is the entry's
// receipt; retries are safe.
func appendRemote(ctx context.Context, url string, items []item, receipts string, parallel int) ([]appendResult, error) {
	c, err := submit.New(url)
	if err != nil {
		return nil, usage(err)
	}
	results := make([]appendResult, len(items))
	for i, it := range items {
		env, err := specs.ParseEnvelope(it.raw)
		if err != nil {
			return nil, failed(fmt.Errorf("rejected %s: %v; nothing was sent", it.source, err))
		}
		e, err := specs.ParseEntry(env.Payload)
		if err != nil {
			return nil, failed(fmt.Errorf("rejected %s: %v; nothing was sent", it.source, err))
		}
		results[i] = appendResult{EntryID: e.ID, Kind: e.Kind, Agency: e.Agency, Seq: e.Seq}
	}
	errs := make([]error, len(items))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			res, err := c.Add(ctx, items[i].raw, true)
			if err == nil {
				results[i].Index = res.Index
				err = saveReceipt(&results[i], receipts, []byte(res.Receipt))
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", items[i].source, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return results, failed(err)
	}
	return results, nil
}
