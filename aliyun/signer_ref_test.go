package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// The reference signer below is the straightforward implementation of the V2
// signature, kept as the specification the optimized signer is checked against.

func refPercentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

func refCanonicalizedQueryString(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := ""
		if vs := params[k]; len(vs) > 0 {
			v = vs[0]
		}
		parts = append(parts, refPercentEncode(k)+"="+refPercentEncode(v))
	}
	return strings.Join(parts, "&")
}

func refStringToSign(method string, params url.Values) string {
	return method + "&" + refPercentEncode("/") + "&" + refPercentEncode(refCanonicalizedQueryString(params))
}

func refHMACSHA1Base64(key, data string) string {
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func refSign(secret, stringToSign string) string { return refHMACSHA1Base64(secret+"&", stringToSign) }

// checkAgainstReference fails t when any exported signer function disagrees
// with the reference on params.
func checkAgainstReference(t *testing.T, method, secret string, params url.Values) {
	t.Helper()
	for k, vs := range params {
		if got, want := PercentEncode(k), refPercentEncode(k); got != want {
			t.Fatalf("PercentEncode(%q) = %q, reference %q", k, got, want)
		}
		for _, v := range vs {
			if got, want := PercentEncode(v), refPercentEncode(v); got != want {
				t.Fatalf("PercentEncode(%q) = %q, reference %q", v, got, want)
			}
		}
	}
	if got, want := CanonicalizedQueryString(params), refCanonicalizedQueryString(params); got != want {
		t.Fatalf("CanonicalizedQueryString:\n got %q\nwant %q", got, want)
	}
	sts := refStringToSign(method, params)
	if got := StringToSign(method, params); got != sts {
		t.Fatalf("StringToSign:\n got %q\nwant %q", got, sts)
	}
	want := refSign(secret, sts)
	if got := Sign(secret, sts); got != want {
		t.Fatalf("Sign(secret of %d bytes) = %s, reference %s", len(secret), got, want)
	}
	if got := SignParams(method, params, secret); got != want {
		t.Fatalf("SignParams(secret of %d bytes) = %s, reference %s", len(secret), got, want)
	}
}

// randText returns n bytes drawn mostly from the characters that matter to
// the encoder: unreserved ones, separators, '%', '+', spaces and non-ASCII.
func randText(r *rand.Rand, n int) string {
	const pool = "aZ09-_.~ %+=&/*:?#!'()\"\x00\x7f\xff"
	b := make([]byte, n)
	for i := range b {
		if r.IntN(4) == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = pool[r.IntN(len(pool))]
		}
	}
	return string(b)
}

// TestSignerMatchesReference compares the optimized signer with the reference
// on random parameter sets: empty and multi-valued parameters, a Signature
// parameter, more parameters than the stack scratch holds, and secrets on
// both sides of the HMAC block size.
func TestSignerMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	secretLens := []int{0, 1, 30, 62, 63, 64, 65, 100, 200}
	for i := 0; i < 2000; i++ {
		params := url.Values{}
		for range r.IntN(maxStackPairs + 8) {
			k := randText(r, 1+r.IntN(12))
			switch r.IntN(8) {
			case 0:
				params[k] = nil
			case 1:
				params[k] = []string{randText(r, r.IntN(20)), randText(r, r.IntN(20))}
			default:
				params.Set(k, randText(r, r.IntN(300)))
			}
		}
		if r.IntN(3) == 0 {
			params.Set("Signature", randText(r, 28))
		}
		method := []string{"GET", "POST", "", "P~ S"}[r.IntN(4)]
		secret := randText(r, secretLens[r.IntN(len(secretLens))])
		checkAgainstReference(t, method, secret, params)
	}
}

// FuzzSignerMatchesReference is the differential check on arbitrary bytes:
// spec holds "key=value" lines; a repeated key adds a second value.
func FuzzSignerMatchesReference(f *testing.F) {
	f.Add("POST", "testsecret", "Action=AssumeRole\nPolicy={\"Version\":\"1\"}\nRoleArn=acs:ram::1:role/a")
	f.Add("GET", strings.Repeat("k", 70), "a b=中文\na b=second\n*=~+\nSignature=x\nempty=")
	f.Fuzz(func(t *testing.T, method, secret, spec string) {
		params := url.Values{}
		for line := range strings.SplitSeq(spec, "\n") {
			k, v, _ := strings.Cut(line, "=")
			params.Add(k, v)
		}
		checkAgainstReference(t, method, secret, params)
	})
}
