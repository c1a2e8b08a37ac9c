// Package submit is the agencies' HTTP client for POST /add. Retrying is
// always safe: the server recognises an envelope already in the log by its
// entry id and answers with the original receipt, never a second leaf.
package submit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/specs"
)

// Client posts envelopes to one ledger server.
type Client struct {
	addURL string
	HTTP   *http.Client
	// Attempts bounds the tries per envelope while the server answers but
	// is busy (503, other 5xx, "in flight"; default 20).
	Attempts int
	// NetAttempts bounds the tries while no HTTP answer comes at all
	// (connection refused, unreachable, timed out; default 5, about 4 s
	// with the default Backoff), so a server that is down is reported
	// within seconds, not minutes.
	NetAttempts int
	// Backoff is the first pause between tries, doubled up to 5s (default
	// 250ms). A Retry-After from the server replaces it.
	Backoff time.Duration
	// OnRetry, if set, is called before each pause with the number of the
	// try that failed (from 1), the bound that applies to it, the pause and
	// the cause: progress for a person watching a terminal.
	OnRetry func(attempt, of int, pause time.Duration, cause error)

	order order // entries in flight, for those refused as early
}

// New returns a client for the server at base (e.g. http://127.0.0.1:8080).
func New(base string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", base)
	}
	u.Path += "/add"
	// Keep as many idle connections as requests in flight: with the default
	// of two, a pipelining agency would open (and leave in TIME_WAIT) a new
	// connection for nearly every entry.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	return &Client{addURL: u.String(), HTTP: &http.Client{Timeout: 2 * time.Minute, Transport: tr},
		Attempts: 20, NetAttempts: 5, Backoff: 250 * time.Millisecond}, nil
}

// URL is the address envelopes are posted to.
func (c *Client) URL() string { return c.addURL }

// RefusedError is a refusal that retrying will not change: an admission
// rule, or a malformed request.
type RefusedError struct {
	Status int
	server.ErrorResponse
}

func (e *RefusedError) Error() string {
	v := specs.Violation{EntryID: e.EntryID, Field: e.Field, Rule: e.Code, Message: e.Message}
	return fmt.Sprintf("HTTP %d: %s", e.Status, v.Error())
}

// UnreachableError says the server gave no HTTP answer at all, try after
// try: it is down, the address is wrong, or the network is. Nothing was
// refused; the same envelopes can be sent again later.
type UnreachableError struct {
	URL      string
	Attempts int
	Elapsed  time.Duration
	Err      error // the last try's cause, e.g. "connect: connection refused"
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s after %d tries over %s: %v", e.URL, e.Attempts, e.Elapsed.Round(100*time.Millisecond), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// BusyError says the server answered every try with a temporary failure
// (503, other 5xx, "in flight") until the tries ran out.
type BusyError struct {
	URL      string
	Attempts int
	Err      error
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s still busy after %d tries: %v", e.URL, e.Attempts, e.Err)
}

func (e *BusyError) Unwrap() error { return e.Err }

// netError marks a try that got no HTTP answer.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// Add posts one envelope. With wait it returns the receipt; without, the
// index once the entry is durably sequenced. Network errors, 503s and
// "in flight" conflicts are retried with backoff, within the bounds of
// NetAttempts and Attempts; the errors are then *UnreachableError or
// *BusyError. A refusal is a *RefusedError — except that an entry refused
// as early (seq.order, refs.unknown) while entries this client started
// before it and that it follows (its agency's, or those its refs name) are
// still in flight is sent again once they are answered: it may only have
// overtaken them.
func (c *Client) Add(ctx context.Context, envelope []byte, wait bool) (*server.AddResponse, error) {
	f := followsOf(envelope)
	ticket, done := c.order.start(f)
	defer done()
	u := c.addURL
	if !wait {
		u += "?wait=false"
	}
	start := time.Now()
	pause := c.Backoff
	if pause <= 0 {
		pause = 250 * time.Millisecond
	}
	attempts, netAttempts := max(c.Attempts, 1), max(c.NetAttempts, 1)
	for tries, netTries := 1, 0; ; tries++ {
		hadEarlier := c.order.anyEarlier(ticket, f)
		res, retryAfter, err := c.post(ctx, u, envelope)
		if err == nil {
			return res, nil
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			if !early(refused) {
				return nil, err
			}
			waited, werr := c.order.waitEarlier(ctx, ticket, f)
			if werr != nil {
				return nil, werr
			}
			if !waited && !hadEarlier {
				return nil, err
			}
			tries-- // not a try against the busy bound: the entry was early
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		bound := attempts
		var ne *netError
		if errors.As(err, &ne) {
			netTries++
			bound = netAttempts
			if netTries >= netAttempts {
				return nil, &UnreachableError{URL: c.addURL, Attempts: netTries, Elapsed: time.Since(start), Err: ne.err}
			}
		} else if tries >= attempts {
			return nil, &BusyError{URL: c.addURL, Attempts: tries, Err: err}
		}
		wait := pause
		if retryAfter > 0 {
			wait = retryAfter
		}
		if c.OnRetry != nil {
			n := tries
			if ne != nil {
				n = netTries
			}
			c.OnRetry(n, bound, wait, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// post makes one attempt; errors other than *RefusedError are retryable,
// and *netError marks those without any HTTP answer.
func (c *Client) post(ctx context.Context, u string, envelope []byte) (*server.AddResponse, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(envelope))
	if err != nil {
		return nil, 0, &RefusedError{Status: 0, ErrorResponse: server.ErrorResponse{Code: "request", Message: err.Error()}}
	}
	req.Header.Set("Content-Type", specs.EnvelopeMediaType)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL; the cause is what a person needs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, 0, &netError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, 0, &netError{fmt.Errorf("reading the answer: %w", err)}
	}
	retryAfter := time.Duration(0)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = min(time.Duration(s)*time.Second, 5*time.Second)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		var res server.AddResponse
		if err := json.Unmarshal(body, &res); err != nil {
			return nil, 0, fmt.Errorf("reading the server's answer: %w", err)
		}
		return &res, 0, nil
	}
	var e server.ErrorResponse
	if json.Unmarshal(body, &e) != nil {
		e = server.ErrorResponse{Code: "http", Message: string(bytes.TrimSpace(body))}
	}
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode >= 500 || e.Code == "in-flight" {
		return nil, retryAfter, fmt.Errorf("HTTP %d: %s", resp.StatusCode, e.Message)
	}
	return nil, 0, &RefusedError{Status: resp.StatusCode, ErrorResponse: e}
}
