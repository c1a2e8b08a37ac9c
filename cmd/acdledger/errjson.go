package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"

	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
	"github.com/spf13/cobra"
)

// A command run with --json that fails prints, on stdout, one JSON object
// {"error": {...}} (specs/cli-json.md), unless it already printed its JSON
// result (an audit that finds violations prints its report, which says
// what failed). Scripts thus always get JSON on stdout and the exit code;
// people get the one line on stderr as before.

// jsonLines marks a command whose stdout is always JSON Lines (watch): its
// fatal error is one more line, with or without --json.
const jsonLines = "json-lines"

// resultPrinted is set once a command has printed its JSON result.
var resultPrinted bool

type errorDoc struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	ExitCode int    `json:"exit_code"`
	Kind     string `json:"kind"` // "failed" (exit 1) or "usage" (exit 2)
	Message  string `json:"message"`
	// Problems lists each failure a command joined into its message (an
	// append over HTTP reports every refused entry), with the entry, field
	// and rule when an admission rule refused it.
	Problems []problem `json:"problems,omitempty"`
}

type problem struct {
	Source  string `json:"source,omitempty"` // the input file and line
	EntryID string `json:"entry_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message"`
}

// sourcedError is an error about one input item (FILE or FILE:LINE).
type sourcedError struct {
	source string
	err    error
	text   string // the message, when it is not "source: err"
}

func (e *sourcedError) Error() string {
	if e.text != "" {
		return e.text
	}
	return e.source + ": " + e.err.Error()
}
func (e *sourcedError) Unwrap() error { return e.err }

// wantsJSON reports whether the failed command was asked for JSON. When
// flag parsing itself failed, the flag may be unparsed: the arguments say.
func wantsJSON(cmd *cobra.Command, args []string) bool {
	if cmd == nil {
		return false
	}
	if cmd.Annotations[jsonLines] != "" {
		return true
	}
	if f := cmd.Flags().Lookup("json"); f != nil {
		if f.Value.String() == "true" {
			return true
		}
		return !f.Changed && (slices.Contains(args, "--json") || slices.Contains(args, "--json=true"))
	}
	return false
}

func exitCodeOf(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage // cobra's own errors are about flags and arguments
}

// writeErrorJSON prints err as an error document.
func writeErrorJSON(w io.Writer, err error, code int, compact bool) {
	kind := "usage"
	if code == exitFailed {
		kind = "failed"
	}
	doc := errorDoc{errorBody{ExitCode: code, Kind: kind, Message: err.Error()}}
	for _, e := range leaves(err) {
		p := problem{Message: e.Error()}
		var se *sourcedError
		if errors.As(e, &se) {
			p.Source = se.source
		}
		var v *specs.Violation
		var re *submit.RefusedError
		switch {
		case errors.As(e, &v):
			p.EntryID, p.Field, p.Rule, p.Message = v.EntryID, v.Field, v.Rule, v.Message
		case errors.As(e, &re):
			p.EntryID, p.Field, p.Rule, p.Message = re.EntryID, re.Field, re.Code, re.Message
		case p.Source == "":
			continue // nothing more than the message
		}
		doc.Error.Problems = append(doc.Error.Problems, p)
	}
	enc := json.NewEncoder(w)
	if !compact {
		enc.SetIndent("", "  ")
	}
	enc.Encode(doc)
}

// leaves splits a joined error into its parts (through wrapping by
// exitError); a single error is its own part.
func leaves(err error) []error {
	for {
		switch x := err.(type) {
		case interface{ Unwrap() []error }:
			return x.Unwrap()
		case *exitError:
			err = x.err
			continue
		}
		return []error{err}
	}
}

// reportFailure prints a failed command's error for people (stderr) and,
// when asked, for scripts (stdout), and returns the exit code.
func reportFailure(cmd *cobra.Command, err error) int {
	code := exitCodeOf(err)
	if wantsJSON(cmd, os.Args[1:]) && !resultPrinted {
		writeErrorJSON(os.Stdout, err, code, cmd.Annotations[jsonLines] != "")
	}
	return code
}
