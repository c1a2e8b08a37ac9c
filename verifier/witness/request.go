package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// request is a parsed add-checkpoint request body.
type request struct {
	old        uint64
	proof      [][]byte
	checkpoint []byte // the signed note, not yet verified
}

// parseRequest parses an add-checkpoint body strictly (tlog-witness): an
// old size line "old N" (ASCII decimal, no leading zeroes), at most 63
// lines each one base64 hash, an empty line, then the checkpoint. Every line
// ends in "\n" (a "\r" is not a line ending, so it makes a line invalid).
func parseRequest(body []byte) (*request, error) {
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return nil, errors.New("no old size line")
	}
	sizeText, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return nil, errors.New(`the first line is not "old <size>"`)
	}
	old, ok := parseDecimal(string(sizeText))
	if !ok {
		return nil, fmt.Errorf("old size %q is not a decimal without leading zeroes", sizeText)
	}
	req := &request{old: old}
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, errors.New("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(req.proof) == MaxProofLines {
			return nil, fmt.Errorf("more than %d consistency proof lines", MaxProofLines)
		}
		h, ok := parseHash(string(line))
		if !ok {
			return nil, fmt.Errorf("consistency proof line %d is not a base64 SHA-256 hash", len(req.proof)+1)
		}
		req.proof = append(req.proof, h)
	}
	if len(rest) == 0 {
		return nil, errors.New("no checkpoint after the empty line")
	}
	req.checkpoint = rest
	return req, nil
}

// parseDecimal parses a uint64 in ASCII decimal with no sign and no leading
// zeroes ("0" itself is fine).
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// parseHash decodes a standard base64 SHA-256 hash, accepting only its
// canonical encoding (44 characters, padding, zero trailing bits).
func parseHash(s string) ([]byte, bool) {
	if len(s) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return nil, false
	}
	h, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(h) != sha256.Size || base64.StdEncoding.EncodeToString(h) != s {
		return nil, false
	}
	return h, true
}

// parseCheckpointText parses a checkpoint note text (C2SP tlog-checkpoint)
// strictly: origin, size (decimal, no leading zeroes), root hash (canonical
// base64 of 32 bytes), then optional non-empty extension lines. (A size-0
// checkpoint with another root than the empty tree's parses: tlog-witness
// answers it with 422, after the origin, signature and size checks.)
func parseCheckpointText(text string) (*checkpoint, error) {
	body, ok := strings.CutSuffix(text, "\n")
	if !ok {
		return nil, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return nil, errors.New("checkpoint has fewer than three lines")
	}
	origin := lines[0]
	if !validOrigin(origin) {
		return nil, errors.New("checkpoint origin line is empty")
	}
	size, ok := parseDecimal(lines[1])
	if !ok {
		return nil, fmt.Errorf("checkpoint size %q is not a decimal without leading zeroes", lines[1])
	}
	hash, ok := parseHash(lines[2])
	if !ok {
		return nil, errors.New("checkpoint root hash is not a base64 SHA-256 hash")
	}
	for _, ext := range lines[3:] {
		if ext == "" {
			return nil, errors.New("checkpoint has an empty extension line")
		}
	}
	return &checkpoint{origin: origin, size: size, hash: hash, text: text}, nil
}
