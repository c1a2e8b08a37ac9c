package report

import (
	"fmt"
	"time"
)

// Period bases.
const (
	BasisFiscal   = "fiscal"   // Japan's fiscal year: April 1 to March 31
	BasisCalendar = "calendar" // January 1 to December 31
)

// JST is the zone every period boundary and month is reckoned in. It is a
// fixed +09:00 (Japan has no daylight saving time), so the result does not
// depend on the machine's time zone database.
var JST = time.FixedZone("JST", 9*3600)

// NewPeriod returns the fiscal (April–March) or calendar year starting in
// year, in JST.
func NewPeriod(basis string, year int) (Period, error) {
	if year < 1 || year > 9998 {
		return Period{}, fmt.Errorf("year %d out of range", year)
	}
	var from time.Time
	switch basis {
	case BasisFiscal:
		from = time.Date(year, time.April, 1, 0, 0, 0, 0, JST)
	case BasisCalendar:
		from = time.Date(year, time.January, 1, 0, 0, 0, 0, JST)
	default:
		return Period{}, fmt.Errorf("period basis %q, want %q or %q", basis, BasisFiscal, BasisCalendar)
	}
	return Period{Basis: basis, Year: year, From: from.Format(time.RFC3339), Until: from.AddDate(1, 0, 0).Format(time.RFC3339)}, nil
}

// bounds returns the period as times.
func (p Period) bounds() (from, until time.Time) {
	from, _ = time.Parse(time.RFC3339, p.From)
	until, _ = time.Parse(time.RFC3339, p.Until)
	return from, until
}

// months returns the period's twelve months as "YYYY-MM", in order.
func (p Period) months() []string {
	from, _ := p.bounds()
	out := make([]string, 12)
	for i := range out {
		out[i] = from.In(JST).AddDate(0, i, 0).Format("2006-01")
	}
	return out
}
