package aliyun

import (
	"net/url"
	"testing"
)

// FuzzSign checks the signer's properties on arbitrary input: it never
// panics, the canonical form decodes back to the parameters, the Signature
// parameter is ignored, and changing one byte of a value changes the signature.
func FuzzSign(f *testing.F) {
	f.Add("POST", "RoleArn", "acs:ram::123:role/a", "Policy", `{"Version":"1"}`, "secret")
	f.Add("GET", "a b", "中文", "*", "~+", "")
	f.Fuzz(func(t *testing.T, method, k1, v1, k2, v2, secret string) {
		if k1 == k2 || k1 == "Signature" || k2 == "Signature" {
			return
		}
		p := url.Values{}
		p.Set(k1, v1)
		p.Set(k2, v2)
		sig := SignParams(method, p, secret)
		canon := CanonicalizedQueryString(p)
		back, err := url.ParseQuery(canon)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", canon, err)
		}
		if back.Get(k1) != v1 || back.Get(k2) != v2 {
			t.Fatalf("canonical form %q does not round-trip", canon)
		}
		p.Set("Signature", sig)
		if SignParams(method, p, secret) != sig {
			t.Fatal("Signature parameter changed the signature")
		}
		p.Del("Signature")
		changed := []byte(v1 + "x")
		changed[0] ^= 1
		p.Set(k1, string(changed))
		if string(changed) != v1 && SignParams(method, p, secret) == sig {
			t.Fatal("changed value kept the signature")
		}
	})
}
