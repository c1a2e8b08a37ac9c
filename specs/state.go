package specs

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// LogState is what admission must remember of the log so far: each agency's
// last seq and, for every entry id, its index and what a reference to it is
// checked against (rule refs.kind): its kind, agency and case. The ledger
// keeps one to admit entries; an auditor rebuilds one by replaying the log
// and must reach the same verdict on every leaf. It is not safe for
// concurrent use.
type LogState struct {
	lastSeq map[string]uint64
	// ids holds the entries recorded in this process; base, when the
	// state was read from a version 2 snapshot, the ones before it, read
	// in place (see idTable). An id is looked up in ids first.
	ids  map[string]entryInfo
	base *idTable
	// shadowed counts the ids in both: Record of a leaf repeating an id of
	// the snapshot (an auditor notes what such a leaf claims to be).
	shadowed int
	// Kinds, agencies and cases are few and shared by many entries, so each
	// entry holds small numbers for them: 16 bytes an entry besides its id.
	kinds, agencies, cases *interner
}

// entryInfo is what LogState remembers of one entry. A kind, agency or
// case number is 0 for a value not recorded: empty, not a kind of this
// schema (the kinds table is closed, so garbage leaves cannot fill it), or
// past its table's capacity (65,535 agencies: only a log of that many
// garbage leaves, each reported, could get there).
type entryInfo struct {
	index  uint64
	kase   uint32
	agency uint16
	kind   uint8
}

// Table capacities: the width of entryInfo's fields.
const (
	maxAgencies = 1<<16 - 1
	maxCases    = 1<<32 - 1
)

// interner numbers strings 1, 2, 3… in the order first seen; 0 is "".
type interner struct {
	num  map[string]uint32
	strs []string // strs[n-1] has number n
	max  uint32
}

func newInterner(max uint32) *interner { return &interner{num: map[string]uint32{}, max: max} }

func (t *interner) id(s string) uint32 {
	if s == "" {
		return 0
	}
	if n, ok := t.num[s]; ok {
		return n
	}
	if uint32(len(t.strs)) >= t.max {
		return 0
	}
	t.strs = append(t.strs, s)
	t.num[s] = uint32(len(t.strs))
	return uint32(len(t.strs))
}

func (t *interner) str(n uint32) string {
	if n == 0 || int(n) > len(t.strs) {
		return ""
	}
	return t.strs[n-1]
}

// PendingIndex stands for "admitted, index not yet known": a writer records
// entries as soon as they are admitted so later entries can refer to them.
const PendingIndex = ^uint64(0)

// NewLogState returns the state of an empty log.
func NewLogState() *LogState {
	kinds := newInterner(uint32(len(Kinds)))
	for _, k := range Kinds {
		kinds.id(k)
	}
	return &LogState{lastSeq: map[string]uint64{}, ids: map[string]entryInfo{},
		kinds: kinds, agencies: newInterner(maxAgencies), cases: newInterner(maxCases)}
}

// Admitted is an envelope that passed every rule.
type Admitted struct {
	Envelope *Envelope
	Entry    *Entry
	Agency   *Agency
}

// Check runs every admission rule (specs/admission.md) on one leaf,
// in order, against this state and the registry. It changes nothing; call
// Accept once the entry has its index in the log.
func (s *LogState) Check(reg *Registry, raw []byte) (*Admitted, error) {
	return s.check(reg.VerifySigned, raw)
}

// CheckSubmitted is Check for an envelope as an agency submits it (any
// spacing and member order; see Registry.VerifySubmitted): the verdict a
// ledger reaches.
func (s *LogState) CheckSubmitted(reg *Registry, raw []byte) (*Admitted, error) {
	return s.check(reg.VerifySubmitted, raw)
}

func (s *LogState) check(verify func([]byte) (*Admitted, error), raw []byte) (*Admitted, error) {
	a, err := verify(raw)
	if err != nil {
		return nil, err
	}
	if err := s.CheckVerified(a); err != nil {
		return nil, err
	}
	return a, nil
}

// CheckVerified runs the rest of the rules, in order, on an envelope that
// passed VerifySigned: seq, content, duplicate id, refs. Splitting the two
// lets an auditor verify signatures in parallel and still replay the
// stateful rules in log order.
func (s *LogState) CheckVerified(a *Admitted) error {
	err := s.checkVerified(a)
	// A lookup in a block of a version 3 table that failed its check
	// found nothing there: no verdict reached with it stands.
	if f := s.TableFault(); f != nil {
		return f
	}
	return err
}

func (s *LogState) checkVerified(a *Admitted) error {
	e := a.Entry
	if want := s.lastSeq[e.Agency] + 1; e.Seq != want {
		replay := ""
		if info, ok := s.lookup(e.ID); ok && info.index != PendingIndex {
			replay = fmt.Sprintf("; this id is already in the log at index %d, so this looks like a replay", info.index)
		}
		return violation(e.ID, "seq", RuleSeq, "seq %d, expected %d (the last accepted seq of agency %s is %d)%s", e.Seq, want, e.Agency, want-1, replay)
	}
	if err := e.CheckContent(); err != nil {
		return err
	}
	if info, dup := s.lookup(e.ID); dup {
		where := fmt.Sprintf("at index %d", info.index)
		if info.index == PendingIndex {
			where = "(appended moments ago, index not yet assigned)"
		}
		return violation(e.ID, "id", RuleDuplicateID, "id is already in the log %s", where)
	}
	return s.checkRefs(e)
}

// Verify runs the admission rules that need no log state (everything but
// seq order, duplicate ids and refs) on one envelope: what an auditor can
// check of a single receipt.
func (reg *Registry) Verify(raw []byte) (*Admitted, error) {
	a, err := reg.VerifySigned(raw)
	if err != nil {
		return nil, err
	}
	if err := a.Entry.CheckContent(); err != nil {
		return nil, err
	}
	return a, nil
}

// VerifySigned runs the rules up to and including the sealed-part check on
// a leaf of a log: size, envelope (its bytes must be the canonical
// encoding), payload, schema, agency, key, signature, kind, sealed. It
// needs no log state.
func (reg *Registry) VerifySigned(raw []byte) (*Admitted, error) {
	if len(raw) > MaxEnvelopeSize {
		return nil, sizeViolation(len(raw))
	}
	return reg.verifySigned(raw, ParseEnvelope)
}

// VerifySubmitted is VerifySigned for an envelope as an agency submits it:
// any spacing and member order (read strictly all the same). The
// Admitted's Envelope.Raw is its canonical encoding, the leaf to store.
func (reg *Registry) VerifySubmitted(raw []byte) (*Admitted, error) {
	if len(raw) > MaxSubmissionSize {
		return nil, violation("", "envelope", RuleSize, "the submission is %d bytes; the limit before canonicalisation is %d", len(raw), MaxSubmissionSize)
	}
	// Spacing does not count: the canonical size is judged once read.
	return reg.verifySigned(raw, ReadEnvelope)
}

func (reg *Registry) verifySigned(raw []byte, read func([]byte) (*Envelope, error)) (*Admitted, error) {
	env, err := read(raw)
	if err != nil {
		return nil, err
	}
	if len(env.Raw) > MaxEnvelopeSize {
		return nil, sizeViolation(len(env.Raw))
	}
	e, err := ParseEntry(env.Payload)
	if err != nil {
		return nil, err
	}
	a := reg.Agency(e.Agency)
	if a == nil {
		if e.Agency == RootAgency {
			return nil, violation(e.ID, "agency", RuleAgencyUnknown, "a registry entry, but the registry checked against has no commission root key: for a log with a genesis, pin the root key's fingerprint (--root-key) instead of a registry file; a log without a genesis takes no registry entries (specs/registry.md)")
		}
		return nil, violation(e.ID, "agency", RuleAgencyUnknown, "agency %q is not in the registry", e.Agency)
	}
	if a.RetiredBy != "" {
		return nil, violation(e.ID, "agency", RuleAgencyUnknown, "agency %s was retired by registry entry %s; entries logged after it are refused", a.ID, a.RetiredBy)
	}
	k := a.Key(env.KeyID)
	if k == nil {
		return nil, violation(e.ID, "signatures[0].keyid", RuleKeyUnknown, "key %s is not registered for agency %s", env.KeyID, a.ID)
	}
	if k.RevokedBy != "" {
		return nil, violation(e.ID, "signatures[0].keyid", RuleKeyUnknown, "key %s of agency %s was revoked by registry entry %s; entries it signs logged after that entry are refused", k.ID, a.ID, k.RevokedBy)
	}
	if err := env.verify(e.ID, k); err != nil {
		return nil, err
	}
	if !a.MayAppend(e.Kind) {
		return nil, violation(e.ID, "kind", RuleKindNotAllowed, "agency %s (role %s) may not append %s", a.ID, a.Role, e.Kind)
	}
	if err := reg.checkSealed(e); err != nil {
		return nil, err
	}
	return &Admitted{Envelope: env, Entry: e, Agency: a}, nil
}

func sizeViolation(n int) error {
	return violation("", "envelope", RuleSize, "envelope is %d bytes in canonical form; the limit is %d", n, MaxEnvelopeSize)
}

func (s *LogState) checkRefs(e *Entry) error {
	listed := map[string]bool{}
	for i, r := range e.Refs {
		if _, ok := s.lookup(r); !ok {
			return violation(e.ID, fmt.Sprintf("refs[%d]", i), RuleRefUnknown, "ref %s is not an earlier entry of the log", r)
		}
		listed[r] = true
	}
	brs := e.BodyRefs()
	for _, br := range brs {
		if !listed[br[1]] {
			return violation(e.ID, "body."+br[0], RuleRefMissing, "%s is named in body.%s but not listed in refs", br[1], br[0])
		}
	}
	for _, br := range brs {
		field, id := br[0], br[1]
		want := RefTargets()[e.Kind][field]
		got, _ := s.lookup(id)
		kind, agency, kase := s.kinds.str(uint32(got.kind)), s.agencies.str(uint32(got.agency)), s.cases.str(got.kase)
		if !slices.Contains(want.Kinds, kind) || want.SameAgency && agency != e.Agency || want.SameCase && kase != e.Case {
			return violation(e.ID, "body."+field, RuleRefKind, "body.%s names %s (%s of agency %s, case %s); it must name %s",
				field, id, orUnrecorded(kind, "an entry of unrecorded kind"), orUnrecorded(agency, "(unrecorded)"), orUnrecorded(kase, "(unrecorded)"), want.describe(e))
		}
	}
	return nil
}

func orUnrecorded(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}

// describe says what a field must name, for the entry naming it: "an
// acquisition.started of agency nco, case C-1".
func (t RefTarget) describe(e *Entry) string {
	var b strings.Builder
	for i, k := range t.Kinds {
		switch {
		case i == 0 && strings.ContainsRune("aeiou", rune(k[0])):
			b.WriteString("an ")
		case i == 0:
			b.WriteString("a ")
		case i == len(t.Kinds)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(k)
	}
	var same []string
	if t.SameAgency {
		same = append(same, "agency "+e.Agency)
	}
	if t.SameCase {
		same = append(same, "case "+e.Case)
	}
	if len(same) > 0 {
		b.WriteString(" of " + strings.Join(same, ", "))
	}
	return b.String()
}

// Accept records an admitted entry at its log index.
func (s *LogState) Accept(a *Admitted, index uint64) {
	e := a.Entry
	s.Record(Header{ID: e.ID, Kind: e.Kind, Agency: e.Agency, Case: e.Case, Seq: e.Seq}, index)
}

// Record notes an entry already in the log without re-checking it: how a
// writer restores its state from its own log on restart, and how an
// auditor notes what a leaf that broke a rule claims to be.
func (s *LogState) Record(h Header, index uint64) {
	s.lastSeq[h.Agency] = h.Seq
	if s.base != nil {
		if _, mine := s.ids[h.ID]; !mine {
			if _, old := s.base.find(h.ID); old {
				s.shadowed++
			}
		}
	}
	s.ids[h.ID] = entryInfo{index: index, kind: uint8(s.kinds.id(h.Kind)), agency: uint16(s.agencies.id(h.Agency)), kase: s.cases.id(h.Case)}
}

// SetLastSeq sets an agency's last accepted seq: how a writer whose state
// lives in a shared database loads just the part of it a batch needs.
func (s *LogState) SetLastSeq(agency string, seq uint64) { s.lastSeq[agency] = seq }

// BatchError says which entry of a batch broke which rule.
type BatchError struct {
	Position int // zero-based position in the batch
	Err      error
}

func (e *BatchError) Error() string { return fmt.Sprintf("batch item %d: %v", e.Position+1, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// CheckBatch admits a batch all or nothing: each envelope is checked as if
// the ones before it were already in the log. On success every entry is
// recorded at PendingIndex (see SetIndex); on failure the state is as it was
// and the error is a *BatchError. It is VerifyBatch then AdmitBatch.
func (s *LogState) CheckBatch(reg *Registry, raws [][]byte) ([]*Admitted, error) {
	as, err := reg.VerifyBatch(raws)
	if err != nil {
		return nil, err
	}
	return as, s.AdmitBatch(as)
}

// VerifyBatch runs the stateless rules (VerifySubmitted) on every
// submitted envelope,
// spread over all cores (signature checks dominate). It needs no lock on
// the log state, so a writer runs it before taking one. The error names
// the first failing envelope of the batch.
func (reg *Registry) VerifyBatch(raws [][]byte) ([]*Admitted, error) {
	out := make([]*Admitted, len(raws))
	errs := make([]error, len(raws))
	workers := min(runtime.GOMAXPROCS(0), (len(raws)+31)/32)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raws); i += workers {
				out[i], errs[i] = reg.VerifySubmitted(raws[i])
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, &BatchError{Position: i, Err: err}
		}
	}
	return out, nil
}

// AdmitBatch runs the stateful rules (CheckVerified) on verified entries, in
// order, all or nothing, as CheckBatch describes.
func (s *LogState) AdmitBatch(as []*Admitted) error {
	type prior struct {
		seq uint64
		had bool
	}
	undo := make(map[string]prior)
	for i, a := range as {
		if err := s.CheckVerified(a); err != nil {
			// Each passed the duplicate check, so none is in s.base.
			for _, done := range as[:i] {
				delete(s.ids, done.Entry.ID)
			}
			for agency, p := range undo {
				if p.had {
					s.lastSeq[agency] = p.seq
				} else {
					delete(s.lastSeq, agency)
				}
			}
			return &BatchError{Position: i, Err: err}
		}
		if _, seen := undo[a.Entry.Agency]; !seen {
			seq, had := s.lastSeq[a.Entry.Agency]
			undo[a.Entry.Agency] = prior{seq, had}
		}
		s.Accept(a, PendingIndex)
	}
	return nil
}

// SetIndex replaces an entry's PendingIndex with its index in the log.
// (Entries of s.base have their index already.)
func (s *LogState) SetIndex(id string, index uint64) {
	if info, ok := s.ids[id]; ok {
		info.index = index
		s.ids[id] = info
	}
}

// IndexOf returns the log index of an entry id.
func (s *LogState) IndexOf(id string) (uint64, bool) {
	info, ok := s.lookup(id)
	return info.index, ok
}

// LastSeq returns the last accepted seq of an agency (0 if none).
func (s *LogState) LastSeq(agency string) uint64 { return s.lastSeq[agency] }

// Len is the number of entries accepted.
func (s *LogState) Len() int {
	if s.base == nil {
		return len(s.ids)
	}
	return len(s.ids) + s.base.n - s.shadowed
}

// lookup finds an entry among those recorded here, then in the snapshot's
// table.
func (s *LogState) lookup(id string) (entryInfo, bool) {
	if info, ok := s.ids[id]; ok {
		return info, true
	}
	return s.base.find(id)
}

// each calls fn for every entry once, in no particular order (an id in
// both s.ids and s.base is s.ids's). It allocates a string per entry of
// s.base: for writing a whole state out, not for admission.
func (s *LogState) each(fn func(id string, info entryInfo)) {
	if t := s.base; t != nil && t.checkAll() == nil {
		for i := range t.n {
			id := string(t.id(i))
			if s.shadowed > 0 {
				if _, mine := s.ids[id]; mine {
					continue
				}
			}
			fn(id, t.info(i))
		}
	}
	for id, info := range s.ids {
		fn(id, info)
	}
}

// Agencies returns each agency's last seq.
func (s *LogState) Agencies() map[string]uint64 {
	out := make(map[string]uint64, len(s.lastSeq))
	for k, v := range s.lastSeq {
		out[k] = v
	}
	return out
}
