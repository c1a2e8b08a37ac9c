package tlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/tessera/client"
)

// maxResourceSize bounds any single response from an HTTP log. The largest
// tlog-tiles resource is a full entry bundle of 256 entries of at most
// 65535 bytes, each with a 2-byte length prefix. Without a bound a hostile
// server could exhaust the auditor's memory with one endless response.
const maxResourceSize = 256 * (2 + 65535)

// httpTimeout caps a single HTTP request, so that a server that stalls
// cannot hang an audit whose context has no deadline.
const httpTimeout = 2 * time.Minute

// fetcher is what tessera's client.FileFetcher and client.HTTPFetcher have in
// common. Both fall back from a partial tile or bundle to the full one, which
// matters when the log grows (and its garbage collector removes partial
// resources) while we read it.
type fetcher interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// Source is a log published in tlog-tiles layout, read from a directory or an
// HTTP(S) URL. Nothing a Source returns is trusted until it has been checked
// against a verified [Checkpoint]. It is safe for concurrent use.
type Source struct {
	location string
	f        fetcher
	// For ReadResource: the log's base URL and client, or its directory.
	base *url.URL
	hc   *http.Client
	dir  string
}

// Open returns a Source for the log rooted at location: an http:// or
// https:// URL, or else a local directory, which must exist.
func Open(location string) (*Source, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		u, err := url.Parse(location)
		if err != nil {
			return nil, fmt.Errorf("tlog: bad log URL %q: %v", location, err)
		}
		hc := &http.Client{
			Timeout:   httpTimeout,
			Transport: limitTransport{rt: http.DefaultTransport, max: maxResourceSize},
		}
		f, err := client.NewHTTPFetcher(u, hc)
		if err != nil {
			return nil, fmt.Errorf("tlog: %s: %v", location, err)
		}
		return &Source{location: location, f: f, base: u, hc: hc}, nil
	}
	fi, err := os.Stat(location)
	if err != nil {
		return nil, fmt.Errorf("tlog: log directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("tlog: %s is not a directory", location)
	}
	return &Source{location: location, f: client.FileFetcher{Root: location}, dir: location}, nil
}

// String names the log's location, for messages.
func (s *Source) String() string { return s.location }

// ReadCheckpoint returns the log's checkpoint file, unverified.
func (s *Source) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	return s.f.ReadCheckpoint(ctx)
}

// ReadTile returns the hash tile at level and index, unverified. p is the
// expected width of a partial tile, or 0 for a full one; if the partial
// tile is gone, the full tile is returned instead.
func (s *Source) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return s.f.ReadTile(ctx, level, index, p)
}

// ReadEntryBundle returns the entry bundle at index, unverified, with the
// same partial/full fallback as ReadTile.
func (s *Source) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return s.f.ReadEntryBundle(ctx, index, p)
}

// limitTransport makes every response body fail once it exceeds max bytes.
type limitTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

var errTooLarge = errors.New("response larger than any tlog-tiles resource")

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	// Read one byte more than allowed, so an oversized body is noticed
	// rather than silently truncated.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) > b.left {
		return int(b.left), errTooLarge
	}
	b.left -= int64(n)
	return n, err
}
