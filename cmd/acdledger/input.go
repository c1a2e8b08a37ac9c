package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// item is one JSON document read from the command line's inputs, with where
// it came from so an error can point at the file and line.
type item struct {
	source string
	raw    []byte
}

// readItems reads each file (or - for stdin): a .jsonl file or stdin holds
// one JSON document per line; any other file holds one document.
func readItems(files []string) ([]item, error) {
	var out []item
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, err
		}
		if f != "-" && !strings.HasSuffix(f, ".jsonl") {
			if n := countJSONValues(data); n > 1 {
				return nil, fmt.Errorf("%s holds %d JSON documents, but a file not named .jsonl is read as one: "+
					"sign writes one envelope per line (JSON Lines), so name such a file *.jsonl (stdin, -, is read the same way), "+
					"or keep one envelope per .json file", f, n)
			}
			out = append(out, item{f, bytes.TrimSpace(data)})
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				out = append(out, item{fmt.Sprintf("%s:%d", f, n), bytes.Clone(line)})
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return out, nil
}

// countJSONValues counts the well-formed JSON values at the top level of
// data, one after another, stopping at the first malformed one. It only
// decides whether to explain the .jsonl convention: a file with two
// envelopes in it is the usual mistake (sign > x.json for two entries).
// Anything else is left to the strict reader, which names the rule.
func countJSONValues(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return n
		}
		n++
	}
}
