package ledger

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// MigrateResult is what a migration proved.
type MigrateResult struct {
	Size       uint64 // entries copied
	Root       []byte // the source checkpoint's root, recomputed by the target
	Checkpoint []byte // the target's first published checkpoint, signed with the log's own key
}

// Migrate copies a POSIX ledger's log into Tessera's AWS driver, as the
// same log: the same origin and checkpoint key (copied into dstDir, the
// first frontend's configuration), so auditors' pins stay valid. It uses
// Tessera's migration target, which copies the entry bundles and
// recomputes the tree, failing unless the root equals that of the source's
// signed checkpoint. Then the ledger is opened on the target: the shared
// admission state is rebuilt from the migrated entries (each agency's seq
// continues) and a checkpoint is published, which must match the source's
// size and root. The source is locked meanwhile, so nothing is appended to
// it during the copy.
// opts are those the target is opened with (its key passphrase: log.key
// is copied as it is, encrypted or not); progress, if not nil, is called
// with the entries copied so far.
func Migrate(ctx context.Context, srcDir, dstDir string, st Storage, opts Options, progress func(done, total uint64)) (*MigrateResult, error) {
	if st.Driver != DriverAWS {
		return nil, fmt.Errorf("migrate: the target must be aws storage, not %q", st.Driver)
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	src, err := ReadStorage(srcDir)
	if err != nil {
		return nil, err
	}
	if src.Driver != DriverPOSIX {
		return nil, fmt.Errorf("migrate: %s is not a posix ledger", srcDir)
	}
	lock, err := lockDir(filepath.Join(srcDir, lockFile))
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	vkey, err := os.ReadFile(filepath.Join(srcDir, VerifierFile))
	if err != nil {
		return nil, fmt.Errorf("not a ledger directory: %w", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return nil, err
	}
	fetcher := client.FileFetcher{Root: filepath.Join(srcDir, LogDir)}
	cpRaw, err := fetcher.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the source checkpoint: %w", err)
	}
	n, err := note.Open(cpRaw, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("the source checkpoint does not verify with %s: %w", VerifierFile, err)
	}
	srcCP := &log.Checkpoint{}
	if _, err := srcCP.Unmarshal([]byte(n.Text)); err != nil {
		return nil, err
	}
	if srcCP.Origin != verifier.Name() {
		return nil, fmt.Errorf("the source checkpoint's origin %q is not the key's %q", srcCP.Origin, verifier.Name())
	}

	// The target frontend's configuration: the log's own keys and registry.
	if _, err := os.Stat(filepath.Join(dstDir, SignerFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a ledger (%s exists)", dstDir, SignerFile)
	}
	if err := os.MkdirAll(dstDir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{SignerFile, 0o600}, {VerifierFile, 0o644}, {RegistryFile, 0o644}} {
		b, err := os.ReadFile(filepath.Join(srcDir, f.name))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dstDir, f.name), b, f.mode); err != nil {
			return nil, err
		}
	}
	if err := WriteStorage(dstDir, st); err != nil {
		return nil, err
	}

	dsn, err := st.resolvedDSN()
	if err != nil {
		return nil, err
	}
	driver, _, err := newAWSDriver(ctx, st, dsn)
	if err != nil {
		return nil, err
	}
	mt, err := tessera.NewMigrationTarget(ctx, driver, tessera.NewMigrationOptions())
	if err != nil {
		return nil, fmt.Errorf("starting Tessera's migration target: %w", err)
	}
	// progress counts the entries of the bundles copied so far.
	var copied atomic.Uint64
	read := func(ctx context.Context, i uint64, p uint8) ([]byte, error) {
		b, err := fetcher.ReadEntryBundle(ctx, i, p)
		if err == nil && progress != nil {
			n := uint64(p)
			if n == 0 {
				n = 256
			}
			progress(copied.Add(n), srcCP.Size)
		}
		return b, err
	}
	if err := mt.Migrate(ctx, 8, srcCP.Size, srcCP.Hash, read); err != nil {
		return nil, fmt.Errorf("migrating %d entries: %w", srcCP.Size, err)
	}
	// Tessera's migration integrates the copied tree but leaves the
	// sequencer's next index at zero (v1.0.4), so the first append would
	// collide with the migrated entries: start it after them.
	if err := setNextIndex(ctx, dsn, srcCP.Size); err != nil {
		return nil, err
	}

	l, err := Open(ctx, dstDir, Options{KeyPassphrase: opts.KeyPassphrase, UnencryptedKey: opts.UnencryptedKey})
	if err != nil {
		return nil, fmt.Errorf("opening the migrated log: %w", err)
	}
	defer l.Close(context.Background())
	deadline := time.Now().Add(time.Minute)
	for {
		size, raw, err := l.published(ctx)
		if err == nil && size >= srcCP.Size {
			cp, err := l.parseCheckpoint(raw)
			if err != nil {
				return nil, err
			}
			if cp.Size != srcCP.Size || !bytes.Equal(cp.Hash, srcCP.Hash) {
				return nil, fmt.Errorf("the target published size %d root %x; the source checkpoint is size %d root %x", cp.Size, cp.Hash, srcCP.Size, srcCP.Hash)
			}
			return &MigrateResult{Size: cp.Size, Root: cp.Hash, Checkpoint: raw}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the target published no checkpoint of size %d within a minute (last: size %d, %v)", srcCP.Size, size, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
