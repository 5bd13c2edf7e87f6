package emulator

import (
	"fmt"
	"reflect"
	"testing"
)

func TestSessionPolicyCache(t *testing.T) {
	c := &policyCache{docs: map[string]*Policy{}}
	const doc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"OSS:Get*","Resource":"acs:oss::1:b/*"}]}`
	first, err := c.parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	fresh, _ := ParsePolicy(doc)
	if !reflect.DeepEqual(first, fresh) {
		t.Fatalf("cached parse %+v differs from ParsePolicy %+v", first, fresh)
	}
	if again, _ := c.parse(doc); again != first {
		t.Fatal("second parse of the same document was not served from the cache")
	}
	if first.evaluate("oss:getobject", "acs:oss:*:1:b/k") != effectAllow {
		t.Fatal("cached policy does not allow what it states")
	}

	const bad = `{"Version":"1","Statement":[{"Effect":"Maybe","Action":"oss:Get*","Resource":"*"}]}`
	_, wantErr := ParsePolicy(bad)
	if _, err := c.parse(bad); err == nil || err.Error() != wantErr.Error() {
		t.Fatalf("parse(bad) error = %v, want %v", err, wantErr)
	}
	if _, cached := c.docs[bad]; cached {
		t.Fatal("a document that failed to parse was cached")
	}

	for i := range 2 * maxCachedSessionPolicies {
		if _, err := c.parse(fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Deny","Action":"ecs:*","Resource":"acs:ecs:*:*:instance/i-%d"}]}`, i)); err != nil {
			t.Fatal(err)
		}
		if len(c.docs) > maxCachedSessionPolicies {
			t.Fatalf("cache holds %d documents, more than %d", len(c.docs), maxCachedSessionPolicies)
		}
	}
}
