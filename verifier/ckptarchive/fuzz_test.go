package ckptarchive_test

import (
	"bytes"
	"crypto/rand"
	"strconv"
	"testing"

	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/tlog"
	"golang.org/x/mod/sumdb/note"
)

// FuzzArchive feeds arbitrary index and checkpoint files to the strict
// readers: they never panic; an index they accept is strictly ascending
// and reads back byte for byte as written (one reading of every byte);
// a file they accept is a log-signed checkpoint of the size in its name.
func FuzzArchive(f *testing.F) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "fuzz.example/log")
	if err != nil {
		f.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	good, _ := note.Sign(&note.Note{Text: "fuzz.example/log\n3\nexCJodX/u4tdS0Cyo9M8Z0MpfnKECGrWCxylxSgT3LU=\n"}, signer)
	f.Add([]byte("0\n3\n10\n"), uint64(3), good)
	f.Add([]byte(""), uint64(0), []byte{})
	f.Add([]byte("01\n"), uint64(4), good)
	f.Add([]byte("3\n3\n"), uint64(3), append(bytes.Clone(good), 'x'))
	f.Add([]byte("18446744073709551616\n"), uint64(1), good[:20])
	trust := tlog.Trust{Verifier: v}
	f.Fuzz(func(t *testing.T, index []byte, size uint64, file []byte) {
		sizes, err := ckptarchive.ParseIndex(index)
		if err == nil {
			var back []byte
			for i, s := range sizes {
				if i > 0 && s <= sizes[i-1] {
					t.Fatalf("accepted %v: not ascending", sizes)
				}
				back = strconv.AppendUint(back, s, 10)
				back = append(back, '\n')
			}
			if !bytes.Equal(back, index) {
				t.Fatalf("index %q accepted as %v, which reads back as %q", index, sizes, back)
			}
		}
		cp, err := ckptarchive.ParseEntry(size, file, trust)
		if err == nil && (cp.Size != size || !bytes.Equal(cp.Raw, file)) {
			t.Fatalf("accepted a checkpoint of size %d as file %d", cp.Size, size)
		}
	})
}
