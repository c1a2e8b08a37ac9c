package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
)

// AddResponse is the JSON body of a successful POST /add.
type AddResponse struct {
	Index    uint64 `json:"index"`
	EntryID  string `json:"entry_id"`
	TreeSize uint64 `json:"tree_size,omitempty"` // size of the checkpoint in the receipt
	Receipt  string `json:"receipt,omitempty"`   // C2SP tlog-proof text (absent with ?wait=false)
	Existing bool   `json:"existing,omitempty"`  // true when this was a retry of an entry already in the log
}

// ErrorResponse is the JSON body of every refused POST /add.
type ErrorResponse struct {
	Code    string `json:"code"` // the admission rule id, or an HTTP-level code (see specs/http-api.md)
	EntryID string `json:"entry_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

// ruleStatus maps each admission rule to its HTTP status.
var ruleStatus = map[string]int{
	specs.RuleSize:             http.StatusRequestEntityTooLarge,
	specs.RuleEnvelope:         http.StatusBadRequest,
	specs.RuleSchema:           http.StatusBadRequest,
	specs.RulePayloadJSON:      http.StatusBadRequest,
	specs.RulePayloadCanonical: http.StatusBadRequest,
	specs.RuleAgencyUnknown:    http.StatusForbidden,
	specs.RuleKeyUnknown:       http.StatusForbidden,
	specs.RuleSignature:        http.StatusForbidden,
	specs.RuleKindNotAllowed:   http.StatusForbidden,
	specs.RuleSeq:              http.StatusConflict,
	specs.RuleDuplicateID:      http.StatusConflict,
	specs.RuleNaiNai:           http.StatusUnprocessableEntity,
	specs.RuleEssentialContent: http.StatusUnprocessableEntity,
	specs.RuleRefUnknown:       http.StatusUnprocessableEntity,
	specs.RuleRefMissing:       http.StatusUnprocessableEntity,
	specs.RuleRefKind:          http.StatusUnprocessableEntity,
	specs.RuleSealedPlaintext:  http.StatusBadRequest,
	specs.RuleSealedInPublic:   http.StatusBadRequest,
	specs.RuleSealedRecipients: http.StatusUnprocessableEntity,
	specs.RuleSealedBox:        http.StatusUnprocessableEntity,
}

// add admits one envelope. The agency's signature inside it is the
// authentication. It answers once the entry is covered by a published
// checkpoint (with its receipt), or with ?wait=false once it is durably
// sequenced (with its index).
func (s *Server) add(w http.ResponseWriter, r *http.Request) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		s.refuse(w, http.StatusServiceUnavailable, ErrorResponse{Code: "overloaded", Message: "too many appends in flight; retry shortly"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && mt != specs.EnvelopeMediaType) {
		s.refuse(w, http.StatusUnsupportedMediaType, ErrorResponse{Code: "content-type",
			Message: "Content-Type must be application/json or " + specs.EnvelopeMediaType})
		return
	}
	wait := r.URL.Query().Get("wait") != "false"
	// Read at most one byte past the submission limit: a larger body is
	// refused without being read whole. The leaf limit applies to the
	// canonical envelope, which admission judges.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, specs.MaxSubmissionSize+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(body) > specs.MaxSubmissionSize:
		s.refuse(w, http.StatusRequestEntityTooLarge, ErrorResponse{Code: specs.RuleSize, Rule: specs.RuleSize, Field: "envelope",
			Message: fmt.Sprintf("request body larger than %d bytes (an envelope may be at most %d bytes in canonical form)", specs.MaxSubmissionSize, specs.MaxEnvelopeSize)})
		return
	case err != nil:
		s.refuse(w, http.StatusBadRequest, ErrorResponse{Code: "body", Message: "reading the request body: " + err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WaitTimeout)
	defer cancel()

	// verify → (a retry? its place) → admit in order → sequence, reading
	// the envelope once (Ledger.Submit).
	start := time.Now()
	sub, err := s.l.Submit(ctx, body, s.cfg.ReorderWait)
	if err != nil {
		var v *specs.Violation
		switch {
		case errors.As(err, &v):
			s.metrics.rejected.WithLabelValues(v.Rule).Inc()
			status, known := ruleStatus[v.Rule]
			if !known {
				status = http.StatusBadRequest // a rule added to specs before this table: still the client's error
			}
			s.refuse(w, status, ErrorResponse{Code: v.Rule, EntryID: v.EntryID, Field: v.Field, Rule: v.Rule, Message: v.Message})
		case errors.Is(err, ledger.ErrNotYetSequenced),
			// An entry whose write failed stays "in flight" until the
			// ledger recovers and reads the log again: then fail says
			// what is wrong instead.
			errors.Is(err, ledger.ErrInFlight) && s.l.Healthy() == nil:
			s.inFlight(w, err)
		default:
			s.fail(w, err)
		}
		return
	}
	if sub.Existing {
		// A retry of an envelope already in the log: its place at once
		// without a receipt (even while no checkpoint can be published,
		// witnesses below quorum), else its original receipt.
		if !wait {
			s.reply(w, http.StatusAccepted, AddResponse{Index: sub.Index, EntryID: sub.EntryID, Existing: true})
			return
		}
		rec, err := s.l.ExistingReceipt(ctx, sub)
		if err != nil {
			s.fail(w, err)
			return
		}
		s.reply(w, http.StatusOK, AddResponse{Index: rec.Index, EntryID: rec.EntryID, TreeSize: rec.Size, Receipt: string(rec.Proof), Existing: true})
		return
	}
	p := sub.Pending
	idx, err := s.l.Index(p)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.metrics.appended.Inc()
	if !wait {
		s.reply(w, http.StatusAccepted, AddResponse{Index: idx, EntryID: p.Admitted.Entry.ID})
		return
	}
	rec, err := s.l.Receipt(ctx, p)
	if err != nil {
		// The entry is durable; only the wait for its checkpoint failed.
		w.Header().Set("Retry-After", "1")
		s.refuse(w, http.StatusServiceUnavailable, ErrorResponse{Code: "not-yet-published", EntryID: p.Admitted.Entry.ID,
			Message: "entry is sequenced at index " + itoa(idx) + " but no checkpoint covers it yet; retry the same envelope for its receipt"})
		return
	}
	s.metrics.integration.Observe(time.Since(start).Seconds())
	s.reply(w, http.StatusOK, AddResponse{Index: rec.Index, EntryID: rec.EntryID, TreeSize: rec.Size, Receipt: string(rec.Proof)})
}

func (s *Server) reply(w http.ResponseWriter, status int, v any) {
	// Marshalled whole (with the newline an Encoder writes) so that the
	// answer goes out with its length in one write, not chunked.
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"code":"unavailable","message":"encoding the answer failed"}`)
		status = http.StatusInternalServerError
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) refuse(w http.ResponseWriter, status int, e ErrorResponse) {
	if e.Rule == "" {
		s.metrics.rejected.WithLabelValues("http:" + e.Code).Inc()
	}
	s.log.Info("append refused", "status", status, "code", e.Code, "entry_id", e.EntryID, "field", e.Field, "message", e.Message)
	s.reply(w, status, e)
}

// fail reports a server-side failure; the entry may or may not be durable,
// so the client retries the same envelope (which is idempotent). Tessera's
// integration pushback is one: the log is busy, nothing is lost.
func (s *Server) fail(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	if errors.Is(err, ledger.ErrInFlight) {
		if herr := s.l.Healthy(); herr != nil {
			err = herr
		}
	}
	if errors.Is(err, ledger.ErrPushback) {
		s.refuse(w, http.StatusServiceUnavailable, ErrorResponse{Code: "pushback", Message: s.l.PublicError(err)})
		return
	}
	s.log.Error("append failed", "err", err)
	// The full error (with its paths) is in the server's log only.
	s.reply(w, http.StatusServiceUnavailable, ErrorResponse{Code: "unavailable", Message: s.l.PublicError(err)})
}

// inFlight says the entry, or one it follows, is being appended right now
// (possibly through another frontend): the same envelope may be retried.
func (s *Server) inFlight(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "1")
	s.refuse(w, http.StatusConflict, ErrorResponse{Code: "in-flight", Message: s.l.PublicError(err)})
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
