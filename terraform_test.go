package alicloud

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// The Terraform Vault provider (internal/vault/secrets/alicloud in
// hashicorp/terraform-provider-vault) manages this engine with
// vault_alicloud_secret_backend, vault_alicloud_secret_backend_role and the
// ephemeral vault_alicloud_access_credentials. These tests replay the
// request bodies it sends and read the responses as it does.

// tfRoleBody is what the provider's buildVaultRequestFromModel sends on every
// create and update of a role: all five fields, the unset ones as "", "[]",
// [] and 0 so that a change of type clears the other type's fields. inline is
// one policy document (the provider wraps it in an array) or "".
func tfRoleBody(t *testing.T, roleARN, inline string, remote []string, ttl, maxTTL int64) map[string]interface{} {
	t.Helper()
	body := map[string]interface{}{"role_arn": roleARN, "inline_policies": "[]", "remote_policies": []string{}, "ttl": ttl, "max_ttl": maxTTL}
	if inline != "" {
		body["inline_policies"] = "[" + inline + "]"
	}
	if remote != nil {
		body["remote_policies"] = remote
	}
	return vaultJSON(t, body)
}

// vaultJSON passes a request body through JSON the way Vault's HTTP layer
// decodes it (numbers as json.Number, lists as []interface{}).
func vaultJSON(t *testing.T, body map[string]interface{}) map[string]interface{} {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]interface{}
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// tfRoleState is what the provider's populateModelFromVaultResponse keeps of
// a role read: role_arn, the first inline document and remote_policies as
// "name:X,type:Y" pairs. It reads through JSON, as the provider does.
type tfRoleState struct {
	RoleARN, InlinePolicy, RemotePolicies string
}

func tfReadRole(t *testing.T, e *testEnv, path string) tfRoleState {
	t.Helper()
	resp := e.ok(logical.ReadOperation, path, nil)
	if resp == nil {
		t.Fatalf("read %s: no role", path)
	}
	raw, err := json.Marshal(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]interface{}
	if err := json.Unmarshal(raw, &data); err != nil {
		t.Fatal(err)
	}
	var st tfRoleState
	if v, ok := data["role_arn"].(string); ok {
		st.RoleARN = v
	} else {
		t.Errorf("read %s: role_arn is %T, the provider asserts a string", path, data["role_arn"])
	}
	if list, ok := data["inline_policies"].([]interface{}); ok && len(list) > 0 {
		doc, ok := list[0].(map[string]interface{})["policy_document"].(map[string]interface{})
		if !ok {
			t.Fatalf("read %s: inline_policies[0] has no policy_document object: %v", path, list[0])
		}
		b, _ := json.Marshal(doc)
		st.InlinePolicy = string(b)
	}
	if list, ok := data["remote_policies"].([]interface{}); ok {
		var pairs []string
		for _, p := range list {
			m := p.(map[string]interface{})
			pairs = append(pairs, "name:"+m["name"].(string)+",type:"+m["type"].(string))
		}
		st.RemotePolicies = strings.Join(pairs, ",")
	}
	return st
}

func TestTerraform_BackendAndRoleBodies(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)

	// vault_alicloud_secret_backend: create and update send access_key and
	// secret_key only; the read keeps access_key.
	e.ok(logical.UpdateOperation, "config", vaultJSON(t, map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret}))
	if got := e.ok(logical.ReadOperation, "config", nil).Data["access_key"]; got != e.engineKeyID {
		t.Errorf("config read access_key = %v, want %s", got, e.engineKeyID)
	}

	// An STS role: create, then update the TTLs.
	e.ok(logical.CreateOperation, "role/sts", tfRoleBody(t, e.readerARN, "", nil, 0, 0))
	if st := tfReadRole(t, e, "role/sts"); st != (tfRoleState{RoleARN: e.readerARN}) {
		t.Errorf("sts role as the provider reads it: %+v", st)
	}
	e.ok(logical.UpdateOperation, "role/sts", tfRoleBody(t, e.readerARN, "", nil, 1800, 3600))
	if read := e.ok(logical.ReadOperation, "role/sts", nil).Data; read["ttl"] != int64(1800) || read["max_ttl"] != int64(3600) {
		t.Errorf("sts role ttl/max_ttl after update = %v/%v, want 1800/3600", read["ttl"], read["max_ttl"])
	}
	stsLease := e.ok(logical.ReadOperation, "creds/sts", nil)
	e.assertWorks(e.credsClient(stsLease), "acs:ram::"+e.acct+":assumed-role/reader/")

	// A RAM-user role with one inline document and one remote policy.
	remote := []string{"name:AliyunECSReadOnlyAccess,type:System"}
	e.ok(logical.CreateOperation, "role/ram", tfRoleBody(t, "", ecsDescribeDoc, remote, 600, 1200))
	st := tfReadRole(t, e, "role/ram")
	if st.RoleARN != "" || !sameJSON(st.InlinePolicy, ecsDescribeDoc) || st.RemotePolicies != remote[0] {
		t.Errorf("ram role as the provider reads it: %+v", st)
	}
	ramLease := e.ok(logical.ReadOperation, "creds/ram", nil)
	if ramLease.Data["security_token"] != nil {
		t.Errorf("ram_user creds carry a security token")
	}
	e.assertWorks(e.credsClient(ramLease), "acs:ram::"+e.acct+":user/")
	managed := e.ok(logical.ReadOperation, "role/ram", nil).Data["inline_policy_names"].([]string)
	if len(managed) != 1 {
		t.Fatalf("inline_policy_names = %v, want one managed policy", managed)
	}

	// Switch the STS role to a RAM-user role, as a changed resource does.
	e.ok(logical.UpdateOperation, "role/sts", tfRoleBody(t, "", ecsAllDoc, nil, 0, 0))
	if read := e.ok(logical.ReadOperation, "role/sts", nil).Data; read["credential_type"] != roleTypeRAMUser || read["role_arn"] != "" {
		t.Errorf("after the switch to ram_user: %v", read)
	}
	e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/sts", nil)), "acs:ram::"+e.acct+":user/")
	// The STS lease issued before the switch still renews (no extension)
	// and revokes.
	if _, err := e.renew(stsLease); err != nil {
		t.Errorf("renewing an STS lease after its role became ram_user: %v", err)
	}
	if err := e.revoke(stsLease); err != nil {
		t.Errorf("revoking an STS lease after its role became ram_user: %v", err)
	}

	// Switch the RAM-user role to STS while a lease of it is out: its
	// managed policy is retired once that lease's user is gone.
	resp := e.ok(logical.UpdateOperation, "role/ram", tfRoleBody(t, e.readerARN, "", nil, 0, 0))
	if resp == nil || !strings.Contains(strings.Join(resp.Warnings, "\n"), managed[0]) {
		t.Errorf("switch to assumed_role: warnings %v, want one naming the policy %s still in use", resp, managed[0])
	}
	read := e.ok(logical.ReadOperation, "role/ram", nil).Data
	if read["credential_type"] != roleTypeAssumedRole || len(read["inline_policies"].([]*inlinePolicy)) != 0 ||
		len(read["remote_policies"].([]*remotePolicy)) != 0 || len(read["inline_policy_names"].([]string)) != 0 {
		t.Errorf("after the switch to assumed_role: %v", read)
	}
	e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/ram", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")
	if _, err := e.renew(ramLease); err != nil {
		t.Errorf("renewing a ram_user lease after its role became assumed_role: %v", err)
	}
	if err := e.revoke(ramLease); err != nil {
		t.Fatalf("revoking a ram_user lease after its role became assumed_role: %v", err)
	}
	if p := e.policy(managed[0]); p != nil {
		t.Errorf("managed policy %s of the retired ram_user role is still in RAM after its last user was revoked", managed[0])
	}

	// Import reads the role; delete removes it.
	if st := tfReadRole(t, e, "role/ram"); st.RoleARN != e.readerARN {
		t.Errorf("import read: %+v", st)
	}
	e.ok(logical.DeleteOperation, "role/ram", nil)
	e.ok(logical.DeleteOperation, "role/sts", nil)
}

// TestTerraform_EphemeralCredentials reads creds the way the ephemeral
// vault_alicloud_access_credentials resource does: access_key, secret_key,
// security_token and expiration as strings.
func TestTerraform_EphemeralCredentials(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/sts", tfRoleBody(t, e.readerARN, "", nil, 0, 0))
	e.ok(logical.CreateOperation, "role/ram", tfRoleBody(t, "", ecsDescribeDoc, nil, 0, 0))
	for _, role := range []string{"sts", "ram"} {
		resp := e.ok(logical.ReadOperation, "creds/"+role, nil)
		raw, err := json.Marshal(resp.Data)
		if err != nil {
			t.Fatal(err)
		}
		var data map[string]interface{}
		if err := json.Unmarshal(raw, &data); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"access_key", "secret_key", "security_token", "expiration"} {
			if v, ok := data[k]; ok {
				if _, isString := v.(string); !isString {
					t.Errorf("creds/%s: %s is %T, the provider decodes a string", role, k, v)
				}
			} else if k == "access_key" || k == "secret_key" || role == "sts" {
				t.Errorf("creds/%s: no %s", role, k)
			}
		}
		if err := e.revoke(resp); err != nil {
			t.Errorf("revoke creds/%s: %v", role, err)
		}
	}
}

// TestRole_TypeSwitchExplicit changes the type with credential_type: the
// other type's fields not given are dropped, with a warning naming them.
func TestRole_TypeSwitchExplicit(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/x", map[string]interface{}{"role_arn": e.readerARN, "external_id": e.externalID, "policy": ecsDescribeDoc})
	resp := e.ok(logical.UpdateOperation, "role/x", map[string]interface{}{"credential_type": "ram_user", "ram_groups": "developers"})
	if resp == nil || !strings.Contains(strings.Join(resp.Warnings, "\n"), "role_arn, policy, external_id") {
		t.Errorf("switch warnings = %v, want the dropped fields named", resp)
	}
	read := e.ok(logical.ReadOperation, "role/x", nil).Data
	if read["credential_type"] != roleTypeRAMUser || read["role_arn"] != "" || read["external_id"] != "" || read["policy"] != "" {
		t.Errorf("after an explicit switch: %v", read)
	}
	// A field of the old type given with a value is still refused.
	e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"credential_type": "assumed_role", "role_arn": e.readerARN, "ram_groups": "developers"},
		`ram_groups: does not apply to credential_type "assumed_role"`)
	// Switching back needs the new type's required field.
	e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"credential_type": "assumed_role"}, `role_arn: required for credential_type "assumed_role"`)
	e.ok(logical.UpdateOperation, "role/x", map[string]interface{}{"credential_type": "assumed_role", "role_arn": e.readerARN})
	read = e.ok(logical.ReadOperation, "role/x", nil).Data
	if read["credential_type"] != roleTypeAssumedRole || len(read["ram_groups"].([]string)) != 0 {
		t.Errorf("after switching back: %v", read)
	}
}

// TestRole_TypeFieldsAccessible keeps typeFieldAccess in step with
// roleFieldsByType: a switch must be able to clear every field it drops.
func TestRole_TypeFieldsAccessible(t *testing.T) {
	for typ, fields := range roleFieldsByType {
		for _, f := range fields {
			a, ok := typeFieldAccess[f]
			if !ok {
				t.Errorf("%s field %s has no entry in typeFieldAccess", typ, f)
				continue
			}
			r := &roleEntry{RoleARN: "x", Policy: "x", ExternalID: "x", RoleSessionNameTemplate: "x", AllowCallerSessionName: true,
				InlinePolicies: []*inlinePolicy{{}}, RemotePolicies: []*remotePolicy{{}}, RAMGroups: []string{"g"}, UsernameTemplate: "x",
				SourceIdentityTemplate: "x", AllowCallerSourceIdentity: true}
			if !a.set(r) {
				t.Errorf("%s: set() is false on a role that has it", f)
			}
			a.clear(r)
			if a.set(r) {
				t.Errorf("%s: set() is still true after clear()", f)
			}
		}
	}
}
