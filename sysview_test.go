package alicloud

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// countingSystemView counts the ReplicationState questions that reach Vault.
type countingSystemView struct {
	logical.StaticSystemView
	asked atomic.Int64
	state atomic.Uint32
}

func (v *countingSystemView) ReplicationState() consts.ReplicationState {
	v.asked.Add(1)
	return consts.ReplicationState(v.state.Load())
}

func TestSysView_ReplicationStateCache(t *testing.T) {
	inner := &countingSystemView{}
	inner.state.Store(uint32(consts.ReplicationPerformancePrimary))
	sv := withReplicationStateCache(inner).(*replicationStateCache)

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := sv.ReplicationState(); got != consts.ReplicationPerformancePrimary {
				t.Errorf("state %v", got)
			}
		}()
	}
	wg.Wait()
	if n := inner.asked.Load(); n != 1 {
		t.Fatalf("50 concurrent questions asked Vault %d times, want 1", n)
	}

	// A cached state older than the TTL is asked again, and the new state wins.
	inner.state.Store(uint32(consts.ReplicationPerformanceStandby))
	if got := sv.ReplicationState(); got != consts.ReplicationPerformancePrimary {
		t.Fatalf("fresh cache: %v", got)
	}
	sv.cached.Store(&cachedReplicationState{state: consts.ReplicationPerformancePrimary, at: time.Now().Add(-replicationStateTTL)})
	if got := sv.ReplicationState(); got != consts.ReplicationPerformanceStandby || inner.asked.Load() != 2 {
		t.Fatalf("after the TTL: %v, asked %d times; want the new state from a second question", got, inner.asked.Load())
	}
	// A clock step backwards does not make an entry fresh forever.
	sv.cached.Store(&cachedReplicationState{state: consts.ReplicationPerformancePrimary, at: time.Now().Add(time.Hour)})
	if got := sv.ReplicationState(); got != consts.ReplicationPerformanceStandby {
		t.Fatalf("entry from the future served: %v", got)
	}

	// Everything else goes to the wrapped view; wrapping is idempotent.
	if sv.LocalMount() != inner.LocalMount() || withReplicationStateCache(sv) != logical.SystemView(sv) {
		t.Fatal("wrapper does not delegate, or wraps twice")
	}
	if withReplicationStateCache(nil) != nil {
		t.Fatal("nil view wrapped")
	}
}

// Issuing credentials asks Vault for the replication state once, not once
// per request.
func TestSysView_CredsAskOnce(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	inner := &countingSystemView{}
	conf := logical.TestBackendConfig()
	conf.StorageView = e.s
	conf.BackendUUID = testBackendUUID
	conf.System = inner
	b := newBackend(e.env)
	if err := b.Setup(e.ctx, conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Cleanup(e.ctx) })
	for i := 0; i < 20; i++ {
		resp, err := b.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/reader", Storage: e.s})
		if err != nil || resp == nil || resp.IsError() || resp.Data["access_key"] == "" {
			t.Fatalf("creds: %v %v", resp, err)
		}
		e.addSecret(resp.Data["secret_key"].(string), resp.Data["security_token"].(string))
	}
	if n := inner.asked.Load(); n != 1 {
		t.Fatalf("20 credentials asked Vault for the replication state %d times, want 1", n)
	}
}

// countingMaxLeaseView counts the MaxLeaseTTL questions that reach Vault.
type countingMaxLeaseView struct {
	logical.StaticSystemView
	asked atomic.Int64
}

func (v *countingMaxLeaseView) MaxLeaseTTL() time.Duration {
	v.asked.Add(1)
	return 30 * time.Minute
}

// TestSysView_MaxLeaseTTLCache: creds/ asks for the mount's max lease TTL
// on every issue; the answer is reused for replicationStateTTL.
func TestSysView_MaxLeaseTTLCache(t *testing.T) {
	inner := &countingMaxLeaseView{}
	sv := withReplicationStateCache(inner).(*replicationStateCache)
	for i := 0; i < 20; i++ {
		if got := sv.MaxLeaseTTL(); got != 30*time.Minute {
			t.Fatalf("MaxLeaseTTL = %s", got)
		}
	}
	if n := inner.asked.Load(); n != 1 {
		t.Fatalf("20 questions asked Vault %d times, want 1", n)
	}
	sv.maxLease.Store(&cachedDuration{d: time.Hour, at: time.Now().Add(-replicationStateTTL)})
	if got := sv.MaxLeaseTTL(); got != 30*time.Minute || inner.asked.Load() != 2 {
		t.Fatalf("after the TTL: %s, asked %d times", got, inner.asked.Load())
	}
}
