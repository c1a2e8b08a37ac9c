package ckptarchive_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/witness"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// clockedWitness makes tlog-cosignature/v1 Ed25519 cosignatures at a
// chosen time: formats/note's signer always stamps time.Now, and the
// k-th smallest / k-th largest logic needs distinct, known timestamps.
// The signed message is the spec's ("cosignature/v1\ntime T\n" + note
// text) and the signature timestamp || Ed25519 signature; formats/note's
// verifier checks them, so these are real cosignatures.
type clockedWitness struct {
	name string
	vkey string
	hash uint32
	key  ed25519.PrivateKey
	at   time.Time
}

func newClockedWitness(t *testing.T, name string) *clockedWitness {
	skey, vkey, err := witness.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.SplitN(skey, "+", 5)[4]) // PRIVATE+KEY+name+hash+key; base64 has "+" too
	if err != nil {
		t.Fatal(err)
	}
	return &clockedWitness{name: name, vkey: vkey, hash: s.KeyHash(), key: ed25519.NewKeyFromSeed(raw[1:])}
}

func (w *clockedWitness) Name() string    { return w.name }
func (w *clockedWitness) KeyHash() uint32 { return w.hash }
func (w *clockedWitness) Sign(msg []byte) ([]byte, error) {
	ts := uint64(w.at.Unix())
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", ts, msg)
	return append(binary.BigEndian.AppendUint64(nil, ts), ed25519.Sign(w.key, m)...), nil
}

type cosigning struct {
	log    note.Signer
	origin string
	ws     map[string]*clockedWitness
	policy *tlog.Policy
}

func newCosigning(t *testing.T, names []string, quorum string) *cosigning {
	skey, vkey, err := note.GenerateKey(rand.Reader, "times.example/log")
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := note.NewSigner(skey)
	c := &cosigning{log: ls, origin: "times.example/log", ws: map[string]*clockedWitness{}}
	pol := "log " + vkey + "\n"
	for _, n := range names {
		w := newClockedWitness(t, n+".example")
		c.ws[n] = w
		pol += fmt.Sprintf("witness %s %s\n", n, w.vkey)
	}
	pol += quorum
	if c.policy, err = tlog.ParsePolicy([]byte(pol)); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkpoint of size n cosigned by the witnesses at the given Unix times.
func (c *cosigning) checkpoint(t *testing.T, n uint64, at map[string]int64) []byte {
	text := fmt.Sprintf("%s\n%d\n%s\n", c.origin, n, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(n)}, 32)))
	signers := []note.Signer{c.log}
	for name, sec := range at {
		w := c.ws[name]
		w.at = time.Unix(sec, 0)
		signers = append(signers, w)
	}
	raw, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestTimesOf(t *testing.T) {
	for _, c := range []struct {
		name          string
		names         []string
		quorum        string
		at            map[string]int64
		ok            bool
		reached, held int64
	}{
		{"2 of 3, all cosign", []string{"a", "b", "c"}, "group g 2 a b c\nquorum g\n",
			map[string]int64{"a": 100, "b": 300, "c": 200}, true, 200, 200},
		{"2 of 4: k-th smallest and k-th largest", []string{"a", "b", "c", "d"}, "group g 2 a b c d\nquorum g\n",
			map[string]int64{"a": 400, "b": 100, "c": 300, "d": 200}, true, 200, 300},
		{"2 of 3, exactly two", []string{"a", "b", "c"}, "group g 2 a b c\nquorum g\n",
			map[string]int64{"a": 100, "c": 900}, true, 900, 100},
		{"nested: any of (all of a b) and c", []string{"a", "b", "c"}, "group ab all a b\ngroup top any ab c\nquorum top\n",
			map[string]int64{"a": 100, "b": 500, "c": 300}, true, 300, 300},
		{"a lying early witness moves nothing past the honest", []string{"a", "b", "c"}, "group g 2 a b c\nquorum g\n",
			map[string]int64{"a": 1, "b": 200, "c": 210}, true, 200, 200},
		{"below the quorum", []string{"a", "b", "c"}, "group g 2 a b c\nquorum g\n",
			map[string]int64{"a": 100}, false, 0, 0},
		{"quorum none", []string{"a"}, "quorum none\n",
			map[string]int64{"a": 100}, false, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := newCosigning(t, c.names, c.quorum)
			raw := cs.checkpoint(t, 5, c.at)
			if _, err := tlog.VerifyCheckpoint(raw, tlog.Trust{Verifier: cs.policy.Log}); err != nil {
				t.Fatal(err)
			}
			got := ckptarchive.TimesOf(cs.policy, raw)
			if got.Quorum != c.ok || (c.ok && (got.Reached.Unix() != c.reached || got.Held.Unix() != c.held)) {
				t.Fatalf("got %+v, want quorum %v reached %d held %d", got, c.ok, c.reached, c.held)
			}
		})
	}
	if got := ckptarchive.TimesOf(nil, []byte("x")); got.Quorum {
		t.Fatal("no policy, a witness time")
	}
}

// Bounds take the quorum-cosigned checkpoints around an index, skipping
// those without the quorum.
func TestBounds(t *testing.T) {
	cs := newCosigning(t, []string{"a", "b", "c"}, "group g 2 a b c\nquorum g\n")
	a := &ckptarchive.Archive{}
	for _, c := range []struct {
		size uint64
		at   map[string]int64
	}{
		{0, map[string]int64{"a": 10, "b": 11}},
		{4, map[string]int64{"a": 20, "b": 21, "c": 22}},
		{6, map[string]int64{"a": 30}}, // below the quorum
		{9, map[string]int64{"b": 40, "c": 41}},
	} {
		raw := cs.checkpoint(t, c.size, c.at)
		cp, err := ckptarchive.ParseEntry(c.size, raw, tlog.TrustPolicy(cs.policy))
		if err != nil {
			t.Fatal(err)
		}
		a.Checkpoints = append(a.Checkpoints, &ckptarchive.Entry{Checkpoint: cp, Times: ckptarchive.TimesOf(cs.policy, raw)})
	}
	for _, c := range []struct {
		i                 uint64
		afterSize, bySize uint64
		after, by         int64
		noBy              bool
	}{
		{0, 0, 4, 10, 21, false},
		{3, 0, 4, 10, 21, false},
		{4, 4, 9, 21, 41, false}, // checkpoints/6 has no quorum: skipped both ways
		{6, 4, 9, 21, 41, false},
		{8, 4, 9, 21, 41, false},
		{9, 9, 0, 40, 0, true},
	} {
		b := a.Bounds(c.i)
		if b.After == nil || b.After.Size != c.afterSize || b.After.Time.Unix() != c.after {
			t.Errorf("entry %d: after %+v, want checkpoints/%d at %d", c.i, b.After, c.afterSize, c.after)
		}
		if c.noBy != (b.By == nil) || (!c.noBy && (b.By.Size != c.bySize || b.By.Time.Unix() != c.by)) {
			t.Errorf("entry %d: by %+v, want checkpoints/%d at %d", c.i, b.By, c.bySize, c.by)
		}
	}
	if a.Cosigned() != 3 {
		t.Fatalf("Cosigned %d", a.Cosigned())
	}
}
