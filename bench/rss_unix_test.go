//go:build unix

package bench

import (
	"syscall"
	"time"
)

// maxRSS is getrusage(RUSAGE_SELF).ru_maxrss in KiB (Linux units): the
// process's peak resident set since it started, so it only ever grows
// from one measurement to the next.
func maxRSS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return int64(ru.Maxrss)
}

// cpuTime is the user + system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
