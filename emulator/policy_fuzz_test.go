package emulator

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParsePolicy checks that the parser never panics, that whatever it
// accepts has a canonical form it accepts again unchanged, and that evaluating
// an accepted policy never panics.
func FuzzParsePolicy(f *testing.F) {
	seeds := []string{
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		`{"Version":"1","Statement":{"Effect":"Deny","NotAction":["ram:*","sts:?ssume*"],"NotResource":"acs:ram::1:role/*"}}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1:root"]},"Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Condition":{"NumericLessThan":{"acs:MFAAge":1.5e3},"Bool":{"acs:SecureTransport":[true,false]}}}]}`,
		`{"Version":"1","Statement":[]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"\u00e9:x","Resource":"acs:a:b:c:\u00ff"}]}`,
		`[]`, `{`, `null`, `""`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, parse := range []func(string) (*Policy, error){ParsePolicy, ParseTrustPolicy} {
			p, err := parse(doc)
			if err != nil {
				if p != nil {
					t.Fatal("error with a non-nil policy")
				}
				continue
			}
			canon, err := json.Marshal(p)
			if err != nil {
				t.Fatalf("marshal accepted policy: %v", err)
			}
			p2, err := parse(string(canon))
			if err != nil {
				t.Fatalf("canonical form refused: %v\n%s", err, canon)
			}
			if !reflect.DeepEqual(p, p2) {
				t.Fatalf("canonical form changed the policy:\n%+v\n%+v", p, p2)
			}
			_ = p.evaluate("ram:getuser", "acs:ram:*:1:user/x")
			_ = p.trusts(trustRequest{principalType: "RAM", identities: []string{"acs:ram::1:root"}, context: map[string][]string{"sts:externalid": {"x"}}})
		}
	})
}
