//go:build !unix

package witness

// lockFile is a no-op where flock is not available: run one witness per
// state directory.
func lockFile(string) (func() error, error) { return func() error { return nil }, nil }
