package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// newLogger makes the structured logger of a long-running command.
func newLogger(format string) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", format)
}

// listen opens the listener and prints "listening on http://ADDR" on
// stdout, so scripts and tests can find a port the OS chose (port 0).
func listen(out io.Writer, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	return ln, nil
}

// serveUntilDone serves until the server fails or ctx ends (SIGTERM,
// SIGINT); then it stops accepting and gives the requests in flight up to
// grace to finish.
func serveUntilDone(ctx context.Context, hs *http.Server, ln net.Listener, logger *slog.Logger, grace time.Duration) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		logger.Info("shutting down: finishing the requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		err = hs.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
