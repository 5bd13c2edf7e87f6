package alicloud

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/hashicorp/vault/sdk/logical"
)

// HashiCorp's plugin takes a config with empty access_key and secret_key
// and then uses the Alibaba SDK's chain: the ALICLOUD_* environment
// variables, then the ECS instance role (clients/creds.go there). Such a
// stored config must keep working after the swap, for new issues and for
// the revocation of old leases.

// storeHashiCorpKeylessConfig writes the config as HashiCorp's plugin
// stores it after `vault write alicloud/config access_key= secret_key=`.
func storeHashiCorpKeylessConfig(t *testing.T, e *testEnv) {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"access_key": "", "secret_key": ""})
	if err := e.s.Put(e.ctx, &logical.StorageEntry{Key: "config", Value: raw}); err != nil {
		t.Fatal(err)
	}
}

func withEnv(vars map[string]string) envOption {
	return func(env *backendEnv) { env.Getenv = func(k string) string { return vars[k] } }
}

func TestLegacyChain_Environment(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars func(e *testEnv) map[string]string
	}{
		{"ALICLOUD_ names", func(e *testEnv) map[string]string {
			return map[string]string{"ALICLOUD_ACCESS_KEY": e.engineKeyID, "ALICLOUD_SECRET_KEY": e.engineSecret}
		}},
		{"ALIBABA_CLOUD_ names", func(e *testEnv) map[string]string {
			return map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": e.engineKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": e.engineSecret}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{}
			e := newTestEnv(t, withEnv(vars))
			for k, v := range tc.vars(e) {
				vars[k] = v
			}
			// A lease issued while the config had keys, then the keys
			// removed as HashiCorp's plugin allowed.
			e.configure(nil)
			e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"}})
			e.ok(logical.CreateOperation, "role/sts", map[string]interface{}{"role_arn": e.readerARN})
			old := e.ok(logical.ReadOperation, "creds/ram", nil)
			storeHashiCorpKeylessConfig(t, e)
			e.b = e.newBackend()
			// The swapped plugin gets endpoints (the old one had none); the
			// identity stays the environment's.
			resp := e.ok(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url, "ram_endpoint": e.url})
			if resp == nil || resp.Data["account_id"] != e.acct {
				t.Fatalf("config write on a keyless config: %v", resp)
			}
			read := e.ok(logical.ReadOperation, "config", nil).Data
			if read["credential_type"] != credTypeLegacyChain {
				t.Errorf("credential_type of a keyless HashiCorp config = %v, want %s", read["credential_type"], credTypeLegacyChain)
			}
			id := e.ok(logical.ReadOperation, "config/identity", nil).Data
			if !strings.HasSuffix(id["arn"].(string), ":user/"+engineUser) {
				t.Errorf("identity of the keyless config = %v, want the engine user from the environment", id)
			}
			e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/sts", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")
			fresh := e.ok(logical.ReadOperation, "creds/ram", nil)
			for _, l := range []*logical.Response{old, fresh} {
				if err := e.revoke(l); err != nil {
					t.Fatalf("revoke under a keyless config: %v", err)
				}
			}
			if users := e.userNames(); len(users) != 0 {
				t.Errorf("users left after revoking = %v, want none", users)
			}
		})
	}
}

func TestLegacyChain_InstanceRole(t *testing.T) {
	e := newTestEnv(t)
	e.emu.SetECS(emulator.ECSSettings{RoleName: e.ecsRole})
	storeHashiCorpKeylessConfig(t, e)
	// The role name is discovered from the metadata service, as the SDK's
	// instance metadata provider does.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url, "ram_endpoint": e.url, "metadata_endpoint": e.url})
	id := e.ok(logical.ReadOperation, "config/identity", nil).Data
	if !strings.Contains(id["arn"].(string), ":assumed-role/"+e.ecsRole+"/") {
		t.Errorf("identity = %v, want the instance role %s", id, e.ecsRole)
	}
	e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"}})
	lease := e.ok(logical.ReadOperation, "creds/ram", nil)
	e.assertWorks(e.credsClient(lease), "acs:ram::"+e.acct+":user/")
	if err := e.revoke(lease); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyChain_OperatorSetting: the chain is an ambient identity, which
// the operator must allow; until then issues and revocations fail with a
// message that names the setting, and the lease stays.
func TestLegacyChain_OperatorSetting(t *testing.T) {
	vars := map[string]string{}
	e := newTestEnv(t, withEnv(vars))
	vars["ALICLOUD_ACCESS_KEY"], vars["ALICLOUD_SECRET_KEY"] = e.engineKeyID, e.engineSecret
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"}})
	lease := e.ok(logical.ReadOperation, "creds/ram", nil)

	raw, _ := json.Marshal(map[string]string{"access_key": "", "secret_key": "", "sts_endpoint": e.url, "ram_endpoint": e.url})
	if err := e.s.Put(e.ctx, &logical.StorageEntry{Key: "config", Value: raw}); err != nil {
		t.Fatal(err)
	}
	e.env.Settings.AllowAmbientIdentity = false
	e.b = e.newBackend()
	e.fails(logical.ReadOperation, "creds/ram", nil, envAllowAmbientIdentity)
	if err := e.revoke(lease); err == nil || !strings.Contains(err.Error(), envAllowAmbientIdentity) {
		t.Errorf("revoke without the setting: %v, want an error naming %s", err, envAllowAmbientIdentity)
	}
	if len(e.userNames()) != 1 {
		t.Errorf("users = %v, want the lease's", e.userNames())
	}
	e.env.Settings.AllowAmbientIdentity = true
	e.b = e.newBackend()
	if err := e.revoke(lease); err != nil {
		t.Fatalf("revoke once allowed: %v", err)
	}
}

// TestLegacyChain_Write: HashiCorp's way of asking for the chain, a write
// with both keys empty, still does; a config with one key only is refused.
func TestLegacyChain_Write(t *testing.T) {
	vars := map[string]string{}
	e := newTestEnv(t, withEnv(vars))
	vars["ALICLOUD_ACCESS_KEY"], vars["ALICLOUD_SECRET_KEY"] = e.engineKeyID, e.engineSecret
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"access_key": "", "secret_key": "", "sts_endpoint": e.url, "ram_endpoint": e.url})
	if got := e.ok(logical.ReadOperation, "config", nil).Data["credential_type"]; got != credTypeLegacyChain {
		t.Errorf("credential_type = %v, want %s", got, credTypeLegacyChain)
	}
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "access_key", "access_key": e.engineKeyID, "secret_key": ""}, "secret_key: required")
}
