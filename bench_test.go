package alicloud

import (
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// BenchmarkCredsAssumedRole measures the hot path, creds/<assumed_role>,
// against the in-process emulator (whose AssumeRole dominates the cost).
func BenchmarkCredsAssumedRole(b *testing.B) {
	e := newTestEnv(b)
	e.skipLogChecks = true
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.b.Logger().SetLevel(0)
	req := func() *logical.Request {
		return &logical.Request{Operation: logical.ReadOperation, Path: "creds/reader", Storage: e.s, DisplayName: "token-bench"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := e.b.HandleRequest(e.ctx, req())
			if err != nil || resp.IsError() {
				b.Errorf("issue: %v %v", err, resp)
				return
			}
		}
	})
}
