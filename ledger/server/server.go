// Package server is acdledger's HTTP front: agencies POST signed envelopes
// to /add, and anyone reads the log through the C2SP tlog-tiles static API
// (/checkpoint, /tile/…). The API is specified in specs/http-api.md.
package server

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config tunes the server. Zero values take the defaults.
type Config struct {
	MaxInFlight int           // concurrent /add requests before 503 (default 4096)
	WaitTimeout time.Duration // longest /add waits for its checkpoint (default 30s)
	ReorderWait time.Duration // longest an early entry (seq ahead, ref not yet in) waits for the entries before it (default 10s)
	Logger      *slog.Logger  // default slog.Default()
}

// Server serves one ledger.
type Server struct {
	l       *ledger.Ledger
	cfg     Config
	log     *slog.Logger
	slots   chan struct{}
	metrics *metrics
	mux     *http.ServeMux
}

// New builds the handler for a ledger. The read API serves the log from
// wherever the ledger's storage keeps it (its directory, or its bucket).
func New(l *ledger.Ledger, cfg Config) *Server {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4096
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 30 * time.Second
	}
	if cfg.ReorderWait <= 0 {
		cfg.ReorderWait = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := prometheus.NewRegistry()
	s := &Server{l: l, cfg: cfg, log: cfg.Logger, slots: make(chan struct{}, cfg.MaxInFlight),
		metrics: newMetrics(reg, l), mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /add", s.add)
	s.mux.HandleFunc("GET /checkpoint", s.checkpoint)
	s.mux.HandleFunc("GET /tile/", s.tile)
	s.mux.HandleFunc("GET /compliance/", s.compliance)
	s.mux.HandleFunc("GET /checkpoints/", s.archived)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HTTPServer wraps the handler with the timeouts and limits that keep a
// slow or hostile client from holding connections or memory.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.cfg.WaitTimeout + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// healthz is one line per finding: "ok", or why the ledger is degraded.
// 503 when it does not admit (a storage failure, retried by itself) or when
// its witnesses cannot meet the quorum (entries are sequenced but no new
// checkpoint is published, so no receipt is handed out); 200 with the
// finding when a witness fails but the quorum is still met. No line names
// a server path. ?format=json gives the same as JSON.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h := s.l.Health()
	var lines []string
	status := http.StatusOK
	if h.Admitting != nil {
		status = http.StatusServiceUnavailable
		lines = append(lines, "not admitting: "+h.Admitting.Error())
	}
	if len(h.Failing) > 0 {
		why := "witnesses failing (quorum still met): "
		if h.QuorumLost {
			status = http.StatusServiceUnavailable
			why = "witness quorum lost, no checkpoint is published; failing: "
		}
		lines = append(lines, "degraded: "+why+strings.Join(h.Failing, ", "))
	}
	if r.URL.Query().Get("format") == "json" {
		st := "ok"
		if status != http.StatusOK {
			st = "unavailable"
		} else if len(lines) > 0 {
			st = "degraded"
		}
		w.Header().Set("Cache-Control", "no-store")
		s.reply(w, status, HealthResponse{Status: st, Problems: lines, Storage: h.Storage, QuorumLost: h.QuorumLost,
			Failing: h.Failing, Witnesses: h.Witnesses})
		return
	}
	if len(lines) == 0 {
		lines = []string{"ok"}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(strings.Join(lines, "\n") + "\n"))
}

// HealthResponse is GET /healthz?format=json.
type HealthResponse struct {
	Status     string                `json:"status"`             // ok, degraded (200) or unavailable (503)
	Problems   []string              `json:"problems,omitempty"` // the text answer's lines
	Storage    string                `json:"storage_failure,omitempty"`
	QuorumLost bool                  `json:"quorum_lost,omitempty"`
	Failing    []string              `json:"failing_witnesses,omitempty"`
	Witnesses  []ledger.WitnessState `json:"witnesses,omitempty"`
}
