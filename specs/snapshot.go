package specs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// A Snapshot is a writer's saved state bound to one tree of its log
// (specs/snapshot.md): the origin, the tree size and root it was taken at,
// and named, versioned sections, each owned by the part of the ledger that
// replays it from the log (the admission state is section "log_state").
// It is a cache: whoever reads one checks it against the log and, if it is
// missing, unreadable or disagrees, rebuilds the state from the log.
type Snapshot struct {
	Origin   string
	Size     uint64
	Root     []byte // the RFC 6962 root of the first Size leaves
	Sections []SnapshotSection
}

// SnapshotSection is one part of a snapshot's state.
type SnapshotSection struct {
	Name    string
	Version uint64
	Data    []byte
	// Unhashed is how many bytes at the end of Data the file's checksum
	// leaves out (container version 2): the section's own version says
	// what checks them (log_state version 3: a SHA-256 per block, checked
	// on first use). 0 for every section of a version 1 file.
	Unhashed int
}

// SnapshotMagic is a snapshot file's first line when every byte is under
// the file's checksum; SnapshotMagic2 when some section leaves a tail of
// its data out of it (specs/snapshot.md, "Container version 2"). A
// snapshot has one form: version 2 only when some section has such a tail.
const (
	SnapshotMagic  = "acdledger-snapshot 1"
	SnapshotMagic2 = "acdledger-snapshot 2"
)

// Section returns the named section, or nil.
func (s *Snapshot) Section(name string) *SnapshotSection {
	for i := range s.Sections {
		if s.Sections[i].Name == name {
			return &s.Sections[i]
		}
	}
	return nil
}

// Marshal writes the snapshot in its one form. Sections must have valid,
// distinct names; they are written in ascending name order by the caller.
func (s *Snapshot) Marshal() ([]byte, error) {
	var b bytes.Buffer
	v2 := false
	for _, sec := range s.Sections {
		if sec.Unhashed < 0 || sec.Unhashed > len(sec.Data) {
			return nil, fmt.Errorf("snapshot: section %q: %d unhashed bytes of %d", sec.Name, sec.Unhashed, len(sec.Data))
		}
		v2 = v2 || sec.Unhashed > 0
	}
	magic := SnapshotMagic
	if v2 {
		magic = SnapshotMagic2
	}
	if !isToken(s.Origin) {
		return nil, fmt.Errorf("snapshot: origin %q is not one token of printable characters", s.Origin)
	}
	if len(s.Root) != sha256.Size {
		return nil, fmt.Errorf("snapshot: root is %d bytes, want %d", len(s.Root), sha256.Size)
	}
	// The checksum covers every byte but the sections' unhashed tails.
	h := sha256.New()
	hashed := 0 // b's bytes up to here are in h
	fmt.Fprintf(&b, "%s\norigin %s\nsize %d\nroot %s\n", magic, s.Origin, s.Size, base64.StdEncoding.EncodeToString(s.Root))
	for i, sec := range s.Sections {
		if !validSectionName(sec.Name) {
			return nil, fmt.Errorf("snapshot: section name %q", sec.Name)
		}
		if i > 0 && sec.Name <= s.Sections[i-1].Name {
			return nil, fmt.Errorf("snapshot: section %q out of order", sec.Name)
		}
		if sec.Version == 0 {
			return nil, fmt.Errorf("snapshot: section %q has version 0", sec.Name)
		}
		if v2 {
			fmt.Fprintf(&b, "section %s %d %d %d\n", sec.Name, sec.Version, len(sec.Data), len(sec.Data)-sec.Unhashed)
		} else {
			fmt.Fprintf(&b, "section %s %d %d\n", sec.Name, sec.Version, len(sec.Data))
		}
		b.Write(sec.Data[:len(sec.Data)-sec.Unhashed])
		h.Write(b.Bytes()[hashed:])
		b.Write(sec.Data[len(sec.Data)-sec.Unhashed:])
		hashed = b.Len()
	}
	h.Write(b.Bytes()[hashed:])
	fmt.Fprintf(&b, "sha256 %s\n", hex.EncodeToString(h.Sum(nil)))
	return b.Bytes(), nil
}

// SnapshotError says which field of a snapshot broke which rule.
type SnapshotError struct {
	Field, Reason string
}

func (e *SnapshotError) Error() string { return "snapshot: " + e.Field + ": " + e.Reason }

func snapErr(field, format string, args ...any) error {
	return &SnapshotError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseSnapshot reads a snapshot file, strictly: every line as
// specs/snapshot.md writes it, sections in ascending name order and each
// once, the checksum last and over every byte before it. It does not read
// the sections' data (their owners do) nor check the tree (the ledger
// does, against its log).
func ParseSnapshot(data []byte) (*Snapshot, error) {
	s, verify, err := ParseSnapshotUnverified(data)
	if err != nil {
		return nil, err
	}
	if err := verify(); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSnapshotUnverified is ParseSnapshot but for the checksum, which
// verify checks: the caller may read the sections while verify hashes the
// file on another core (most of opening a large ledger is that hash), and
// must use nothing it read unless verify succeeds. The sections' readers
// are strict on any bytes, so reading an unverified section is safe.
//
// In a version 2 file the sections' unhashed tails are not covered: the
// caller must check them as their section's version says before using
// them (log_state version 3 does, a block at a time).
func ParseSnapshotUnverified(data []byte) (*Snapshot, func() error, error) {
	r := &lineReader{data: data}
	magic, ok := r.line()
	if !ok || magic != SnapshotMagic && magic != SnapshotMagic2 {
		return nil, nil, snapErr("magic", "the first line must be %q or %q", SnapshotMagic, SnapshotMagic2)
	}
	v2 := magic == SnapshotMagic2
	var skip [][2]int // the unhashed tails, in file order
	s := &Snapshot{}
	var err error
	if s.Origin, err = r.keyword("origin"); err != nil {
		return nil, nil, err
	}
	if !isToken(s.Origin) {
		return nil, nil, snapErr("origin", "not one token of printable characters")
	}
	sizeStr, err := r.keyword("size")
	if err != nil {
		return nil, nil, err
	}
	if s.Size, err = parseDecimal(sizeStr); err != nil {
		return nil, nil, snapErr("size", "%v", err)
	}
	rootStr, err := r.keyword("root")
	if err != nil {
		return nil, nil, err
	}
	if s.Root, err = base64.StdEncoding.Strict().DecodeString(rootStr); err != nil || len(s.Root) != sha256.Size || base64.StdEncoding.EncodeToString(s.Root) != rootStr {
		return nil, nil, snapErr("root", "not the standard base64 of %d bytes", sha256.Size)
	}
	for {
		start := r.pos
		l, ok := r.line()
		if !ok {
			return nil, nil, snapErr("sha256", "missing: the file ends without its checksum line")
		}
		if sum, isSum := bytes.CutPrefix([]byte(l), []byte("sha256 ")); isSum {
			if r.pos != len(data) {
				return nil, nil, snapErr("sha256", "bytes follow the checksum line")
			}
			if v2 && len(skip) == 0 {
				return nil, nil, snapErr("magic", "version 2, but every section is wholly under the checksum: such a file is version 1 (one form)")
			}
			return s, func() error {
				h := sha256.New()
				at := 0
				for _, sk := range skip {
					h.Write(data[at:sk[0]])
					at = sk[1]
				}
				h.Write(data[at:start])
				if string(sum) != hex.EncodeToString(h.Sum(nil)) {
					return snapErr("sha256", "does not match the file's content (lower-case hex of SHA-256 over every byte before this line but the sections' unhashed tails)")
				}
				return nil
			}, nil
		}
		rest, isSec := bytes.CutPrefix([]byte(l), []byte("section "))
		if !isSec {
			return nil, nil, snapErr("section", "line %q is neither a section nor the checksum", truncate(l))
		}
		f := bytes.Split(rest, []byte(" "))
		switch {
		case !v2 && len(f) != 3:
			return nil, nil, snapErr("section", "want \"section NAME VERSION LENGTH\"")
		case v2 && len(f) != 4:
			return nil, nil, snapErr("section", "want \"section NAME VERSION LENGTH HASHED\" (container version 2)")
		}
		name := string(f[0])
		if !validSectionName(name) {
			return nil, nil, snapErr("section", "name %q: want [a-z][a-z0-9_]{0,39}", truncate(name))
		}
		if n := len(s.Sections); n > 0 && name <= s.Sections[n-1].Name {
			return nil, nil, snapErr("section "+name, "out of order or repeated (sections are in ascending name order, each once)")
		}
		ver, err := parseDecimal(string(f[1]))
		if err != nil || ver == 0 {
			return nil, nil, snapErr("section "+name, "version: a decimal from 1, without leading zeros")
		}
		n, err := parseDecimal(string(f[2]))
		if err != nil {
			return nil, nil, snapErr("section "+name, "length: %v", err)
		}
		if n > uint64(len(data)-r.pos) {
			return nil, nil, snapErr("section "+name, "length %d runs past the end of the file", n)
		}
		hashed := n
		if v2 {
			if hashed, err = parseDecimal(string(f[3])); err != nil {
				return nil, nil, snapErr("section "+name, "hashed: %v", err)
			}
			if hashed > n {
				return nil, nil, snapErr("section "+name, "hashed %d is more than its length %d", hashed, n)
			}
		}
		if hashed < n {
			skip = append(skip, [2]int{r.pos + int(hashed), r.pos + int(n)})
		}
		s.Sections = append(s.Sections, SnapshotSection{Name: name, Version: ver, Data: data[r.pos : r.pos+int(n)], Unhashed: int(n - hashed)})
		r.pos += int(n)
	}
}

// lineReader splits a snapshot into "\n"-terminated lines.
type lineReader struct {
	data []byte
	pos  int
}

// line returns the next line without its "\n"; ok is false at the end or
// when the rest has no "\n".
func (r *lineReader) line() (string, bool) {
	i := bytes.IndexByte(r.data[r.pos:], '\n')
	if i < 0 {
		return "", false
	}
	l := string(r.data[r.pos : r.pos+i])
	r.pos += i + 1
	return l, true
}

// keyword reads a line "KEYWORD VALUE" and returns VALUE.
func (r *lineReader) keyword(kw string) (string, error) {
	l, ok := r.line()
	if !ok {
		return "", snapErr(kw, "missing")
	}
	v, found := bytes.CutPrefix([]byte(l), []byte(kw+" "))
	if !found {
		return "", snapErr(kw, "want a line %q, got %q", kw+" …", truncate(l))
	}
	return string(v), nil
}

// parseDecimal reads an unsigned decimal with no sign, no leading zeros
// and nothing else: the one spelling of a number.
func parseDecimal(s string) (uint64, error) {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal without leading zeros", truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal without leading zeros", truncate(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", truncate(s))
	}
	return n, nil
}

// isToken: non-empty UTF-8 with no space, control character or DEL, so
// that fields separated by one space read one way. One table lookup a
// byte, and the UTF-8 check only for a token with a byte past ASCII: a
// start checks a million ids with it. Generic so that an id read in place
// is checked without a copy.
func isToken[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	var or byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if notToken[c] {
			return false
		}
		or |= c
	}
	return or < 0x80 || utf8.ValidString(string(s))
}

// notToken marks the bytes a token never holds: space, control
// characters and DEL.
var notToken = func() (t [256]bool) {
	for c := 0; c <= ' '; c++ {
		t[c] = true
	}
	t[0x7f] = true
	return t
}()

func validSectionName(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
