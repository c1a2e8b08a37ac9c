//go:build race

package server_test

// Under the race detector everything runs several times slower; load tests
// shrink to what still exercises the concurrency (make test also runs them
// at full size without it).
const raceEnabled = true
