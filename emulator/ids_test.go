package emulator

import (
	"container/heap"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// refRandString is the original randString over a given stream: the
// reference for the allocation-free helpers, which must draw the same values
// so ids stay reproducible under Options.RandSeed.
func refRandString(rnd *mrand.ChaCha8, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rnd.Uint64()%uint64(len(alphabet))]
	}
	return string(b)
}

func refRandBytes(rnd *mrand.ChaCha8, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rnd.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func TestRandomIDsMatchReference(t *testing.T) {
	seed := [32]byte{1, 2, 3}
	e := &Emulator{rnd: mrand.NewChaCha8(seed)}
	ref := mrand.NewChaCha8(seed)
	for i := range 200 {
		switch i % 5 {
		case 0:
			s := refRandString(ref, 32, upperHex)
			want := s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
			if got := e.requestID(); got != want {
				t.Fatalf("requestID = %q, want %q", got, want)
			}
		case 1:
			if got, want := e.randString(44, alnum), refRandString(ref, 44, alnum); got != want {
				t.Fatalf("randString(44) = %q, want %q", got, want)
			}
		case 2:
			if got, want := e.randString(100, lowerAlnum), refRandString(ref, 100, lowerAlnum); got != want {
				t.Fatalf("randString(100) = %q, want %q", got, want)
			}
		case 3:
			if got, want := string(e.randBytes(i%17)), string(refRandBytes(ref, i%17)); got != want {
				t.Fatalf("randBytes(%d) = %x, want %x", i%17, got, want)
			}
		default:
			if got, want := string(e.appendRandString([]byte("STS."), 25, alnum)), "STS."+refRandString(ref, 25, alnum); got != want {
				t.Fatalf("STS key id = %q, want %q", got, want)
			}
		}
	}
}

// TestExpiryHeapMatchesContainerHeap checks that push and pop leave the heap
// exactly as heap.Push and heap.Pop do, ties included, so sessions are pruned
// in the same order.
func TestExpiryHeapMatchesContainerHeap(t *testing.T) {
	r := mrand.New(mrand.NewPCG(9, 10))
	var got, want expiryHeap
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5000 {
		if len(want) > 0 && r.IntN(3) == 0 {
			g, w := got.pop(), heap.Pop(&want).(sessionExpiry)
			if g != w {
				t.Fatalf("step %d: pop = %v, heap.Pop = %v", i, g, w)
			}
		} else {
			x := sessionExpiry{exp: base.Add(time.Duration(r.IntN(50)) * time.Second), keyID: strconv.Itoa(i)}
			got.push(x)
			heap.Push(&want, x)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: heap differs from container/heap's", i)
		}
	}
}
