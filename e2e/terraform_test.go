package e2e

import (
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestTerraformProvider sends the HTTP requests the Terraform Vault provider's AliCloud resources send
// (internal/vault/secrets/alicloud in hashicorp/terraform-provider-vault): vault_alicloud_secret_backend writes
// access_key and secret_key; vault_alicloud_secret_backend_role writes all five role fields on every create and
// update, with "" / "[]" / [] / 0 for the unset ones, and changes a role's type by changing them; the ephemeral
// vault_alicloud_access_credentials reads creds/ and revokes the lease when it closes.
func TestTerraformProvider(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()
	v.Write(mount+"/config", map[string]any{"sts_endpoint": c.URL, "ram_endpoint": c.URL,
		"access_key": c.EngineKey.AccessKeyID, "secret_key": c.EngineKey.AccessKeySecret})
	v.Write(mount+"/config", map[string]any{"access_key": c.EngineKey.AccessKeyID, "secret_key": c.EngineKey.AccessKeySecret})
	if got := v.Read(mount + "/config").Data["access_key"]; got != c.EngineKey.AccessKeyID {
		t.Errorf("config access_key = %v", got)
	}

	const doc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}`
	role := func(arn, inline string, remote []string, ttl, maxTTL int) map[string]any {
		body := map[string]any{"role_arn": arn, "inline_policies": "[]", "remote_policies": []string{}, "ttl": ttl, "max_ttl": maxTTL}
		if inline != "" {
			body["inline_policies"] = "[" + inline + "]"
		}
		if remote != nil {
			body["remote_policies"] = remote
		}
		return body
	}
	// ephemeral reads creds/ as the ephemeral resource does, checks the credentials work and revokes the lease.
	ephemeral := func(name, wantType string) {
		t.Helper()
		s := v.Read(mount + "/creds/" + name)
		creds := aliyun.Credentials{AccessKeyID: s.Data["access_key"].(string), AccessKeySecret: s.Data["secret_key"].(string)}
		if tok, ok := s.Data["security_token"].(string); ok {
			creds.SecurityToken = tok
		}
		if id, err := c.Identity(creds); err != nil || id.IdentityType != wantType {
			t.Errorf("creds/%s: identity %+v, error %v, want %s", name, id, err, wantType)
		}
		if err := v.Client.Sys().Revoke(s.LeaseID); err != nil {
			t.Errorf("revoking %s: %v", s.LeaseID, err)
		}
	}

	v.Write(mount+"/role/app", role(c.ReadonlyARN, "", nil, 0, 0))
	v.Write(mount+"/role/app", role(c.ReadonlyARN, "", nil, 1800, 3600))
	wantFields(t, "sts role", v.Read(mount+"/role/app").Data, map[string]any{"credential_type": "assumed_role", "ttl": 1800, "max_ttl": 3600})
	ephemeral("app", "AssumedRoleUser")

	// The resource changes type: role_arn cleared, a policy document given.
	v.Write(mount+"/role/app", role("", doc, []string{"name:ReadOnlyAccess,type:System"}, 0, 0))
	r := v.Read(mount + "/role/app").Data
	wantFields(t, "after the switch to ram_user", r, map[string]any{"credential_type": "ram_user", "role_arn": ""})
	if inline, _ := r["inline_policies"].([]any); len(inline) != 1 {
		t.Errorf("inline_policies = %v, want one document", r["inline_policies"])
	}
	ephemeral("app", "RAMUser")

	// And back.
	v.Write(mount+"/role/app", role(c.ReadonlyARN, "", nil, 0, 0))
	wantFields(t, "after the switch back", v.Read(mount+"/role/app").Data, map[string]any{"credential_type": "assumed_role"})
	ephemeral("app", "AssumedRoleUser")
	if _, err := v.Client.Logical().Delete(mount + "/role/app"); err != nil {
		t.Fatal(err)
	}
	if got := c.VaultUsers(); len(got) != 0 {
		t.Errorf("RAM users left: %v", got)
	}
}
