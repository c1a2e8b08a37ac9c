//go:build race

package main_test

// Under the race detector the crash test appends fewer entries; make test
// also runs it at full size without the detector.
const raceEnabled = true
