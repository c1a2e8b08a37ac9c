package rules

// R8 direction.channel: directions match the channel: agreements incoming only, transit transit only, 32 incoming, 33 outgoing.
var ruleR8 = Rule{
	RuleInfo: RuleInfo{ID: DirectionChannel, Name: "direction.channel", Version: 1,
		Title: "directions match the channel: agreements incoming only, transit transit only, 32 incoming, 33 outgoing"},
	Charged: "`agreement.concluded`/`amended`, `approval.requested`, `acquisition.started`, `selection.batch`",
	When:    "an agreement's `direction` is not `GAINAI`; a request's `direction` (if given) is not its measure's (`transit_sending` GAIGAI, `incoming_sending` GAINAI, `outgoing_sending` NAIGAI; an `extension`, the extended one's); an acquisition's `direction` is not its `channel`'s (`agreement` GAINAI, others as the measures); a batch's `counts` row with `n` > 0 has another direction than its acquisition.",
	Reads:   "`direction`, `measure`, `extends`, `channel`, `counts[].direction/n`, `acquisition`",
}

// channelDirection is the one direction each channel may carry (acd-act
// 22(1)): agreement data incoming, transit sending transit, 32 incoming,
// 33 outgoing.
var channelDirection = map[string]string{
	"agreement":        "GAINAI",
	"transit_sending":  "GAIGAI",
	"incoming_sending": "GAINAI",
	"outgoing_sending": "NAIGAI",
}

func (c *checker) agreementDirection(b *body) {
	if b.Direction != "GAINAI" {
		c.report(DirectionChannel, "a consent agreement covers incoming (GAINAI) traffic only, not %s", b.Direction)
	}
}

func (c *checker) requestDirection(b *body) {
	measure := b.Measure
	if measure == "extension" {
		if d := c.e.st.Decisions[b.Extends]; d != nil {
			measure = d.Measure
		}
	}
	if want, ok := channelDirection[measure]; ok && b.Direction != "" && b.Direction != want {
		c.report(DirectionChannel, "a %s request must be for %s traffic, not %s", measure, want, b.Direction)
	}
}

func (c *checker) acquisitionDirection(b *body) {
	if want, ok := channelDirection[b.Channel]; ok && b.Direction != want {
		c.report(DirectionChannel, "channel %s carries %s traffic only, not %s", b.Channel, want, b.Direction)
	}
}

func (c *checker) batchDirections(b *body) {
	if a := c.e.st.Acquisitions[b.Acquisition]; a != nil {
		for i, r := range b.Counts {
			if r.N > 0 && r.Direction != a.Direction {
				c.report(DirectionChannel, "counts[%d] selects %d %s records from an acquisition of %s traffic", i, r.N, r.Direction, a.Direction)
			}
		}
	}
}
