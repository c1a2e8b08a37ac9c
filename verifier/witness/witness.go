// Package witness is a transparency-log witness: it cosigns a log's
// checkpoints only if they extend the last checkpoint it cosigned, so that
// a log operator cannot fork the log (show two histories) or roll it back
// without the witnesses noticing.
//
// It follows C2SP tlog-witness (https://c2sp.org/tlog-witness, the revision
// named in specs/witnesses.md) byte for byte: [Witness.ServeHTTP] answers
// POST /add-checkpoint and, for monitors, GET /<origin hash>/checkpoint; its
// cosignatures are C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature),
// timestamped Ed25519 signatures whose verifier key has type 0x04. Those are
// what Tessera's witness client (tessera.NewWitness, WithWitnesses) sends and
// expects, and what a policy file's "witness" lines name.
//
// For each log it knows (origin → trusted log keys) the witness keeps one
// state file: the latest checkpoint it cosigned, as a signed note carrying
// the log's signature and the cosignature it returned. The file
// is replaced atomically and durably before any cosignature is returned, and
// read back and verified again against the log key on start, so a restarted
// witness refuses anything older than what it signed, and a tampered state
// file stops it rather than silently resetting it.
//
// The package depends only on public formats (signed notes, checkpoints,
// RFC 6962 Merkle proofs), never on the code that writes the ledger.
package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Protocol constants.
const (
	// MaxProofLines is the most consistency proof lines a request may carry
	// (tlog-witness: "The client MUST NOT send more than 63").
	MaxProofLines = 63
	// DefaultMaxBodySize bounds a request body when Config.MaxBodySize is
	// zero. A checkpoint with a few dozen signatures and a full proof is a
	// few kilobytes.
	DefaultMaxBodySize = 1 << 20
	// ContentTypeSize is the Content-Type of the 409 response that tells the
	// client the size of the latest cosigned checkpoint.
	ContentTypeSize = "text/x.tlog.size"
)

// ErrBadState is wrapped by the error [New] returns when a state file
// exists but is not a checkpoint signed by the log's trusted key for its
// origin. The witness refuses to start: resetting the state would let the
// log roll back. Remove the file deliberately (the witness then re-learns
// the log from "old 0") or restore it from a backup.
var ErrBadState = errors.New("bad witness state")

// Config configures a [Witness].
type Config struct {
	// Key is the witness's private key in signed-note form
	// ("PRIVATE+KEY+<name>+<hash>+<key>"), an Ed25519 key as written by
	// [GenerateKey]. Its name is the witness's name in cosignature lines.
	Key string
	// StateDir holds one state file per log (created if missing). Only one
	// witness process may use it at a time; [New] locks it.
	StateDir string
	// Logs maps each log origin (the checkpoint's first line) to the keys
	// whose signature on a checkpoint is trusted. Several keys allow a key
	// rotation. [ParseLogKeys] builds it from verifier keys.
	Logs map[string][]note.Verifier
	// Logger receives one line per request and, at warning or error level,
	// checkpoints that may be evidence of log misbehaviour. Nil discards.
	Logger *slog.Logger
	// MaxBodySize bounds an add-checkpoint request; 0 means
	// DefaultMaxBodySize.
	MaxBodySize int64
}

// Witness cosigns checkpoints of the logs it knows. It is safe for
// concurrent use; it is also an [http.Handler] (see [Witness.ServeHTTP]).
type Witness struct {
	signer   *fnote.Signer
	vkey     string
	verifier note.Verifier // of the witness's own cosignatures
	logger   *slog.Logger
	maxBody  int64
	stateDir string
	unlock   func() error
	logs     map[string]*logState
	byHash   map[string]*logState // by origin hash, for GET <origin hash>/checkpoint

	closeOnce sync.Once
	closeErr  error
}

// logState is what the witness knows about one log.
type logState struct {
	origin    string
	verifiers note.Verifiers
	file      string

	mu     sync.Mutex  // held from the old-size check to the state update
	latest *checkpoint // nil: never cosigned
}

// checkpoint is a parsed checkpoint note.
type checkpoint struct {
	origin string
	size   uint64
	hash   []byte
	text   string // the note text (the checkpoint body)
	raw    []byte // text, blank line, and the log signatures that verified
	cosig  []byte // the witness's cosignature line(s) on it, once cosigned
}

// cosigned is the note the witness keeps and serves for monitors: the
// checkpoint with the log signatures it verified and the cosignature it
// returned (tlog-witness, "Monitor Retrieval Mechanism").
func (c *checkpoint) cosigned() []byte {
	return append(bytes.Clone(c.raw), c.cosig...)
}

// Error is a refused add-checkpoint request. Status is the HTTP status
// tlog-witness prescribes for the failed check.
type Error struct {
	Status int
	Msg    string
	// SizeMismatch is set when the request's old size is not the size of
	// the latest cosigned checkpoint (Status 409); StoredSize is that size,
	// the body of the text/x.tlog.size response.
	SizeMismatch bool
	StoredSize   uint64
}

func (e *Error) Error() string {
	return fmt.Sprintf("witness: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// New opens a witness: it parses the key, locks the state directory and
// loads and verifies every configured log's state file. A state file that
// does not verify is an [ErrBadState] error. Call [Witness.Close] to
// release the directory.
func New(cfg Config) (*Witness, error) {
	signer, vkey, err := parseSignerKey(cfg.Key)
	if err != nil {
		return nil, err
	}
	if cfg.StateDir == "" {
		return nil, errors.New("witness: no state directory configured")
	}
	if len(cfg.Logs) == 0 {
		return nil, errors.New("witness: no logs configured")
	}
	w := &Witness{
		signer:   signer,
		vkey:     vkey,
		logger:   cfg.Logger,
		maxBody:  cfg.MaxBodySize,
		stateDir: cfg.StateDir,
		logs:     make(map[string]*logState, len(cfg.Logs)),
	}
	if w.verifier, err = fnote.NewVerifierForCosignatureV1(vkey); err != nil {
		return nil, fmt.Errorf("witness: own verifier key: %w", err)
	}
	if w.logger == nil {
		w.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w.byHash = make(map[string]*logState, len(cfg.Logs))
	if w.maxBody <= 0 {
		w.maxBody = DefaultMaxBodySize
	}
	for origin, vs := range cfg.Logs {
		ls, err := newLogState(origin, vs)
		if err != nil {
			return nil, err
		}
		w.logs[origin] = ls
		w.byHash[OriginHash(origin)] = ls
	}
	if w.unlock, err = lockStateDir(cfg.StateDir); err != nil {
		return nil, err
	}
	if err := w.loadState(); err != nil {
		w.unlock()
		return nil, err
	}
	return w, nil
}

func newLogState(origin string, vs []note.Verifier) (*logState, error) {
	if !validOrigin(origin) {
		return nil, fmt.Errorf("witness: invalid log origin %q", origin)
	}
	file, err := stateFileName(origin)
	if err != nil {
		return nil, err
	}
	type nameHash struct {
		name string
		hash uint32
	}
	seen := map[nameHash]note.Verifier{}
	var list []note.Verifier
	for _, v := range vs {
		if v == nil {
			continue
		}
		k := nameHash{v.Name(), v.KeyHash()}
		if _, dup := seen[k]; dup {
			// Notes name keys by name and hash: a second key with the same
			// pair (normally the same key listed twice) is dropped, as
			// note.VerifierList would otherwise find it ambiguous.
			continue
		}
		seen[k] = v
		list = append(list, v)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("witness: log %q has no trusted key", origin)
	}
	return &logState{origin: origin, verifiers: note.VerifierList(list...), file: file}, nil
}

// Close releases the state directory. Requests after Close still work but
// another process may then open the directory; close the HTTP server first.
func (w *Witness) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.unlock() })
	return w.closeErr
}

// Name is the witness's key name, the name in its cosignature lines.
func (w *Witness) Name() string { return w.signer.Name() }

// VerifierKey is the witness's public key as a cosignature/v1 (type 0x04)
// verifier key: what goes into a policy file's "witness" line and what
// formats/note.NewVerifierForCosignatureV1 takes.
func (w *Witness) VerifierKey() string { return w.vkey }

// Origins lists the origins of the logs the witness knows, sorted.
func (w *Witness) Origins() []string {
	out := make([]string, 0, len(w.logs))
	for o := range w.logs {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Latest returns the latest checkpoint the witness cosigned for origin, as
// a signed note carrying the log's signature(s) and the witness's
// cosignature (what GET /<origin hash>/checkpoint serves and the state file
// holds), and its size. ok is false if the origin is unknown or nothing was
// cosigned yet.
func (w *Witness) Latest(origin string) (raw []byte, size uint64, ok bool) {
	ls := w.logs[origin]
	if ls == nil {
		return nil, 0, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.latest == nil {
		return nil, 0, false
	}
	return ls.latest.cosigned(), ls.latest.size, true
}

// AddCheckpoint handles the body of a tlog-witness add-checkpoint request:
//
//	old <size>
//	<base64 hash>        (0 to 63 consistency proof lines)
//	<empty line>
//	<checkpoint note>
//
// On success it has durably recorded the checkpoint as the log's latest and
// returns the cosignature line(s), "— <name> <base64>\n", the body of the
// 200 response. Otherwise the error is an [*Error] carrying the HTTP status
// and the state is unchanged: 400 malformed request or old size larger than
// the checkpoint's, 404 unknown origin, 403 no valid signature by a trusted
// log key, 409 old size not the latest cosigned size (SizeMismatch), 422 a
// size-0 checkpoint whose root is not the empty tree's, a checkpoint of the
// cosigned size with another root hash, or a consistency proof that does not
// verify (or is not empty from old 0), 500 the state could not be written.
// The checks run in the order the tlog-witness text gives them.
func (w *Witness) AddCheckpoint(body []byte) ([]byte, error) {
	cosig, _, err := w.add(body)
	return cosig, err
}

// requestInfo is what a request was about, as far as it was parsed, for
// the request log.
type requestInfo []any

func (w *Witness) add(body []byte) (_ []byte, info requestInfo, _ error) {
	req, err := parseRequest(body)
	if err != nil {
		return nil, nil, refuse(http.StatusBadRequest, "%v", err)
	}
	info = requestInfo{"old", req.old}
	// Parse the note with no trusted key first: a malformed note is a bad
	// request whatever its origin.
	var unverified *note.UnverifiedNoteError
	if _, err := note.Open(req.checkpoint, note.VerifierList()); !errors.As(err, &unverified) {
		return nil, info, refuse(http.StatusBadRequest, "checkpoint is not a signed note")
	}
	text := unverified.Note.Text
	cp, err := parseCheckpointText(text)
	if err != nil {
		return nil, info, refuse(http.StatusBadRequest, "%v", err)
	}
	info = append(info, "origin", cp.origin, "size", cp.size)
	ls := w.logs[cp.origin]
	if ls == nil {
		return nil, info, refuse(http.StatusNotFound, "unknown log origin %q", cp.origin)
	}
	n, err := note.Open(req.checkpoint, ls.verifiers)
	if err != nil {
		return nil, info, refuse(http.StatusForbidden, "checkpoint of %q carries no valid signature by a trusted log key: %s", cp.origin, signatureError(err))
	}
	cp.raw = noteWithSigs(text, n.Sigs)
	if req.old > cp.size {
		return nil, info, refuse(http.StatusBadRequest, "old size %d is larger than the checkpoint size %d", req.old, cp.size)
	}

	// From the old-size check to the state update, nothing else may touch
	// this log's state (tlog-witness: otherwise a slow request for a smaller
	// tree could roll the state back after a larger one was cosigned).
	ls.mu.Lock()
	defer ls.mu.Unlock()
	prev := ls.latest
	var prevSize uint64
	prevHash := emptyRoot
	if prev != nil {
		prevSize, prevHash = prev.size, prev.hash
	}
	if req.old != prevSize {
		return nil, info, &Error{Status: http.StatusConflict, SizeMismatch: true, StoredSize: prevSize,
			Msg: fmt.Sprintf("old size %d is not the size of the latest cosigned checkpoint, %d", req.old, prevSize)}
	}
	if cp.size == 0 && !bytes.Equal(cp.hash, emptyRoot) {
		w.logger.Warn("size-0 checkpoint without the empty tree's root: possible log misbehaviour; not cosigned",
			"origin", cp.origin, "root", b64(cp.hash), "new_checkpoint", string(cp.raw))
		return nil, info, refuse(http.StatusUnprocessableEntity, "checkpoint of size 0 has root %s, not the empty tree's root %s", b64(cp.hash), b64(emptyRoot))
	}
	if prev != nil && cp.size == prev.size && !bytes.Equal(cp.hash, prev.hash) {
		w.logger.Error("split view: the log signed two different checkpoints of the same size; not cosigned",
			"origin", cp.origin, "size", cp.size,
			"cosigned_root", b64(prev.hash), "new_root", b64(cp.hash),
			"cosigned_checkpoint", string(prev.raw), "new_checkpoint", string(cp.raw))
		return nil, info, refuse(http.StatusUnprocessableEntity, "checkpoint of size %d has root %s, but the witness cosigned root %s for that size",
			cp.size, b64(cp.hash), b64(prev.hash))
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, req.old, cp.size, req.proof, prevHash, cp.hash); err != nil {
		w.logger.Warn("consistency proof does not verify: possible log misbehaviour; not cosigned",
			"origin", cp.origin, "old", req.old, "size", cp.size, "error", err.Error(),
			"cosigned_checkpoint", string(cosignedRaw(prev)), "new_checkpoint", string(cp.raw),
			"proof", b64s(req.proof))
		return nil, info, refuse(http.StatusUnprocessableEntity, "consistency proof from size %d to %d does not verify: %v", req.old, cp.size, err)
	}

	cosig, err := w.cosign(text)
	if err != nil {
		w.logger.Error("cosigning failed", "origin", cp.origin, "size", cp.size, "error", err.Error())
		return nil, info, refuse(http.StatusInternalServerError, "cosigning failed")
	}
	cp.cosig = cosig
	if err := w.saveState(ls, cp); err != nil {
		w.logger.Error("saving state failed; not cosigned", "origin", cp.origin, "size", cp.size, "error", err.Error())
		return nil, info, refuse(http.StatusInternalServerError, "could not record the checkpoint")
	}
	ls.latest = cp
	return cosig, info, nil
}

// cosign returns the witness's signature line on the note text.
func (w *Witness) cosign(text string) ([]byte, error) {
	signed, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		return nil, err
	}
	// note.Sign returns text, a blank line, then the signature lines.
	return bytes.Clone(signed[len(text)+1:]), nil
}

// noteWithSigs re-encodes a verified note with only the given signatures.
func noteWithSigs(text string, sigs []note.Signature) []byte {
	var b bytes.Buffer
	b.WriteString(text)
	b.WriteString("\n")
	for _, s := range sigs {
		fmt.Fprintf(&b, "— %s %s\n", s.Name, s.Base64)
	}
	return b.Bytes()
}

// signatureError says why note.Open rejected a note.
func signatureError(err error) string {
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &invalid):
		return fmt.Sprintf("signature by %s+%08x does not verify", invalid.Name, invalid.Hash)
	case errors.As(err, &unverified):
		return "no signature by a trusted key"
	default:
		return err.Error()
	}
}

func cosignedRaw(c *checkpoint) []byte {
	if c == nil {
		return nil
	}
	return c.raw
}

func b64(h []byte) string { return base64.StdEncoding.EncodeToString(h) }

func b64s(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

// OriginHash is how tlog-witness names a log in monitoring paths: the
// SHA-256 of its origin line, hex encoded in lower case.
func OriginHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// emptyRoot is the RFC 6962 root of the empty tree.
var emptyRoot = sha256.New().Sum(nil)

// validOrigin: non-empty UTF-8 with no control characters, so that it can
// be a checkpoint's first line.
func validOrigin(o string) bool {
	if o == "" || !utf8.ValidString(o) {
		return false
	}
	return !strings.ContainsFunc(o, func(r rune) bool { return r < 0x20 })
}
