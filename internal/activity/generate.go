package activity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/oklog/ulid/v2"
)

// Config says how much activity to make, over which period.
type Config struct {
	Seed       int64
	Entries    int       // about how many entries (whole case chains are made until this many exist)
	Start, End time.Time // occurred_at of every entry lies in [Start, End]
}

var jst = time.FixedZone("JST", 9*3600)

// DefaultConfig is the demo's: 300 entries from the commission's first day
// (2026-04-01) to mid-November 2026.
func DefaultConfig() Config {
	return Config{
		Seed:    1,
		Entries: 300,
		Start:   time.Date(2026, 4, 1, 0, 0, 0, 0, jst),
		End:     time.Date(2026, 11, 15, 0, 0, 0, 0, jst),
	}
}

// Entry is one generated entry: its agency and its (unsigned) payload, with
// the agency's seq already assigned.
type Entry struct {
	Agency  string
	Kind    string
	Payload []byte
}

// Public is the entry's payload without its sealed values: what a test on
// the verifier's side (which never seals: that is the agencies' tooling,
// specs/sealed.md) signs when it only needs the public part, as the rules
// and the report read nothing else.
func (e Entry) Public() []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Payload, &m); err != nil {
		panic(err) // Generate wrote it
	}
	delete(m, "sealed")
	out, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return out
}

// SecretMarker appears in every sealed value, so a test can search a
// published log for leaked operational secrets.
func SecretMarker() string { return "DEMO-SECRET-" }

// event is an entry before it has an id and seq. Body values that are
// *event are references, resolved to ids when payloads are written.
type event struct {
	at                 time.Time
	agency, kind, kase string
	basis              map[string]any
	body, sealed       map[string]any
	refs               []*event
	id                 string
	order              int
}

type generator struct {
	cfg     Config
	rng     *rand.Rand
	ids     *rand.Rand
	events  []*event
	cases   map[string]int
	secrets int
}

// Generate makes the activity, in log order (by occurred_at).
func Generate(cfg Config) ([]Entry, error) {
	if !cfg.End.After(cfg.Start) {
		return nil, fmt.Errorf("activity: end %s is not after start %s", cfg.End, cfg.Start)
	}
	g := &generator{cfg: cfg, rng: rand.New(rand.NewSource(cfg.Seed)), ids: rand.New(rand.NewSource(cfg.Seed ^ 0x5eed)), cases: map[string]int{}}
	// One chain of every type first, so even a small run shows every kind.
	for i, c := range chains {
		g.chain(c.run, g.start(float64(i)/float64(len(chains))*0.3))
	}
	for i, kind := range []string{"notice", "demand", "recommendation"} {
		g.chain(func(g *generator, t time.Time) { g.oversight(t, kind, 1) }, g.start(0.3+0.1*float64(i)))
	}
	// A period too short for any chain ends the loop.
	for misses := 0; len(g.events) < cfg.Entries && misses < 1000; {
		if g.chain(g.pick().run, g.start(g.rng.Float64())) {
			misses = 0
		} else {
			misses++
		}
	}
	return g.entries()
}

// chainType is one kind of case with its weight among random cases.
type chainType struct {
	weight int
	run    func(g *generator, t time.Time)
}

var chains = []chainType{
	{30, (*generator).agreementCase},
	{25, func(g *generator, t time.Time) { g.sendingCase(t, "transit_sending", "GAIGAI", "17") }},
	{8, func(g *generator, t time.Time) { g.sendingCase(t, "incoming_sending", "GAINAI", "32") }},
	{5, func(g *generator, t time.Time) { g.sendingCase(t, "outgoing_sending", "NAIGAI", "33") }},
	{8, (*generator).policeCase},
	{5, (*generator).emergencyCase},
	{3, (*generator).policeAbroadCase},
	{3, (*generator).sdfCase},
	{8, (*generator).oversightCase},
}

func (g *generator) pick() chainType {
	total := 0
	for _, c := range chains {
		total += c.weight
	}
	n := g.rng.Intn(total)
	for _, c := range chains {
		if n -= c.weight; n < 0 {
			return c
		}
	}
	return chains[0]
}

// chain adds a whole case chain starting at t, or nothing if any of its
// events would fall past End: a chain cut short would leave obligations
// open (an acquisition never stopped, a dataset never deleted, a demand
// never answered) that the compliance rules rightly report once their
// deadlines pass, and the demo log must stay compliant whenever it is
// audited.
func (g *generator) chain(run func(*generator, time.Time), t time.Time) bool {
	n := len(g.events)
	run(g, t)
	for _, e := range g.events[n:] {
		if e.at.After(g.cfg.End) {
			g.events = g.events[:n]
			return false
		}
	}
	return true
}

// start returns a time at fraction f of the period's first 85%, leaving
// room for a chain to unfold (events past End are dropped).
func (g *generator) start(f float64) time.Time {
	span := g.cfg.End.Sub(g.cfg.Start)
	return g.cfg.Start.Add(time.Duration(f * 0.85 * float64(span))).Add(time.Duration(g.rng.Int63n(int64(time.Hour))))
}

// after returns a time between lo and hi after t.
func (g *generator) after(t time.Time, lo, hi time.Duration) time.Time {
	if hi <= lo {
		return t.Add(lo)
	}
	return t.Add(lo + time.Duration(g.rng.Int63n(int64(hi-lo)+1)))
}

func (g *generator) newCase(prefix string) string {
	g.cases[prefix]++
	return fmt.Sprintf("%s-%d-%04d", prefix, g.cfg.Start.Year(), g.cases[prefix])
}

// add records an event; every entry its body names is listed in its refs,
// as admission requires.
func (g *generator) add(e *event) *event {
	for _, v := range e.body {
		if r, ok := v.(*event); ok && !slices.Contains(e.refs, r) {
			e.refs = append(e.refs, r)
		}
	}
	e.order = len(g.events)
	g.events = append(g.events, e)
	return e
}

func basis(law, article, paragraph string) map[string]any {
	b := map[string]any{"law": law, "article": article}
	if paragraph != "" {
		b["paragraph"] = paragraph
	}
	return b
}

func ts(t time.Time) string { return t.In(jst).Format(time.RFC3339) }

func (g *generator) hash() string {
	sum := sha256.Sum256([]byte(fmt.Sprint(g.rng.Int63())))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// secret returns a fictitious operational secret carrying the marker.
func (g *generator) secret(what string) string {
	g.secrets++
	return fmt.Sprintf("%s%s-%05d", SecretMarker(), what, g.secrets)
}

func (g *generator) docIP() string {
	nets := []string{"192.0.2.", "198.51.100.", "203.0.113."}
	return fmt.Sprintf("%s%d", nets[g.rng.Intn(len(nets))], 1+g.rng.Intn(254))
}

// entries drops what falls past End (nothing, since chain keeps only whole
// chains), orders by time (chains are built in
// time order, so a reference always precedes its referrer), and assigns
// ids and per-agency seqs.
func (g *generator) entries() ([]Entry, error) {
	var evs []*event
	for _, e := range g.events {
		if !e.at.After(g.cfg.End) {
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].at.Equal(evs[j].at) {
			return evs[i].at.Before(evs[j].at)
		}
		return evs[i].order < evs[j].order
	})
	pos := map[*event]int{}
	for i, e := range evs {
		pos[e] = i + 1
		e.id = ulid.MustNew(ulid.Timestamp(e.at), g.ids).String()
	}
	seq := map[string]uint64{}
	out := make([]Entry, 0, len(evs))
	for _, e := range evs {
		refs := []string{}
		for _, r := range e.refs {
			if pos[r] == 0 || pos[r] >= pos[e] {
				return nil, fmt.Errorf("activity: %s refers to an entry that does not precede it", e.kind)
			}
			refs = append(refs, r.id)
		}
		body := map[string]any{}
		for k, v := range e.body {
			if r, ok := v.(*event); ok {
				v = r.id
			}
			body[k] = v
		}
		seq[e.agency]++
		m := map[string]any{
			"id": e.id, "kind": e.kind, "schema": specs.EntrySchemaVersion, "agency": e.agency, "seq": seq[e.agency],
			"occurred_at": ts(e.at), "case": e.kase, "legal_basis": e.basis, "refs": refs, "body": body,
		}
		if len(e.sealed) > 0 {
			m["sealed"] = e.sealed
		}
		payload, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Agency: e.agency, Kind: e.kind, Payload: payload})
	}
	return out, nil
}
