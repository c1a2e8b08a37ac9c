package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// witnessMonitor watches the log's requests to its witnesses. Tessera's
// witness gateway joins every witness's error into one "policy not
// satisfied" and names none of them, so the monitor sits in the HTTP
// client Tessera is given (posix.Config.HTTPClient) and records each
// witness's last answer: /healthz and the metrics name the witnesses that
// fail, and the quorum still reachable without them.
type witnessMonitor struct {
	policy *tlog.Policy
	log    *slog.Logger
	base   http.RoundTripper

	mu     sync.Mutex
	status map[string]*witnessStatus // by witness name
}

type witnessStatus struct {
	url      string
	failing  string    // the last failure; "" when the last answer was good (or none was asked yet)
	failures uint64    // failed requests so far
	logged   time.Time // when the current failure was last logged
}

// WitnessState is one witness as the log last saw it.
type WitnessState struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Failing  string `json:"failing,omitempty"` // why its last request failed; "" if it answered
	Failures uint64 `json:"failures"`
}

// A failing witness is logged when it starts failing, when its error
// changes, and then at most this often (Tessera retries every checkpoint
// interval, which would otherwise write ten lines a second).
const witnessRelog = time.Minute

func newWitnessMonitor(p *tlog.Policy, log *slog.Logger) *witnessMonitor {
	m := &witnessMonitor{policy: p, log: log, base: http.DefaultTransport, status: map[string]*witnessStatus{}}
	for _, w := range p.Witnesses {
		m.status[w.Name] = &witnessStatus{url: strings.TrimSuffix(w.URL, "/")}
	}
	return m
}

func (m *witnessMonitor) client() *http.Client { return &http.Client{Transport: m} }

// witnessOf names the witness a request goes to (tlog-witness: the
// witness's URL followed by /add-checkpoint), or "".
func (m *witnessMonitor) witnessOf(u string) string {
	for _, w := range m.policy.Witnesses {
		if base := strings.TrimSuffix(w.URL, "/"); base != "" && (u == base || strings.HasPrefix(u, base+"/")) {
			return w.Name
		}
	}
	return ""
}

func (m *witnessMonitor) RoundTrip(req *http.Request) (*http.Response, error) {
	name := m.witnessOf(req.URL.String())
	resp, err := m.base.RoundTrip(req)
	if name == "" {
		return resp, err
	}
	switch {
	case err != nil && errors.Is(req.Context().Err(), context.Canceled):
		// Tessera cancels the other requests once the quorum is met:
		// not the witness's failure.
	case err != nil && errors.Is(req.Context().Err(), context.DeadlineExceeded):
		m.record(name, "no answer within the witness timeout")
	case err != nil:
		m.record(name, err.Error())
	case resp.StatusCode == http.StatusOK:
		m.record(name, "")
	case resp.StatusCode == http.StatusConflict:
		// tlog-witness: the witness knows another size; Tessera retries
		// with it at once. The witness is up.
	default:
		m.record(name, fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	}
	return resp, err
}

func (m *witnessMonitor) record(name, failure string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.status[name]
	was := st.failing
	st.failing = failure
	switch {
	case failure == "" && was != "":
		m.log.Info("witness answers again", "witness", name, "url", st.url)
	case failure != "":
		st.failures++
		if failure != was || time.Since(st.logged) >= witnessRelog {
			st.logged = time.Now()
			m.log.Warn("witness failed", "witness", name, "url", st.url, "err", failure, "failures", st.failures)
		}
	}
}

// states lists every witness of the policy, in the policy's order.
func (m *witnessMonitor) states() []WitnessState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]WitnessState, 0, len(m.policy.Witnesses))
	for _, w := range m.policy.Witnesses {
		st := m.status[w.Name]
		out = append(out, WitnessState{Name: w.Name, URL: st.url, Failing: st.failing, Failures: st.failures})
	}
	return out
}

// quorumLost says whether the witnesses not failing can still meet the
// quorum, and names the failing ones.
func (m *witnessMonitor) quorumLost() (lost bool, failing []string) {
	var up []string
	for _, s := range m.states() {
		if s.Failing != "" {
			failing = append(failing, s.Name)
		} else {
			up = append(up, s.Name)
		}
	}
	return !m.policy.SatisfiedBy(up), slices.Clip(failing)
}
