package submit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
	jsonv2 "github.com/go-json-experiment/json"
)

// followsOfStrict is followsOf as it was, through the strict reader: what
// followsOf must agree with on every envelope the server may admit.
func followsOfStrict(envelope []byte) follows {
	env, err := specs.ReadEnvelope(envelope)
	if err != nil {
		return follows{}
	}
	var h struct {
		ID     string   `json:"id"`
		Agency string   `json:"agency"`
		Seq    uint64   `json:"seq"`
		Refs   []string `json:"refs"`
	}
	if json.Unmarshal(env.Payload, &h) != nil {
		return follows{}
	}
	return follows{agency: h.Agency, id: h.ID, seq: h.Seq, refs: h.Refs}
}

// followsEnvelopes are entries as the client sends them: one naming another
// in its refs, two agencies, one large.
func followsEnvelopes(t testing.TB) [][]byte {
	kit := testkit.New(t)
	first := kit.Signed(t, "nco")
	h, err := specs.PeekHeader(first)
	if err != nil {
		t.Fatal(err)
	}
	e := kit.Entry("nco")
	e["refs"] = []string{h.ID}
	return [][]byte{first, kit.Sign(t, "nco", e), kit.Signed(t, "npa"), kit.SignedOfSize(t, "npa", 8<<10)}
}

func TestFollowsOfAgreesWithStrictReader(t *testing.T) {
	envs := followsEnvelopes(t)
	for i, env := range envs {
		got, want := followsOf(env), followsOfStrict(env)
		if want.agency == "" {
			t.Fatalf("envelope %d: the strict reader reads nothing: the test tests nothing", i)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("envelope %d: followsOf %+v, strict reader %+v", i, got, want)
		}
	}
	if f := followsOf(envs[1]); len(f.refs) != 1 {
		t.Errorf("refs not read: %+v", f)
	}
	// What it cannot read follows nothing: the server names the fault.
	var env map[string]any
	if err := json.Unmarshal(envs[0], &env); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"not JSON":           []byte(`{"payload":`),
		"payload not base64": []byte(`{"payload":"!!"}`),
		"payload not padded": []byte(`{"payload":"` + base64.RawStdEncoding.EncodeToString([]byte(`{"agency":"nco","seq":12}`)) + `"}`),
		"payload not JSON":   []byte(`{"payload":"` + base64.StdEncoding.EncodeToString([]byte(`{"agency":`)) + `"}`),
		"seq not a number":   []byte(`{"payload":"` + base64.StdEncoding.EncodeToString([]byte(`{"agency":"nco","seq":"1"}`)) + `"}`),
		"payload not string": []byte(`{"payload":1}`),
	}
	for name, raw := range bad {
		if f := followsOf(raw); !reflect.DeepEqual(f, follows{}) {
			t.Errorf("%s: followsOf %+v, want nothing", name, f)
		}
	}
}

func BenchmarkFollowsOf(b *testing.B) {
	envs := followsEnvelopes(b)[:3]
	for _, c := range []struct {
		name string
		f    func([]byte) follows
	}{{"strict", followsOfStrict}, {"peek", followsOf}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				c.f(envs[i%len(envs)])
			}
		})
	}
}

// Whatever the strict reader reads, the peek reads the same payload, and
// so the same hint when the payload's four members are read alike; nothing
// makes it panic.
func FuzzFollowsOf(f *testing.F) {
	for _, env := range followsEnvelopes(f) {
		f.Add(env)
	}
	f.Add([]byte(`{"payload":"e30=","payloadType":"x","signatures":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := followsOf(raw)
		env, err := specs.ReadEnvelope(raw)
		if err != nil {
			return
		}
		payload, ok := peekPayload(raw)
		if !ok || !bytes.Equal(payload, env.Payload) {
			t.Fatalf("the strict reader reads payload %q, the peek %q (%v)", env.Payload, payload, ok)
		}
		var h struct {
			ID     string   `json:"id"`
			Agency string   `json:"agency"`
			Seq    uint64   `json:"seq"`
			Refs   []string `json:"refs"`
		}
		if jsonv2.Unmarshal(env.Payload, &h) == nil {
			if want := (follows{agency: h.Agency, id: h.ID, seq: h.Seq, refs: h.Refs}); !reflect.DeepEqual(got, want) {
				t.Fatalf("followsOf %+v, want %+v", got, want)
			}
		}
	})
}
