package ledger

// RestoredFrom is the tree size of the snapshot the admission state was
// restored from on open (0: none, the log was replayed from its start).
func RestoredFrom(l *Ledger) uint64 { return l.snapSize }
