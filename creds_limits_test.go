package alicloud

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestCreds_PrettySessionPolicyIssues: a session policy whose compacted
// form fits STS's limit passes the role write, so it must also issue.
func TestCreds_PrettySessionPolicyIssues(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	var resources []string
	for i := 0; i < 40; i++ {
		resources = append(resources, fmt.Sprintf("acs:ecs:*:*:instance/i-%020d", i))
	}
	doc := map[string]interface{}{"Version": "1", "Statement": []interface{}{map[string]interface{}{
		"Effect": "Allow", "Action": []string{"ecs:DescribeRegions"}, "Resource": resources}}}
	pretty, _ := json.MarshalIndent(doc, "", "        ")
	compact, _ := json.Marshal(doc)
	if len(pretty) <= maxSessionPolicyLen || len(compact) > maxSessionPolicyLen {
		t.Fatalf("fixture: pretty %d, compact %d bytes; want pretty > %d >= compact", len(pretty), len(compact), maxSessionPolicyLen)
	}
	e.ok(logical.CreateOperation, "role/pretty", map[string]interface{}{"role_arn": e.wideARN, "policy": string(pretty)})
	resp := e.ok(logical.ReadOperation, "creds/pretty", nil)
	if s, _ := resp.Data["security_token"].(string); s == "" {
		t.Fatalf("no credentials: %v", resp.Data)
	}
	// A role stored before the fix, with the pretty document as written,
	// issues too.
	entry, err := logical.StorageEntryJSON("role/legacy-pretty", map[string]interface{}{"role_arn": e.wideARN, "policy": string(pretty), "credential_type": "assumed_role"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.Put(e.ctx, entry); err != nil {
		t.Fatal(err)
	}
	resp = e.ok(logical.ReadOperation, "creds/legacy-pretty", nil)
	if s, _ := resp.Data["security_token"].(string); s == "" || !strings.HasPrefix(resp.Data["access_key"].(string), "STS.") {
		t.Fatalf("no credentials: %v", resp.Data)
	}
}

// TestCreds_CallerSessionNameNeedsRoleOptIn: the session name lands in
// ActionTrail as the identity of the assumed role; a caller may choose it
// only when the role allows it.
func TestCreds_CallerSessionNameNeedsRoleOptIn(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/fixed", map[string]interface{}{"role_arn": e.wideARN})
	e.ok(logical.CreateOperation, "role/open", map[string]interface{}{"role_arn": e.wideARN, "allow_caller_session_name": true})
	// A role HashiCorp's plugin wrote (no credential_type).
	entry, _ := logical.StorageEntryJSON("role/legacy", map[string]interface{}{"role_arn": e.wideARN})
	if err := e.s.Put(e.ctx, entry); err != nil {
		t.Fatal(err)
	}

	if got := e.ok(logical.ReadOperation, "role/fixed", nil).Data["allow_caller_session_name"]; got != false {
		t.Errorf("allow_caller_session_name of a new role = %v, want false", got)
	}
	if got := e.ok(logical.ReadOperation, "role/open", nil).Data["allow_caller_session_name"]; got != true {
		t.Errorf("allow_caller_session_name = %v, want true", got)
	}
	for _, role := range []string{"fixed", "legacy"} {
		e.badRequest(logical.UpdateOperation, "creds/"+role, map[string]interface{}{"role_session_name": "the-ceo"},
			"role_session_name: role \""+role+"\" does not allow the caller to choose the session name (allow_caller_session_name)")
		resp := e.ok(logical.ReadOperation, "creds/"+role, nil)
		if arn := resp.Data["arn"].(string); strings.Contains(arn, "the-ceo") || !strings.Contains(arn, "/vault-") {
			t.Errorf("%s: arn %s, want the template's session name", role, arn)
		}
	}
	resp := e.ok(logical.UpdateOperation, "creds/open", map[string]interface{}{"role_session_name": "alice@example.com"})
	if arn := resp.Data["arn"].(string); !strings.HasSuffix(arn, "/alice@example.com") {
		t.Errorf("arn = %s, want session alice@example.com", arn)
	}
	e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"ram_groups": "developers", "allow_caller_session_name": true},
		`allow_caller_session_name: does not apply to credential_type "ram_user"`)
}

// TestCreds_DurationWithinMountMaxLeaseTTL: STS credentials never outlive
// the mount's max lease TTL, and a caller's ttl above the effective maximum
// is refused naming it.
func TestCreds_DurationWithinMountMaxLeaseTTL(t *testing.T) {
	e := newTestEnv(t)
	sv := e.b.System().(*replicationStateCache).SystemView.(*logical.StaticSystemView)
	sv.MaxLeaseTTLVal = 30 * time.Minute
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/plain", map[string]interface{}{"role_arn": e.readerARN})
	var w []string
	if resp := e.ok(logical.CreateOperation, "role/long", map[string]interface{}{"role_arn": e.readerARN, "ttl": "1h"}); resp != nil {
		w = resp.Warnings
	}
	if len(w) != 1 || !strings.Contains(w[0], "capped at the mount's maximum lease TTL of 1800 seconds") {
		t.Errorf("warnings = %v, want one about the mount's maximum", w)
	}
	e.ok(logical.CreateOperation, "role/capped", map[string]interface{}{"role_arn": e.readerARN, "ttl": "900s", "max_ttl": "20m"})

	resp := e.ok(logical.ReadOperation, "creds/plain", nil)
	if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != 30*time.Minute {
		t.Errorf("default duration = %s, want the mount's max lease TTL of 30m", got)
	}
	e.badRequest(logical.UpdateOperation, "creds/plain", map[string]interface{}{"ttl": "12h"}, "ttl: 43200 seconds exceeds the maximum of 1800 seconds")
	e.badRequest(logical.UpdateOperation, "creds/plain", map[string]interface{}{"ttl": "31m"}, "ttl: 1860 seconds exceeds the maximum of 1800 seconds")
	e.badRequest(logical.UpdateOperation, "creds/capped", map[string]interface{}{"ttl": "25m"}, "ttl: 1500 seconds exceeds the role's max_ttl of 1200 seconds")
	e.ok(logical.CreateOperation, "role/maxonly", map[string]interface{}{"role_arn": e.readerARN, "max_ttl": "20m"})
	resp = e.ok(logical.ReadOperation, "creds/maxonly", nil)
	if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != 20*time.Minute {
		t.Errorf("default duration of a role with max_ttl 20m = %s, want 20m", got)
	}
	resp = e.ok(logical.UpdateOperation, "creds/plain", map[string]interface{}{"ttl": "20m"})
	if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != 20*time.Minute {
		t.Errorf("duration = %s, want 20m", got)
	}

	// A mount maximum below STS's 15 minutes cannot be honoured: refused.
	e2 := newTestEnv(t)
	e2.b.System().(*replicationStateCache).SystemView.(*logical.StaticSystemView).MaxLeaseTTLVal = 10 * time.Minute
	e2.configure(nil)
	e2.ok(logical.CreateOperation, "role/plain", map[string]interface{}{"role_arn": e2.readerARN})
	e2.badRequest(logical.ReadOperation, "creds/plain", nil, "ttl: the mount's max lease TTL of 600 seconds is below STS's minimum of 900 seconds")
}
