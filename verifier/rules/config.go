package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/acdledger/acdledger/internal/jsonmsg"
	"github.com/acdledger/acdledger/specs"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("48h", "90m", "4320h").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "48h"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use h, m, s: e.g. \"72h\")", s)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// Config holds what the law leaves open: durations and switches of the
// rules. specs/rules.md documents every key and its default; the defaults
// are specs/rules.default.json. A config file may give only some keys: the
// others keep their defaults.
type Config struct {
	// R4: an emergency.notice must be made within this long of the
	// measure's start (the law says 速やかに, "promptly").
	EmergencyNoticeWithin Duration `json:"emergency_notice_within"`
	// R9: what a selection batch did not select is deleted within this long
	// of the window's end (直ちに, "at once").
	SelectionDeleteWithin Duration `json:"selection_delete_within"`
	// R11: selected data is deleted within this long of its window's end.
	RetentionMax Duration `json:"retention_max"`
	// R15 and every deadline: how late an entry may be recorded after its
	// occurred_at. A deadline counts as missed once it is this far past
	// with no closing entry in the log.
	MaxRecordLag Duration `json:"max_record_lag"`
	// R15: tolerance for clocks when an entry claims to have occurred after
	// the checkpoint that covers it was seen.
	ClockSkew Duration `json:"clock_skew"`
	// R5: registry agency ids allowed to execute measures abroad.
	AbroadAgencies []string `json:"abroad_agencies"`
	// R12: whether a provision to a foreign government needs an approved
	// approval.decided named in body.approval.
	ForeignProvisionNeedsApproval bool `json:"foreign_provision_needs_approval"`
	// Rule ids (R1…) or names not to run.
	Disabled []string `json:"disabled"`
}

// DefaultConfig returns the documented defaults (specs/rules.default.json).
func DefaultConfig() Config {
	var c Config
	if err := decodeConfig(specs.RulesDefaultConfig, &c); err != nil {
		panic("specs/rules.default.json: " + err.Error())
	}
	return c
}

// LoadConfig reads a rules config file (JSON). Keys it does not give keep
// their defaults; an unknown key, a malformed duration or an unknown rule
// in "disabled" is an error that names the key.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("rules config: %w", err)
	}
	c, err := ParseConfig(raw)
	if err != nil {
		return Config{}, fmt.Errorf("rules config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig is LoadConfig on bytes.
func ParseConfig(raw []byte) (Config, error) {
	c := DefaultConfig()
	if err := decodeConfig(raw, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeConfig applies the keys present in raw onto c, strictly: each key
// must be a field of Config, and its value must decode, or the error names
// the key.
func decodeConfig(raw []byte, c *Config) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys map[string]json.RawMessage
	if err := dec.Decode(&keys); err != nil {
		return fmt.Errorf("not a JSON object: %v", jsonmsg.Describe(err))
	}
	if keys == nil {
		return errors.New("not a JSON object")
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	v := reflect.ValueOf(c).Elem()
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		fields[tag] = v.Field(i)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names) // the same file always names the same key first
	for _, k := range names {
		f, ok := fields[k]
		if !ok {
			return fmt.Errorf("unknown key %q", k)
		}
		nv := reflect.New(f.Type())
		d := json.NewDecoder(bytes.NewReader(keys[k]))
		d.DisallowUnknownFields()
		if err := d.Decode(nv.Interface()); err != nil {
			return fmt.Errorf("key %q: %v", k, jsonmsg.Describe(err))
		}
		f.Set(nv.Elem())
	}
	for _, r := range c.Disabled {
		if lookup(r) == nil {
			return fmt.Errorf("key \"disabled\": unknown rule %q", r)
		}
	}
	return nil
}

// Digest is the one identity of a configuration that evidence packages
// and compliance statements name: its canonical JSON (RFC 8785, every key,
// as this package writes it) and "sha256:" with the hex SHA-256 of that.
// It is a digest of the configuration as read, not of a file's bytes, so
// the same settings spaced or ordered otherwise have the same digest.
func (c Config) Digest() (canonical []byte, digest string, err error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, "", err
	}
	if b, err = specs.Canonical(b); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:]), nil
}
