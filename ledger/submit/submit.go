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
	addURL   string
	HTTP     *http.Client
	Attempts int           // tries per envelope (default 20)
	Backoff  time.Duration // first pause between tries, doubled up to 5s (default 100ms)
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
	return &Client{addURL: u.String(), HTTP: &http.Client{Timeout: 2 * time.Minute, Transport: tr}, Attempts: 20, Backoff: 100 * time.Millisecond}, nil
}

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

// Add posts one envelope. With wait it returns the receipt; without, the
// index once the entry is durably sequenced. Network errors, 503s and
// "in flight" conflicts are retried with backoff.
func (c *Client) Add(ctx context.Context, envelope []byte, wait bool) (*server.AddResponse, error) {
	u := c.addURL
	if !wait {
		u += "?wait=false"
	}
	pause := c.Backoff
	var last error
	for attempt := 0; attempt < c.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
		}
		res, retryAfter, err := c.post(ctx, u, envelope)
		if err == nil {
			return res, nil
		}
		var refused *RefusedError
		if errors.As(err, &refused) || ctx.Err() != nil {
			return nil, err
		}
		last = err
		if retryAfter > 0 {
			pause = retryAfter
		}
	}
	return nil, fmt.Errorf("gave up after %d attempts: %w", c.Attempts, last)
}

// post makes one attempt; errors other than *RefusedError are retryable.
func (c *Client) post(ctx context.Context, u string, envelope []byte) (*server.AddResponse, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(envelope))
	if err != nil {
		return nil, 0, &RefusedError{Status: 0, ErrorResponse: server.ErrorResponse{Code: "request", Message: err.Error()}}
	}
	req.Header.Set("Content-Type", specs.EnvelopeMediaType)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, 0, err
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
