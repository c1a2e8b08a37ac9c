// Package server is acdledger's HTTP front: agencies POST signed envelopes
// to /add, and anyone reads the log through the C2SP tlog-tiles static API
// (/checkpoint, /tile/…). The API is specified in specs/http-api.md.
package server

import (
	"log/slog"
	"net/http"
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

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.l.Healthy(); err != nil {
		http.Error(w, "not admitting: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}
