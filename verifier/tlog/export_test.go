package tlog

// SetKeepLimit lowers Extend's memory bound for a test, so that it takes
// its two-reading path; it returns the undo.
func SetKeepLimit(n int) func() {
	old := keepLimit
	keepLimit = n
	return func() { keepLimit = old }
}
