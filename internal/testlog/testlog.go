// Package testlog writes real Tessera POSIX logs for verifier tests with
// no admission in the way, the way a faulty or malicious writer could: the
// verifier must catch what such a log contains.
package testlog

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Log is an open Tessera log in a temporary directory.
type Log struct {
	Dir      string // the tlog-tiles root
	VkeyFile string // the checkpoint verifier key, written beside the log
	Vkey     string
	Skey     string // the checkpoint signing key, for a second log under the same name
	app      *tessera.Appender
	aw       *tessera.PublicationAwaiter
}

// New starts a log with a fresh checkpoint key named origin. It is shut
// down when the test ends.
func New(t testing.TB, origin string) *Log {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return WithKey(t, skey, vkey)
}

// WithKey starts a log signed with the given note key pair (its name is
// the origin). Two logs with one key are how a test makes a log operator
// show two different histories under one name.
func WithKey(t testing.TB, skey, vkey string) *Log {
	t.Helper()
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	l := &Log{Dir: filepath.Join(root, "log"), VkeyFile: filepath.Join(root, "log.vkey"), Vkey: vkey, Skey: skey}
	if err := os.WriteFile(l.VkeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	driver, err := posix.New(ctx, posix.Config{Path: l.Dir})
	if err != nil {
		t.Fatal(err)
	}
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(1024, 5*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l.app = app
	l.aw = tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 10*time.Millisecond)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		shutdown(sctx)
		cancel()
	})
	return l
}

// Add appends the leaves in order and waits until a checkpoint covers the
// last one; it returns that checkpoint.
func (l *Log) Add(t testing.TB, leaves ...[]byte) []byte {
	t.Helper()
	ctx := context.Background()
	var last tessera.IndexFuture
	for _, leaf := range leaves {
		last = l.app.Add(ctx, tessera.NewEntry(leaf))
	}
	_, cp, err := l.aw.Await(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
