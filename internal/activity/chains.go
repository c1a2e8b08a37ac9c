package activity

import (
	"time"
)

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

// decide adds the commission's decision on a request: mostly approved for
// the requested period (starting no earlier than the decision), sometimes
// with conditions, rejected or withdrawn. It returns the approved start.
func (g *generator) decide(req *event, from, until time.Time) (*event, time.Time, time.Time, bool) {
	at := g.after(req.at, 6*hour, 4*day)
	d := []string{"approved", "approved", "approved", "approved", "approved", "approved", "approved", "conditional", "rejected", "withdrawn"}[g.rng.Intn(10)]
	body := map[string]any{"request": req, "decision": d, "decided_at": ts(at)}
	sealed := map[string]any{"detail": g.secret("DECISION-NOTE")}
	if d == "approved" || d == "conditional" {
		if from.Before(at) {
			// The period cannot start before the decision: shift it whole.
			shift := at.Add(hour).Sub(from)
			from, until = from.Add(shift), until.Add(shift)
		}
		body["approved_from"], body["approved_until"] = ts(from), ts(until)
	}
	if d == "conditional" {
		body["conditions_count"] = 1 + g.rng.Intn(3)
		sealed["conditions"] = g.secret("CONDITIONS")
	}
	dec := g.add(&event{at: at, agency: "commission", kind: "approval.decided", kase: req.kase, basis: req.basis, body: body, sealed: sealed})
	return dec, from, until, d == "approved" || d == "conditional"
}

// acquire runs an acquisition: started within its authority, selection
// batches (only the channel's direction, balanced, deleted at once),
// retention deletions, sometimes a provision, and a stop before until.
func (g *generator) acquire(auth *event, authField, channel, direction string, from, until time.Time, kase string, art string) {
	start := g.after(from, time.Minute, 6*hour)
	acq := g.add(&event{at: start, agency: "nco", kind: "acquisition.started", kase: kase, basis: basis("acd-act", art, "1"),
		body:   map[string]any{"channel": channel, authField: auth, "direction": direction, "started_at": ts(start)},
		sealed: map[string]any{"carrier": g.secret("Example Carrier K.K."), "facility": g.secret("FACILITY")}})
	t := start
	var last *event
	for n := 0; n < 2+g.rng.Intn(10); n++ {
		wStart := g.after(t, hour, 5*day)
		wEnd := wStart.Add(hour)
		if !wEnd.Before(until) {
			break
		}
		last = g.batch(acq, kase, direction, wStart, wEnd)
		t = wEnd
		// Every dataset kept is deleted well within the retention limit
		// (specs/rules.default.json: retention_max).
		del := g.after(t, day, 30*day)
		g.add(&event{at: del, agency: "nco", kind: "retention.deleted", kase: kase, basis: basis("acd-act", "22", ""),
			body: map[string]any{"dataset": last.body["dataset"], "batch": last, "created_at": ts(wEnd), "deleted_at": ts(del), "n": last.body["n_selected"]}})
	}
	if last != nil && g.rng.Intn(3) == 0 {
		g.provision(last, kase)
	}
	// Every acquisition stops, by the end of its authority at the latest.
	stop := g.after(t, hour, 3*day)
	if stop.After(until) {
		stop = until
	}
	g.add(&event{at: stop, agency: "nco", kind: "acquisition.stopped", kase: kase, basis: acq.basis,
		body: map[string]any{"acquisition": acq, "stopped_at": ts(stop), "reason": []string{"period_ended", "purpose_achieved"}[g.rng.Intn(2)]}})
}

// batch is one automatic selection window: counts by category in the
// channel's direction, an ESSENTIAL_CONTENT row that is always zero, and
// immediate deletion of everything not selected.
func (g *generator) batch(acq *event, kase, direction string, wStart, wEnd time.Time) *event {
	nIn := 10_000 + g.rng.Intn(490_000)
	header := nIn / (100 + g.rng.Intn(900))
	command := header / (5 + g.rng.Intn(20))
	other := header / (3 + g.rng.Intn(10))
	sel := header + command + other
	return g.add(&event{at: wEnd.Add(time.Duration(1+g.rng.Intn(50)) * time.Second), agency: "nco", kind: "selection.batch", kase: kase,
		basis: basis("acd-act", "22", "1"),
		body: map[string]any{
			"acquisition": acq, "dataset": g.newCase("NCO-DS"),
			"window_start": ts(wStart), "window_end": ts(wEnd),
			"n_in": nIn, "n_selected": sel, "n_deleted": nIn - sel,
			"counts": []any{
				map[string]any{"direction": direction, "category": "HEADER_META", "n": header},
				map[string]any{"direction": direction, "category": "COMMAND_PAYLOAD", "n": command},
				map[string]any{"direction": direction, "category": "OTHER_MACHINE", "n": other},
				map[string]any{"direction": direction, "category": "ESSENTIAL_CONTENT", "n": 0},
			},
			"rule_hash": g.hash(), "nonidentified": true, "deleted_at": ts(wEnd.Add(time.Duration(1+g.rng.Intn(30)) * time.Second)),
		}})
}

// provision passes analysis results on; to a foreign government only
// de-identified.
func (g *generator) provision(src *event, kase string) {
	at := g.after(src.at, day, 10*day)
	class := []string{"agency", "agency", "council", "operator", "foreign_government"}[g.rng.Intn(5)]
	g.add(&event{at: at, agency: "nco", kind: "provision", kase: kase, basis: basis("acd-act", "37", ""),
		body: map[string]any{"recipient_class": class, "data_class": "analysis", "categories": []any{"HEADER_META", "COMMAND_PAYLOAD"},
			"deidentified": true, "source": src, "purpose": "incident_response", "provided_at": ts(at), "n_records": 10 + g.rng.Intn(500)},
		sealed: map[string]any{"recipient": g.secret("RECIPIENT"), "purpose_text": g.secret("PURPOSE")}})
}

// agreementCase: a consent agreement with an infrastructure operator
// (incoming traffic only), its acquisition, maybe an amendment, and its end.
func (g *generator) agreementCase(t time.Time) {
	kase := g.newCase("NCO")
	until := t.Add(time.Duration(60+g.rng.Intn(120)) * day)
	sector := []string{"energy", "telecom", "finance", "transport", "water", "medical", "government", "logistics"}[g.rng.Intn(8)]
	terms := func() map[string]any {
		return map[string]any{"agreement_id": kase + "-AG", "sector": sector, "direction": "GAINAI", "valid_from": ts(t), "valid_until": ts(until),
			"other_use_consent": g.rng.Intn(4) == 0, "scope_hash": g.hash()}
	}
	ag := g.add(&event{at: t, agency: "nco", kind: "agreement.concluded", kase: kase, basis: basis("acd-act", "13", ""), body: terms(),
		sealed: map[string]any{"party": g.secret("Example Infrastructure Operator"), "scope": g.secret("SCOPE")}})
	g.acquire(ag, "agreement", "agreement", "GAINAI", g.after(t, hour, 2*day), until, kase, "13")
	last := ag
	if g.rng.Intn(4) == 0 {
		b := terms()
		b["agreement"] = ag
		last = g.add(&event{at: g.after(t, 10*day, 30*day), agency: "nco", kind: "agreement.amended", kase: kase, basis: ag.basis, body: b,
			sealed: map[string]any{"scope": g.secret("SCOPE")}})
	}
	end := until.Add(time.Duration(g.rng.Intn(48)) * hour)
	g.add(&event{at: end, agency: "nco", kind: "agreement.terminated", kase: kase, basis: ag.basis,
		body: map[string]any{"agreement": ag, "agreement_id": kase + "-AG", "terminated_at": ts(end)}, refs: []*event{last}})
}

// sendingCase: a carrier sending measure (transit 17, incoming 32,
// outgoing 33) requested, decided by the commission, carried out within the
// approved period, sometimes extended (19).
func (g *generator) sendingCase(t time.Time, measure, direction, art string) {
	kase := g.newCase("NCO")
	from := g.after(t, day, 3*day)
	until := from.Add(time.Duration(30+g.rng.Intn(60)) * day)
	req := g.add(&event{at: t, agency: "nco", kind: "approval.requested", kase: kase, basis: basis("acd-act", art, "1"),
		body: map[string]any{"measure": measure, "direction": direction, "requested_from": ts(from), "requested_until": ts(until),
			"grounds":        map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true},
			"selector_count": 5 + g.rng.Intn(200), "selector_set_hash": g.hash(), "selection_rule_hash": g.hash()},
		sealed: map[string]any{"carrier": g.secret("Example Carrier K.K."), "facility": g.secret("FACILITY"),
			"selectors": []any{g.docIP(), g.docIP(), g.secret("SELECTOR")}, "grounds_text": g.secret("GROUNDS")}})
	dec, from, until, ok := g.decide(req, from, until)
	if !ok {
		return
	}
	if g.rng.Intn(5) == 0 {
		ext := until.Add(time.Duration(20+g.rng.Intn(40)) * day)
		ereq := g.add(&event{at: until.Add(-10 * day), agency: "nco", kind: "approval.requested", kase: kase, basis: basis("acd-act", "19", "1"),
			body: map[string]any{"measure": "extension", "direction": direction, "extends": dec, "requested_from": ts(until), "requested_until": ts(ext),
				"grounds": map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}},
			sealed: map[string]any{"grounds_text": g.secret("GROUNDS")}})
		if edec, efrom, eto, ok := g.decide(ereq, until, ext); ok {
			// The acquisition runs on under the extension, to its end.
			g.acquire(edec, "approval", measure, direction, efrom, eto, kase, art)
		}
	}
	g.acquire(dec, "approval", measure, direction, from, until, kase, art)
}

func (g *generator) measure(t time.Time, agency, kase, executor, measure, location string, auth *event, law, art string) *event {
	end := g.after(t, 30*time.Minute, 12*hour)
	body := map[string]any{"executor": executor, "measure": measure, "target_location": location,
		"mode": []string{"order_to_admin", "direct"}[g.rng.Intn(2)], "started_at": ts(t), "ended_at": ts(end),
		"outcome": []string{"neutralized", "neutralized", "partially_neutralized", "no_effect", "aborted"}[g.rng.Intn(5)]}
	if auth != nil {
		body["approval"] = auth
	} else {
		body["emergency"] = true
	}
	return g.add(&event{at: t, agency: agency, kind: "measure.executed", kase: kase, basis: basis(law, art, ""), body: body,
		sealed: map[string]any{"target_address": g.docIP() + " " + g.secret("TARGET"), "target_name": g.secret("C2-SERVER"),
			"executor_name": g.secret("OFFICER")}})
}

func (g *generator) measureRequest(t time.Time, agency, kase, measure, location, law, art string, refs ...*event) (*event, time.Time, time.Time) {
	from := g.after(t, hour, day)
	until := from.Add(time.Duration(3+g.rng.Intn(14)) * day)
	req := g.add(&event{at: t, agency: agency, kind: "approval.requested", kase: kase, basis: basis(law, art, ""),
		body: map[string]any{"measure": measure, "target_location": location, "requested_from": ts(from), "requested_until": ts(until),
			"grounds": map[string]any{"suspicion": true, "facts_unclear": g.rng.Intn(2) == 0, "no_other_means": true}},
		sealed: map[string]any{"target": g.docIP() + " " + g.secret("TARGET"), "grounds_text": g.secret("GROUNDS")}, refs: refs})
	return req, from, until
}

// policeCase: a police access/neutralization measure approved in advance.
func (g *generator) policeCase(t time.Time) {
	agency := []string{"npa", "mpd"}[g.rng.Intn(2)]
	kase := g.newCase(map[string]string{"npa": "NPA", "mpd": "MPD"}[agency])
	req, from, until := g.measureRequest(t, agency, kase, "police_measure", "domestic", "police-duties-act", "6-2")
	if dec, from, until, ok := g.decide(req, from, until); ok {
		g.measure(g.after(from, time.Minute, until.Sub(from)/2), agency, kase, "police", "police_measure", "domestic", dec, "police-duties-act", "6-2")
	}
}

// emergencyCase: no time to wait for approval; the measure is taken and the
// commission is notified within hours.
func (g *generator) emergencyCase(t time.Time) {
	agency := []string{"npa", "mpd", "sdf"}[g.rng.Intn(3)]
	kase := g.newCase(map[string]string{"npa": "NPA", "mpd": "MPD", "sdf": "SDF"}[agency])
	executor, measure, law, art := "police", "police_measure", "police-duties-act", "6-2"
	var refs []*event
	if agency == "sdf" {
		order := g.pmOrder(t, kase)
		refs = []*event{order}
		executor, measure, law, art, t = "sdf", "sdf_protection", "sdf-act", "81-3", g.after(order.at, hour, day)
	}
	m := g.measure(t, agency, kase, executor, measure, "domestic", nil, law, art)
	m.refs = append(m.refs, refs...)
	at := g.after(m.at, 30*time.Minute, 6*hour)
	g.add(&event{at: at, agency: agency, kind: "emergency.notice", kase: kase, basis: basis(law, art, ""),
		body:   map[string]any{"measure": m, "reason": "imminent_serious_harm", "acted_at": m.body["started_at"], "notified_at": ts(at)},
		sealed: map[string]any{"detail": g.secret("EMERGENCY-REASON")}})
}

// policeAbroadCase: a measure against a server abroad: NPA only, after
// consulting the Minister for Foreign Affairs.
func (g *generator) policeAbroadCase(t time.Time) {
	kase := g.newCase("NPA")
	mofa := g.add(&event{at: t, agency: "npa", kind: "mofa.consulted", kase: kase, basis: basis("police-duties-act", "6-2", ""),
		body: map[string]any{"consulted_at": ts(t)}, sealed: map[string]any{"detail": g.secret("MOFA-CONSULTATION")}})
	req, from, until := g.measureRequest(g.after(t, hour, 2*day), "npa", kase, "police_measure_abroad", "foreign", "police-duties-act", "6-2", mofa)
	if dec, from, until, ok := g.decide(req, from, until); ok {
		g.measure(g.after(from, time.Minute, until.Sub(from)/2), "npa", kase, "police", "police_measure_abroad", "foreign", dec, "police-duties-act", "6-2")
	}
}

func (g *generator) pmOrder(t time.Time, kase string) *event {
	return g.add(&event{at: t, agency: "sdf", kind: "pm.ordered", kase: kase, basis: basis("sdf-act", "81-3", ""),
		body: map[string]any{"order_id": kase + "-PM", "ordered_at": ts(t)}, sealed: map[string]any{"detail": g.secret("PM-ORDER")}})
}

// sdfCase: the Prime Minister orders SDF protection of critical systems;
// the measure is approved and carried out.
func (g *generator) sdfCase(t time.Time) {
	kase := g.newCase("SDF")
	order := g.pmOrder(t, kase)
	req, from, until := g.measureRequest(g.after(t, hour, day), "sdf", kase, "sdf_protection", "domestic", "sdf-act", "81-3", order)
	if dec, from, until, ok := g.decide(req, from, until); ok {
		g.measure(g.after(from, time.Minute, until.Sub(from)/2), "sdf", kase, "sdf", "sdf_protection", "domestic", dec, "sdf-act", "81-3")
	}
}

// oversightCase: an inspection of an agency and, by what it found, a
// notice, demand or recommendation, each answered before it is due.
func (g *generator) oversightCase(t time.Time) {
	g.oversight(t, []string{"notice", "demand", "recommendation"}[g.rng.Intn(3)], g.rng.Intn(4))
}

func (g *generator) oversight(t time.Time, kind string, findings int) {
	kase := g.newCase("COM")
	target := []string{"nco", "nco", "npa", "mpd", "sdf"}[g.rng.Intn(5)]
	para := []string{"1", "2"}[g.rng.Intn(2)]
	insp := g.add(&event{at: t, agency: "commission", kind: "inspection", kase: kase, basis: basis("acd-act", "63", para),
		body: map[string]any{"paragraph": para, "target_agency": target, "period_from": ts(t.Add(-60 * day)), "period_until": ts(t.Add(-day)),
			"findings": findings, "summary_hash": g.hash()},
		sealed: map[string]any{"detail": g.secret("INSPECTION-FINDINGS")}})
	if findings == 0 {
		return
	}
	lb := map[string]map[string]any{
		"notice":         basis("acd-act", "66", "1"),
		"demand":         basis("acd-act", "67", "1"),
		"recommendation": basis("acd-act", "68", ""),
	}[kind]
	at := g.after(t, day, 10*day)
	body := map[string]any{"target_agency": target, "subject": "handling_records", "issued_at": ts(at)}
	due := at.Add(30 * day)
	if kind != "notice" {
		body["due"] = ts(due)
	}
	act := g.add(&event{at: at, agency: "commission", kind: kind, kase: kase, basis: lb, body: body, refs: []*event{insp},
		sealed: map[string]any{"detail": g.secret("OVERSIGHT-TEXT")}})
	resp := g.after(at, day, 25*day)
	g.add(&event{at: resp, agency: target, kind: "response", kase: kase, basis: act.basis,
		body:   map[string]any{"to": act, "responded_at": ts(resp), "status": []string{"accepted", "implemented", "partially_implemented"}[g.rng.Intn(3)]},
		sealed: map[string]any{"detail": g.secret("RESPONSE-TEXT")}})
}
