//go:build race

package specs

// The race detector instruments memory and allocates on its own, so
// allocation counts are asserted only without it (make test runs both).
const raceEnabled = true
