package ledger

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acdledger/acdledger/internal/secretfile"
	"github.com/acdledger/acdledger/ledger/archive"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Options tune the Tessera appender. Zero values take the defaults, which
// suit an agency workload: small batches published within about a second.
type Options struct {
	BatchMaxSize       uint          // entries per Tessera batch (default 1024)
	BatchMaxAge        time.Duration // longest an entry waits for its batch (default 50ms)
	CheckpointInterval time.Duration // how often a new checkpoint may be signed (default and POSIX minimum: 100ms)

	// WitnessPolicy, when set, is a policy file (specs/witnesses.md): a
	// checkpoint is published only once it carries the policy's quorum of
	// witness cosignatures. Entries are sequenced (durable) regardless.
	WitnessPolicy  []byte
	WitnessTimeout time.Duration // how long to wait for witnesses per checkpoint (Tessera's default if zero)

	// Storage, when set, replaces the ledger directory's storage settings
	// (StorageFile); the environment still supplies credentials.
	Storage *Storage
	// PushbackLimit is how many entries may be sequenced but not yet
	// integrated before new appends get ErrPushback (AWS driver only;
	// default 8192). Tessera's own limit is set well above it.
	PushbackLimit uint64
	Logger        *slog.Logger // for the shared admission state's warnings (default slog.Default())

	// KeyPassphrase, when set, decrypts an encrypted log.key, and log.key
	// must then be encrypted unless UnencryptedKey (the commands'
	// --unencrypted-key). Without it a plain log.key is read as is (Go
	// callers, tests) and an encrypted one cannot be opened.
	KeyPassphrase  func() ([]byte, error)
	UnencryptedKey bool
}

func (o Options) withDefaults() Options {
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = 1024
	}
	if o.BatchMaxAge == 0 {
		o.BatchMaxAge = 50 * time.Millisecond
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 100 * time.Millisecond
	}
	if o.PushbackLimit == 0 {
		o.PushbackLimit = 8192
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Ledger is an open ledger directory: the admission state, the Tessera
// appender (POSIX or AWS driver), and what it takes to build receipts.
type Ledger struct {
	dir      string
	origin   string
	registry *specs.Registry // registry.json: the implicit genesis of a log without one (see trust.go)
	vkey     string
	verifier note.Verifier
	storage  Storage
	shared   *shared    // the admission state in the shared database (AWS driver); nil for POSIX
	hold     *holdQueue // shared state: where AppendInOrder's entries wait and are admitted in rounds
	readRes  func(context.Context, string) ([]byte, error)

	seq      *sequencer // feeds the appender one round at a time (see sequencer)
	shutdown func(context.Context) error
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	cancel   context.CancelFunc
	lock     *os.File

	mu          sync.Mutex // serialises admission: the order entries are checked in is the order they are sequenced in
	state       *specs.LogState
	hist        *registrylog.History           // the trust history admitted so far (trust.go)
	reg         atomic.Pointer[specs.Registry] // hist.Current(), readable without l.mu
	changed     chan struct{}                  // closed and replaced whenever entries are admitted
	advanced    map[agencySeq]chan struct{}    // closed when that agency's seq is admitted (see AppendInOrder)
	broken      error                          // set when Tessera failed an entry after admission; the state is then not trusted until reopen
	local       map[string]time.Time           // shared state: ids handed to Tessera here: zero until recorded as sequenced, then when
	localPurged time.Time

	proofs    proofCache // tiles and their subtree hashes, shared by all receipts (proofs.go)
	cpMu      sync.Mutex // guards lastCP, lastCPRaw only: no lock is held while a proof is built
	lastCP    *log.Checkpoint
	lastCPRaw []byte

	logDir     string          // the POSIX log directory ("" for AWS): for temp-file sweeps and path-free messages
	witnesses  *witnessMonitor // nil without a witness policy (or on the AWS driver)
	policy     *tlog.Policy    // the witness policy it publishes with (nil without one): compared with the log's (warnPolicy)
	log        *slog.Logger
	bg         context.Context // lives until Close: the recovery loop's
	recovering bool            // a recovery loop runs (l.mu)
	recoveries uint64          // times admission resumed after a storage failure (l.mu)
	served     servedTree      // what served files are checked against (VerifiedResource)

	archive      *archive.Writer // the cosigned-checkpoint archive (POSIX only; nil on AWS)
	archiveStop  context.CancelFunc
	archiveDone  chan struct{}
	archiveMu    sync.Mutex
	archivedRaw  atomic.Pointer[[]byte] // the last checkpoint archived (written under archiveMu)
	archiveErr   string                 // the last archiving error logged (archiveMu)
	archiveErrAt time.Time              // when (archiveMu)
	snapSize     uint64                 // tree size of the snapshot the state was restored from (0: none)
	openSize     uint64                 // tree size the state was restored to
	savedSize    uint64                 // tree size of the snapshot on disk, as far as this ledger knows
	snapOld      bool                   // the snapshot read had log_state version 1 or 2: saved again as version 3 on open
	snapBad      bool                   // the snapshot's table failed its check after open: restore replays the whole log (l.mu)
	tableChecked chan struct{}          // closed when open's background check of the snapshot's table ends (checkTable)
	tableWG      sync.WaitGroup         // what reads a mapped snapshot in the background: open's table check, the recovery loop (Close waits)
	closing      bool                   // Close has begun: no recovery loop starts (l.mu)
	maps         [][]byte               // snapshot files mapped (mapSnapshot), released at the end of Close
	sweepMargin  uint64                 // how far past the tree a write can reach (sweepEdge)
}

// Open opens a ledger directory made by Init, takes its lock and rebuilds
// the admission state by reading the log itself (the log is the only
// durable state, so nothing can disagree with it after a crash).
func Open(ctx context.Context, dir string, opts Options) (*Ledger, error) {
	opts = opts.withDefaults()
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	l, err := open(ctx, dir, opts, lock)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

// dirConfig is what a ledger directory pins, whatever the storage: the
// checkpoint verifier key and the agency registry.
type dirConfig struct {
	vkey     string // the verifier key's text
	verifier note.Verifier
	registry *specs.Registry
}

func readConfig(dir string) (*dirConfig, error) {
	vkey, err := os.ReadFile(filepath.Join(dir, VerifierFile))
	if err != nil {
		return nil, err
	}
	c := &dirConfig{vkey: strings.TrimSpace(string(vkey))}
	if c.verifier, err = note.NewVerifier(c.vkey); err != nil {
		return nil, fmt.Errorf("%s: %w", VerifierFile, err)
	}
	regRaw, err := os.ReadFile(filepath.Join(dir, RegistryFile))
	if err != nil {
		return nil, err
	}
	if c.registry, err = specs.ParseRegistry(regRaw); err != nil {
		return nil, err
	}
	return c, nil
}

func open(ctx context.Context, dir string, opts Options, lock *os.File) (*Ledger, error) {
	skey, err := os.ReadFile(filepath.Join(dir, SignerFile))
	if err != nil {
		return nil, fmt.Errorf("not a ledger directory (run acdledger init): %w", err)
	}
	pass := opts.KeyPassphrase
	if pass == nil {
		pass = func() ([]byte, error) { return nil, errors.New("no passphrase given to open it") }
	}
	if skey, err = secretfile.Open(filepath.Join(dir, SignerFile), skey, pass, opts.KeyPassphrase == nil || opts.UnencryptedKey, "--unencrypted-key"); err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SignerFile, err)
	}
	st, err := ReadStorage(dir)
	if err != nil {
		return nil, err
	}
	if opts.Storage != nil {
		st = *opts.Storage
		if err := st.Validate(); err != nil {
			return nil, err
		}
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	if st.Driver == DriverAWS {
		return openAWS(ctx, dir, opts, lock, signer, cfg, st)
	}
	verifier, reg := cfg.verifier, cfg.registry
	logDir := filepath.Join(dir, LogDir)
	// Stray temp files of a write that failed before (see sweepTemp) go
	// before anything else reads or publishes the directory.
	sweepEdge(logDir, ^uint64(0), sweepMargin(opts.BatchMaxSize), opts.Logger)
	var mon *witnessMonitor
	var group tessera.WitnessGroup
	var policy *tlog.Policy
	republish := false
	if len(opts.WitnessPolicy) > 0 {
		if group, policy, err = witnessGroup(opts.WitnessPolicy, verifier); err != nil {
			return nil, fmt.Errorf("witness policy: %w", err)
		}
		mon = newWitnessMonitor(policy, opts.Logger)
		if republish, err = republishUncosigned(logDir, policy); err != nil {
			return nil, err
		}
	}
	pcfg := posix.Config{Path: logDir}
	if mon != nil {
		pcfg.HTTPClient = mon.client()
	}
	if err := checkPOSIX(ctx, dir, verifier); err != nil {
		return nil, err
	}
	arch, err := archive.Open(logDir, opts.Logger)
	if err != nil {
		return nil, err
	}
	driver, err := posix.New(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("opening the Tessera POSIX log: %w", err)
	}
	// The appender's background work must outlive the caller's ctx (which
	// may be a request's), so it gets its own, cancelled by Close.
	bg, cancel := context.WithCancel(context.Background())
	aopts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		// Exactly the sequencer's round: a full round is cut by its own
		// last Add, a partial one by the timer (see sequencer, which proves
		// that each round is then one batch).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithCheckpointInterval(opts.CheckpointInterval).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil)
	if mon != nil {
		aopts = aopts.WithWitnesses(group, &tessera.WitnessOptions{Timeout: opts.WitnessTimeout})
	}
	appender, shutdown, reader, err := tessera.NewAppender(bg, driver, aopts)
	if err != nil {
		cancel()
		if len(opts.WitnessPolicy) > 0 {
			// On a fresh log even the empty tree's checkpoint needs its
			// cosignatures, so the quorum must be reachable to start.
			return nil, fmt.Errorf("starting the Tessera appender (are the policy's witnesses reachable?): %w", err)
		}
		return nil, fmt.Errorf("starting the Tessera appender: %w", err)
	}
	l := &Ledger{
		dir: dir, origin: signer.Name(), registry: reg, vkey: cfg.vkey, verifier: verifier, storage: Storage{Driver: DriverPOSIX},
		readRes: func(_ context.Context, name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(logDir, filepath.FromSlash(name)))
		},
		shutdown: shutdown, reader: reader, cancel: cancel, lock: lock,
		awaiter: tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, 25*time.Millisecond),
		state:   specs.NewLogState(),
		changed: make(chan struct{}), advanced: map[agencySeq]chan struct{}{},
		logDir: logDir, witnesses: mon, policy: policy, log: opts.Logger, bg: bg,
		archive: arch, sweepMargin: sweepMargin(opts.BatchMaxSize),
	}
	if err := l.restore(ctx); err != nil {
		cancel()
		return nil, err
	}
	l.warnPolicy()
	if l.openSize > l.snapSize || l.snapOld {
		// A tail was replayed (or the whole log, on the first open after
		// an upgrade or with a bad snapshot), or the snapshot was of the
		// older form: save it, so the next start does not replay or
		// reload it again.
		if err := l.saveSnapshot(ctx, l.openSize); err != nil && !errors.Is(err, errNotAtCheckpoint) {
			l.log.Warn("admission snapshot not saved", "file", SnapshotFile, "error", err)
		} else if err == nil {
			l.savedSize = l.openSize
		}
	}
	l.startArchiver(opts.CheckpointInterval)
	l.seq = newSequencer(appender.Add, int(opts.BatchMaxSize), opts.BatchMaxAge, l.fail)
	l.seq.onRound = l.recordRound
	go l.seq.run(bg)
	l.tableChecked = make(chan struct{})
	l.tableWG.Add(1)
	go func(st *specs.LogState) {
		defer l.tableWG.Done()
		l.checkTable(bg, st, l.tableChecked)
	}(l.state)
	if republish {
		l.awaitCosigned(ctx, policy, 3*cmp.Or(opts.WitnessTimeout, tessera.DefaultWitnessTimeout))
	}
	return l, nil
}

// Dir is the ledger directory.
func (l *Ledger) Dir() string { return l.dir }

// Origin is the log's origin line (and checkpoint key name).
func (l *Ledger) Origin() string { return l.origin }

// Registry is the agency registry the ledger admits against now: the
// registry.json of the directory as the log's registry entries changed it.
func (l *Ledger) Registry() *specs.Registry { return l.currentRegistry() }

// Pending is an admitted entry on its way into the log.
type Pending struct {
	Admitted *specs.Admitted
	future   tessera.IndexFuture

	// With shared admission state: closed once the index is recorded there
	// (or the Add failed), with the outcome.
	confirmed chan struct{}
	idx       uint64
	err       error
}

// Append admits a batch of envelopes, all or nothing, and hands the admitted
// ones to Tessera in order. It returns at once; each Pending resolves when
// its batch is sequenced. On a rule violation nothing is appended and the
// error is a *specs.BatchError wrapping a *specs.Violation.
func (l *Ledger) Append(ctx context.Context, envelopes ...[]byte) ([]*Pending, error) {
	return l.append(ctx, envelopes)
}

func (l *Ledger) append(ctx context.Context, envelopes [][]byte) ([]*Pending, error) {
	admitted, err := l.currentRegistry().VerifyBatch(envelopes)
	if err != nil {
		return nil, err
	}
	out, _, err := l.admit(ctx, admitted)
	return out, err
}

// admit runs the stateful rules and hands the entries to Tessera, under
// the admission lock. Signatures were checked before, outside the lock, so
// agencies' appends verify in parallel and a re-check of an early entry
// costs microseconds. On a refusal it also says whether the entry may
// merely be early (see AppendInOrder), judged under the same lock: a moment
// later the missing entry may have arrived.
func (l *Ledger) admit(ctx context.Context, admitted []*specs.Admitted) (out []*Pending, early earliness, err error) {
	if l.shared != nil {
		return l.admitShared(ctx, admitted)
	}
	entries := make([]*tessera.Entry, len(admitted)) // hashed outside the lock
	for i, a := range admitted {
		entries[i] = tessera.NewEntry(a.Envelope.Raw)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		if errors.Is(l.broken, specs.ErrTableFault) {
			return nil, notEarly, fmt.Errorf("ledger stopped admitting while it rebuilds its admission state from the log; it resumes by itself (retry shortly): %w", l.broken)
		}
		return nil, notEarly, fmt.Errorf("ledger stopped admitting after a storage failure; it resumes by itself once the storage takes writes again (retry shortly): %w", l.broken)
	}
	next, err := l.admitTrust(admitted)
	if err != nil {
		return nil, notEarly, err
	}
	index := uint64(l.state.Len()) // the index a registry entry will have: admission order is log order
	if err := l.state.AdmitBatch(admitted); err != nil {
		if len(admitted) == 1 {
			early = l.mayBeEarly(err, admitted[0].Entry)
		}
		return nil, early, err
	}
	if next != nil {
		if err := l.acceptTrust(admitted[0], index); err != nil {
			return nil, notEarly, err
		}
	}
	out = make([]*Pending, len(admitted))
	for i, a := range admitted {
		out[i] = &Pending{Admitted: a, future: l.seq.submitEntry(entries[i], a.Entry.ID)}
	}
	l.signalAdmitted(admitted)
	return out, notEarly, nil
}

// Index waits until the entry is sequenced (durably, in the POSIX driver's
// case) and returns its index. The admission state already holds it: the
// sequencer recorded its whole round (recordRound) before resolving it.
func (l *Ledger) Index(p *Pending) (uint64, error) {
	if p.confirmed != nil {
		<-p.confirmed
		return p.idx, p.err
	}
	idx, err := p.future()
	if err != nil {
		l.fail(err)
		return 0, err
	}
	return idx.Index, nil
}

// recordRound records a sequenced round's indices in the admission state,
// under one lock for the round, before the round's futures resolve (the
// sequencer's onRound; POSIX only, the shared state records its own). Why
// here and not in Index: Index took the lock once per entry (81 ms of 200 ms
// of lock wait in a profiled run), and an entry whose Index nobody asked for
// stayed "pending", so its retries were told it was still in flight. A
// failed entry stops admission as Index would (fail), whether or not anyone
// waits for it.
func (l *Ledger) recordRound(round []*seqItem) {
	var failed error
	l.mu.Lock()
	for _, it := range round {
		switch {
		case it.err != nil:
			if failed == nil {
				failed = it.err
			}
		case !it.idx.IsDup && it.id != "":
			l.state.SetIndex(it.id, it.idx.Index)
		}
	}
	if failed != nil && l.broken == nil {
		l.broken = failed
		l.startRecovery()
	}
	l.mu.Unlock()
}

func (l *Ledger) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken == nil {
		l.broken = err
		l.startRecovery()
	}
}

// Receipt waits until the entry is covered by a published checkpoint and
// returns its C2SP tlog-proof, with the envelope in the extra line
// (specs/receipts.md). The proof is verified before it is handed out.
func (l *Ledger) Receipt(ctx context.Context, p *Pending) (*Receipt, error) {
	idx, err := l.Index(p)
	if err != nil {
		return nil, err
	}
	_, cpRaw, err := l.awaiter.Await(ctx, p.future)
	if err != nil {
		return nil, err
	}
	l.archivePublished(cpRaw)
	return l.receipt(ctx, idx, p.Admitted.Envelope.Raw, p.Admitted.Entry.ID, cpRaw)
}

// Receipt is what an agency keeps for an appended entry.
type Receipt struct {
	Index   uint64
	EntryID string
	Size    uint64 // size of the checkpoint in the proof
	Proof   []byte // c2sp.org/tlog-proof@v1 text
}

func (l *Ledger) receipt(ctx context.Context, idx uint64, leaf []byte, entryID string, cpRaw []byte) (*Receipt, error) {
	cp, err := l.openCheckpoint(cpRaw)
	if err != nil {
		return nil, err
	}
	hashes, err := l.proofs.inclusion(ctx, l.reader.ReadTile, idx, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("building inclusion proof for %d in tree %d: %w", idx, cp.Size, err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, cp.Size, rfc6962.DefaultHasher.HashLeaf(leaf), hashes, cp.Hash); err != nil {
		return nil, fmt.Errorf("inclusion proof for %d in tree %d does not verify: %w", idx, cp.Size, err)
	}
	tp := &tlogproof.Proof{Extra: leaf, Index: idx, Hashes: hashes, Checkpoint: cpRaw}
	return &Receipt{Index: idx, EntryID: entryID, Size: cp.Size, Proof: tp.Marshal()}, nil
}

// openCheckpoint verifies and parses one of the log's own checkpoints,
// remembering the last one: every receipt of a batch carries the same
// checkpoint, which need not be verified again for each.
func (l *Ledger) openCheckpoint(raw []byte) (*log.Checkpoint, error) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if l.lastCP != nil && bytes.Equal(raw, l.lastCPRaw) {
		return l.lastCP, nil
	}
	cp, err := l.parseCheckpoint(raw)
	if err != nil {
		return nil, err
	}
	l.lastCP, l.lastCPRaw = cp, raw
	return cp, nil
}

// parseCheckpoint verifies one of the log's own checkpoints and parses it.
func (l *Ledger) parseCheckpoint(raw []byte) (*log.Checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(l.verifier))
	if err != nil {
		return nil, fmt.Errorf("own checkpoint does not verify: %w", err)
	}
	cp := &log.Checkpoint{}
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, err
	}
	return cp, nil
}

// Checkpoint returns the latest published checkpoint.
func (l *Ledger) Checkpoint(ctx context.Context) ([]byte, error) { return l.reader.ReadCheckpoint(ctx) }

// Len is the number of entries admitted so far (published or not).
func (l *Ledger) Len() int {
	if l.shared != nil {
		n, _ := l.shared.count(context.Background())
		return n
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.Len()
}

// LastSeq is an agency's last admitted seq: what its next entry must follow.
func (l *Ledger) LastSeq(agency string) uint64 {
	if l.shared != nil {
		n, _ := l.shared.lastSeq(context.Background(), agency)
		return n
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.LastSeq(agency)
}

// Close waits until a checkpoint covers every admitted entry, stops Tessera
// and releases the directory lock.
func (l *Ledger) Close(ctx context.Context) error {
	l.seq.drain()
	err := l.shutdown(ctx)
	if err == nil && l.shared == nil {
		if serr := l.snapshotOnClose(ctx); serr != nil && !errors.Is(serr, errNotAtCheckpoint) {
			l.log.Warn("admission snapshot not saved", "file", SnapshotFile, "error", serr)
		}
	}
	l.stopArchiver() // after Tessera's last checkpoint, which it archives
	l.mu.Lock()
	l.closing = true // so no tableWG.Add races the Wait below
	l.mu.Unlock()
	l.cancel()
	l.tableWG.Wait() // the table checks stop between blocks once cancelled
	l.sweepOnClose() // Tessera has stopped writing
	if l.shared != nil {
		l.shared.db.Close()
	}
	l.unmapSnapshots() // after the last reader of a state read from one (the table checks, snapshotOnClose)
	if cerr := l.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
