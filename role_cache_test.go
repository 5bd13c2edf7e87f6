package alicloud

import (
	"fmt"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// roleCacheLen counts the entries of the backend's role cache, stale ones
// included.
func roleCacheLen(b *backend) int {
	n := 0
	b.roleCache.Range(func(any, any) bool { n++; return true })
	return n
}

// TestRoleCache_Bounded: roles written, read and deleted under ever new names
// (a CI pipeline making a role per job) must not leave their decoded entries
// in memory. A role change retires every cached entry, so the cache never
// holds more than the roles read since the last change.
func TestRoleCache_Bounded(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	const names = 50
	for i := range names {
		name := fmt.Sprintf("job-%d", i)
		e.ok(logical.CreateOperation, "role/"+name, map[string]interface{}{"role_arn": e.readerARN})
		if _, err := e.b.cachedRole(e.ctx, e.s, name); err != nil {
			t.Fatal(err)
		}
		e.ok(logical.DeleteOperation, "role/"+name, nil)
	}
	if n := roleCacheLen(e.b); n > 1 {
		t.Fatalf("role cache holds %d entries after %d roles came and went, want at most 1", n, names)
	}

	// The hot path still caches: reads without a change in between hit.
	e.ok(logical.CreateOperation, "role/steady", map[string]interface{}{"role_arn": e.readerARN})
	a, err := e.b.cachedRole(e.ctx, e.s, "steady")
	if err != nil || a == nil {
		t.Fatalf("cachedRole: %v %v", a, err)
	}
	b, err := e.b.cachedRole(e.ctx, e.s, "steady")
	if err != nil || b != a {
		t.Fatalf("second read did not come from the cache: %p %p %v", a, b, err)
	}
	if n := roleCacheLen(e.b); n != 1 {
		t.Fatalf("role cache holds %d entries, want 1", n)
	}
}
