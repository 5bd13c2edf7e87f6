package alicloud

import (
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestSourceIdentity: a role can give every session a SourceIdentity from a
// template (the Vault entity, for ActionTrail), and can let the caller of
// creds/ choose it; STS keeps it on the session.
func TestSourceIdentity(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/traced", map[string]interface{}{"role_arn": e.readerARN, "source_identity_template": "vault-{{ .EntityID }}"})
	read := e.ok(logical.ReadOperation, "role/traced", nil).Data
	if read["source_identity_template"] != "vault-{{ .EntityID }}" || read["allow_caller_source_identity"] != false {
		t.Errorf("role read: %v", read)
	}
	resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/traced", Storage: e.s,
		DisplayName: "token-alice", EntityID: "5a1c9e0b-3f2d-4c1a-9b8e-7d6f5e4c3b2a"})
	if err != nil || resp.IsError() {
		t.Fatalf("creds/traced: %v %v", resp, err)
	}
	e.addSecret(resp.Data["secret_key"].(string), resp.Data["security_token"].(string))
	if got := resp.Data["source_identity"]; got != "vault-5a1c9e0b-3f2d-4c1a-9b8e-7d6f5e4c3b2a" {
		t.Errorf("source_identity = %v, want the entity's", got)
	}
	e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":assumed-role/reader/")

	// The caller may choose it only where the role allows it.
	e.badRequest(logical.UpdateOperation, "creds/traced", map[string]interface{}{"source_identity": "alice"},
		`source_identity: role "traced" does not allow the caller to choose the source identity (allow_caller_source_identity)`)
	e.ok(logical.UpdateOperation, "role/traced", map[string]interface{}{"allow_caller_source_identity": true})
	resp = e.ok(logical.UpdateOperation, "creds/traced", map[string]interface{}{"source_identity": "alice@example.com"})
	if got := resp.Data["source_identity"]; got != "alice@example.com" {
		t.Errorf("source_identity = %v, want the caller's", got)
	}
	e.badRequest(logical.UpdateOperation, "creds/traced", map[string]interface{}{"source_identity": "acs:root"},
		"source_identity: must be 2-64 characters")
	e.badRequest(logical.UpdateOperation, "creds/traced", map[string]interface{}{"source_identity": "a b"},
		"source_identity: must be 2-64 characters")

	// No template, no caller value: no SourceIdentity.
	e.ok(logical.CreateOperation, "role/plain", map[string]interface{}{"role_arn": e.readerARN})
	if got, ok := e.ok(logical.ReadOperation, "creds/plain", nil).Data["source_identity"]; ok {
		t.Errorf("source_identity without a template = %v, want none", got)
	}
	// Bad templates fail at role write; RAM-user roles and creds refuse the fields.
	e.badRequest(logical.UpdateOperation, "role/plain", map[string]interface{}{"source_identity_template": "aliyun:{{ .RoleName }}"},
		"source_identity_template: produced")
	e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"ram_groups": "developers"})
	e.badRequest(logical.UpdateOperation, "role/ram", map[string]interface{}{"allow_caller_source_identity": true},
		`allow_caller_source_identity: does not apply to credential_type "ram_user"`)
	e.badRequest(logical.UpdateOperation, "creds/ram", map[string]interface{}{"source_identity": "alice"},
		`source_identity: does not apply to credential_type "ram_user"`)
}
