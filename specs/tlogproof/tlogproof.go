// Package tlogproof reads and writes C2SP tlog-proof files
// (https://c2sp.org/tlog-proof, "c2sp.org/tlog-proof@v1"): a checkpoint, the
// index of an entry and its inclusion proof, and optional extra data.
//
// acdledger puts the entry's DSSE envelope, the exact leaf bytes, in the
// extra line, so one .tlog-proof file is a complete receipt (specs/receipts.md).
// The extra data is not trusted by itself: a verifier hashes it as the leaf
// and checks the inclusion proof against the signed checkpoint.
package tlogproof

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Header is the first line of every proof.
const Header = "c2sp.org/tlog-proof@v1"

// MaxHashes bounds the inclusion path: a tree of 2^63 leaves needs 63.
const MaxHashes = 63

// MaxLine is the longest line, its "\n" included, that every reader of the
// format must take. The spec sets no limit, but the reader other tools use,
// transparency-dev/formats' proof.TLogProof (v0.1.1), reads lines with a
// bufio.Scanner of the default buffer, bufio.MaxScanTokenSize = 64 KiB, and
// fails on any longer line (for the extra line it reports a missing index).
// A receipt is only useful if every verifier can read it, so no proof we
// write or accept has a longer line.
const MaxLine = 64 << 10

// extraPrefix starts the optional extra line.
const extraPrefix = "extra "

// MaxExtra is the most extra data, in bytes, whose line fits in MaxLine:
// the line is "extra " (6 bytes), 4·⌈n/3⌉ bytes of padded standard base64
// and "\n" (1 byte), so 6 + 4·⌈n/3⌉ + 1 ≤ 65536 ⇔ ⌈n/3⌉ ≤ ⌊65529/4⌋ = 16382
// ⇔ n ≤ 3·16382 = 49146. Its line is then 6 + 65528 + 1 = 65535 bytes; one
// byte more of data makes it 65539.
// (An untyped constant, like MaxLine: 6 and 1 are len("extra ") and
// len("\n"), which TestMaxExtraIsTheFormatsReadersLimit checks.)
const MaxExtra = (MaxLine - 6 - 1) / 4 * 3

// Proof is one parsed tlog-proof.
type Proof struct {
	Extra      []byte   // nil when the proof has no extra line
	Index      uint64   // zero-based leaf index
	Hashes     [][]byte // inclusion path, leaf's sibling first, 32 bytes each
	Checkpoint []byte   // the signed checkpoint note, verbatim
}

// Marshal renders the proof in the spec's text form. With more than
// MaxExtra bytes of extra data the result is not a proof any reader takes
// (Parse refuses it); acdledger's admission keeps envelopes within it.
func (p *Proof) Marshal() []byte {
	// Sized once: a receipt is built for every append, and growing the
	// buffer line by line copied the base64 envelope several times.
	enc := base64.StdEncoding
	n := len(Header) + 1 + len("index ") + 21 + 1 + len(p.Checkpoint)
	if p.Extra != nil {
		n += len(extraPrefix) + enc.EncodedLen(len(p.Extra)) + 1
	}
	for _, h := range p.Hashes {
		n += enc.EncodedLen(len(h)) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, Header+"\n"...)
	if p.Extra != nil {
		b = append(b, extraPrefix...)
		b = enc.AppendEncode(b, p.Extra)
		b = append(b, '\n')
	}
	b = append(b, "index "...)
	b = strconv.AppendUint(b, p.Index, 10)
	b = append(b, '\n')
	for _, h := range p.Hashes {
		b = enc.AppendEncode(b, h)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, p.Checkpoint...)
}

// Parse reads a proof. It checks the structure only; the checkpoint's
// signatures and the inclusion path are the verifier's business.
//
// It takes no proof that transparency-dev/formats would read otherwise or
// not at all (FuzzParse checks this): no line over MaxLine, no carriage
// return (that reader drops one before each newline, so the checkpoint it
// passes on would not be the bytes given), and a checkpoint ending in a
// newline (it adds one), as every signed note does, and no empty line
// after it (a receipt is one note and ends where the note ends;
// specs/receipts.md).
func Parse(data []byte) (*Proof, error) {
	if i := bytes.IndexByte(data, '\r'); i >= 0 {
		return nil, fmt.Errorf("tlog-proof: carriage return at byte %d; lines end with a newline alone", i)
	}
	for i, rest := 1, data; len(rest) > 0; i++ {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		if n := len(line) + 1; n > MaxLine {
			if i == 2 && bytes.HasPrefix(line, []byte(extraPrefix)) {
				return nil, fmt.Errorf("tlog-proof: extra line is %d bytes with its newline; readers of the format take at most %d (%d bytes of data)", n, MaxLine, MaxExtra)
			}
			return nil, fmt.Errorf("tlog-proof: line %d is %d bytes with its newline; readers of the format take at most %d", i, n, MaxLine)
		}
		rest = after
	}
	head, cp, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("tlog-proof: no empty line before the checkpoint")
	}
	if len(cp) == 0 {
		return nil, errors.New("tlog-proof: no checkpoint after the empty line")
	}
	if cp[len(cp)-1] != '\n' {
		return nil, errors.New("tlog-proof: the checkpoint does not end with a newline")
	}
	// A signed note ends with its last signature line's newline; an empty
	// line after it is no part of the note (formats would pass it on, and
	// the note reader then refuses the whole checkpoint as malformed). It is
	// almost always a newline added when the receipt was saved (jq -r,
	// echo), so name that rather than guess which bytes were meant.
	if n := len(cp) - len(bytes.TrimRight(cp, "\n")); n > 1 {
		return nil, fmt.Errorf("tlog-proof: %d newline(s) after the checkpoint's last signature line, which ends the receipt: the file was changed after it was written (saved with jq -r or echo?); remove the trailing empty line(s), e.g. save it with jq -j", n-1)
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != Header {
		return nil, fmt.Errorf("tlog-proof: first line is %q, want %q", truncate(lines[0]), Header)
	}
	lines = lines[1:]
	p := &Proof{Checkpoint: bytes.Clone(cp)} // never alias the caller's buffer
	if len(lines) > 0 && strings.HasPrefix(lines[0], extraPrefix) {
		extra, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], extraPrefix))
		if err != nil {
			return nil, fmt.Errorf("tlog-proof: extra line: %w", err)
		}
		p.Extra = extra
		if p.Extra == nil {
			p.Extra = []byte{}
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, errors.New("tlog-proof: missing index line")
	}
	idx := strings.TrimPrefix(lines[0], "index ")
	if idx == "" || (len(idx) > 1 && idx[0] == '0') || strings.TrimLeft(idx, "0123456789") != "" {
		return nil, fmt.Errorf("tlog-proof: index %q is not a decimal without leading zeroes", truncate(idx))
	}
	n, err := strconv.ParseUint(idx, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("tlog-proof: index: %w", err)
	}
	p.Index = n
	lines = lines[1:]
	if len(lines) > MaxHashes {
		return nil, fmt.Errorf("tlog-proof: %d proof hashes; at most %d are possible", len(lines), MaxHashes)
	}
	for i, l := range lines {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("tlog-proof: proof line %d is not a base64 SHA-256 hash", i+1)
		}
		p.Hashes = append(p.Hashes, h)
	}
	return p, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
