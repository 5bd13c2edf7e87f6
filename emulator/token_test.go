package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestTokenMACMatchesHMAC(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	for _, keyLen := range []int{16, 32, 63, 64, 65, 200} {
		for _, n := range []int{0, 1, 51, 55, 56, 64, 119, 120, maxTokenPayload, maxTokenPayload + 100} {
			key, payload := make([]byte, keyLen), make([]byte, n)
			for i := range key {
				key[i] = byte(r.Uint32())
			}
			for i := range payload {
				payload[i] = byte(r.Uint32())
			}
			m := hmac.New(sha256.New, key)
			m.Write(payload)
			want := m.Sum(nil)[:tokenMACLen]
			if got := tokenMAC(key, payload); string(got[:]) != string(want) {
				t.Fatalf("key %d bytes, payload %d bytes: tokenMAC = %x, HMAC-SHA256 = %x", keyLen, n, got, want)
			}
		}
	}
}

// TestSealTokenLayout checks a sealed token against the documented layout
// with crypto/hmac, and that openToken reads it back.
func TestSealTokenLayout(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := e.sealToken("STS.abcdefghijklmnopqrstuvwxy", exp)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(tok, tokenPrefix))
	if !strings.HasPrefix(tok, tokenPrefix) || err != nil {
		t.Fatalf("token %q: %v", tok, err)
	}
	payload := raw[:len(raw)-tokenMACLen]
	m := hmac.New(sha256.New, e.st.TokenKey)
	m.Write(payload)
	if want := m.Sum(nil)[:tokenMACLen]; string(raw[len(payload):]) != string(want) {
		t.Fatalf("MAC %x, want %x", raw[len(payload):], want)
	}
	if len(payload) != 1+8+1+29+12 || payload[0] != tokenVersion || payload[9] != 29 {
		t.Fatalf("payload layout %x", payload)
	}
	id, gotExp, ok := e.openToken(tok)
	if !ok || id != "STS.abcdefghijklmnopqrstuvwxy" || !gotExp.Equal(exp) {
		t.Fatalf("openToken = %q, %v, %v", id, gotExp, ok)
	}
	bad := []byte(tok)
	bad[len(bad)-3] ^= 1
	if _, _, ok := e.openToken(string(bad)); ok {
		t.Fatal("openToken accepted a token with a changed byte")
	}
}
