package alicloud

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
)

// replicationStateTTL bounds how old a cached replication state may be.
const replicationStateTTL = time.Second

// replicationStateCache answers ReplicationState from memory for up to
// replicationStateTTL. The framework asks for the state before every request
// to a path with Operations, and for an external plugin each ask is a gRPC
// round trip to Vault: about 6% of the plugin's CPU and 3% of Vault's per
// STS credential. The state changes only when a node is promoted or demoted
// (and Vault sets the mounts up again then); a state up to a second old can
// at worst let a write start on a node that has just become a performance
// standby, where Vault's storage refuses it (logical.ErrReadOnly) and
// forwards the request as it would have anyway.
type replicationStateCache struct {
	logical.SystemView

	mu     sync.Mutex // serializes refreshes
	cached atomic.Pointer[cachedReplicationState]

	// maxLease caches MaxLeaseTTL, which creds/ asks on every issue to
	// clamp STS durations; a tune of the mount applies within a second.
	maxLease atomic.Pointer[cachedDuration]
}

type cachedDuration struct {
	d  time.Duration
	at time.Time
}

// MaxLeaseTTL returns the cached mount maximum while it is fresh, else asks Vault.
func (v *replicationStateCache) MaxLeaseTTL() time.Duration {
	if c := v.maxLease.Load(); c != nil && fresh(c.at) {
		return c.d
	}
	d := v.SystemView.MaxLeaseTTL()
	if d > 0 {
		// 0 is what the gRPC client answers when its call failed: ask
		// again next time.
		v.maxLease.Store(&cachedDuration{d: d, at: time.Now()})
	}
	return d
}

type cachedReplicationState struct {
	state consts.ReplicationState
	at    time.Time
}

// withReplicationStateCache wraps sv, unless it supplies entropy (Vault's
// in-process system view with entropy augmentation), which a wrapper would
// hide; such a view is not a gRPC client and costs nothing to ask.
func withReplicationStateCache(sv logical.SystemView) logical.SystemView {
	if sv == nil {
		return nil
	}
	if _, ok := sv.(entropySourcer); ok {
		return sv
	}
	if _, ok := sv.(*replicationStateCache); ok {
		return sv
	}
	return &replicationStateCache{SystemView: sv}
}

// entropySourcer is go-kms-wrapping's entropy.Sourcer, which the framework
// looks for on the system view (Backend.GetRandomReader).
type entropySourcer interface {
	GetRandom(bytes int) ([]byte, error)
}

// ReplicationState returns the cached state while it is fresh, else asks Vault.
func (v *replicationStateCache) ReplicationState() consts.ReplicationState {
	if c := v.cached.Load(); c != nil && fresh(c.at) {
		return c.state
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.cached.Load(); c != nil && fresh(c.at) {
		return c.state
	}
	state := v.SystemView.ReplicationState()
	v.cached.Store(&cachedReplicationState{state: state, at: time.Now()})
	return state
}

// fresh reports whether at is less than replicationStateTTL ago (monotonic).
func fresh(at time.Time) bool {
	age := time.Since(at)
	return age >= 0 && age < replicationStateTTL
}
