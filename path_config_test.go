package alicloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestConfig_WriteReadDelete(t *testing.T) {
	e := newTestEnv(t)

	if resp := e.ok(logical.ReadOperation, "config", nil); resp != nil {
		t.Fatalf("read before write = %v, want nothing", resp.Data)
	}
	exists := func() bool {
		_, ok, err := e.b.HandleExistenceCheck(e.ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "config", Storage: e.s})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if exists() {
		t.Fatal("existence check says the config exists before any write")
	}

	resp := e.configure(map[string]interface{}{"region": "cn-hangzhou", "max_retries": 2, "request_timeout": "20s", "username_template": "{{ .RoleName }}-{{ random 6 }}"})
	wantARN := "acs:ram::" + e.acct + ":user/" + engineUser
	if resp.Data["account_id"] != e.acct || resp.Data["identity_type"] != aliyun.IdentityRAMUser || resp.Data["arn"] != wantARN {
		t.Fatalf("write response = %v, want account %s, RAMUser, %s", resp.Data, e.acct, wantARN)
	}
	if !exists() {
		t.Fatal("existence check says the config does not exist after a write")
	}

	read := e.ok(logical.ReadOperation, "config", nil).Data
	want := map[string]interface{}{
		"credential_type": "access_key", "access_key": e.engineKeyID, "secret_key_set": true, "security_token_set": false,
		"region": "cn-hangzhou", "sts_endpoint": e.url, "ram_endpoint": e.url, "max_retries": 2, "request_timeout": int64(20),
		"username_template": "{{ .RoleName }}-{{ random 6 }}", "use_vpc_endpoint": false, "role_arn": "",
	}
	for k, v := range want {
		if read[k] != v {
			t.Errorf("read %s = %#v, want %#v", k, read[k], v)
		}
	}
	for _, k := range []string{"secret_key", "security_token"} {
		if _, ok := read[k]; ok {
			t.Errorf("read returns %s", k)
		}
	}
	for k, v := range read {
		if s, ok := v.(string); ok && s == e.engineSecret {
			t.Errorf("read field %s holds the secret", k)
		}
	}

	// The stored entry keeps HashiCorp's two fields.
	entry, err := e.s.Get(e.ctx, "config")
	if err != nil || entry == nil {
		t.Fatalf("config entry: %v %v", entry, err)
	}
	var raw map[string]interface{}
	if err := json.Unmarshal(entry.Value, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["access_key"] != e.engineKeyID || raw["secret_key"] != e.engineSecret || raw["region"] != "cn-hangzhou" {
		t.Errorf("stored config = %v", raw)
	}

	// max_retries -1 returns to the default.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"max_retries": -1})
	if got := e.ok(logical.ReadOperation, "config", nil).Data["max_retries"]; got != -1 {
		t.Errorf("max_retries after -1 = %v, want -1", got)
	}

	e.ok(logical.DeleteOperation, "config", nil)
	if resp := e.ok(logical.ReadOperation, "config", nil); resp != nil {
		t.Fatalf("read after delete = %v", resp.Data)
	}
	e.badRequest(logical.ReadOperation, "config/identity", nil, "write alicloud/config first")
	e.ok(logical.UpdateOperation, "role/r", map[string]interface{}{"role_arn": e.readerARN})
	e.fails(logical.ReadOperation, "creds/r", nil, "write alicloud/config first")
}

func TestConfig_PartialUpdate(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)

	// Fields left out keep their value; the identity is checked again.
	resp := e.ok(logical.UpdateOperation, "config", map[string]interface{}{"region": "cn-shanghai"})
	if resp.Data["identity_type"] != aliyun.IdentityRAMUser {
		t.Errorf("partial update response = %v", resp.Data)
	}
	read := e.ok(logical.ReadOperation, "config", nil).Data
	if read["access_key"] != e.engineKeyID || read["secret_key_set"] != true || read["region"] != "cn-shanghai" || read["sts_endpoint"] != e.url {
		t.Errorf("after partial update: %v", read)
	}

	// A new key pair replaces the old one.
	id2, secret2, err := e.emu.CreateAccessKey(engineUser)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(secret2)
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"access_key": id2, "secret_key": secret2})
	if got := e.ok(logical.ReadOperation, "config", nil).Data["access_key"]; got != id2 {
		t.Errorf("access_key = %v, want %s", got, id2)
	}

	// Changing the credential type drops the identity fields of the old one.
	e.emu.SetECS(emulator.ECSSettings{RoleName: e.ecsRole})
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "ecs_ram_role", "metadata_endpoint": e.url})
	read = e.ok(logical.ReadOperation, "config", nil).Data
	if read["credential_type"] != "ecs_ram_role" || read["access_key"] != "" || read["secret_key_set"] != false || read["region"] != "cn-shanghai" {
		t.Errorf("after switching to ecs_ram_role: %v", read)
	}
}

func TestConfig_Validation(t *testing.T) {
	e := newTestEnv(t)
	base := func(extra map[string]interface{}) map[string]interface{} {
		d := map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret, "sts_endpoint": e.url, "ram_endpoint": e.url}
		for k, v := range extra {
			d[k] = v
		}
		return d
	}
	long := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"` + strings.Repeat("a", 2100) + `"}]}`
	tests := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"unknown credential_type", base(map[string]interface{}{"credential_type": "magic"}), "credential_type: must be one of access_key, sts, ram_role_arn"},
		{"no identity at all", map[string]interface{}{"region": "cn-hangzhou"}, "credential_type: required unless access_key and secret_key are given"},
		{"secret without id", map[string]interface{}{"secret_key": e.engineSecret}, "access_key: required for credential_type \"access_key\""},
		{"id without secret", map[string]interface{}{"access_key": e.engineKeyID}, "secret_key: required when access_key changes"},
		{"field of another type", base(map[string]interface{}{"role_name": "x"}), "role_name: does not apply to credential_type \"access_key\""},
		{"sts without token", base(map[string]interface{}{"credential_type": "sts"}), "security_token: required for credential_type \"sts\""},
		{"ram_role_arn without role", base(map[string]interface{}{"credential_type": "ram_role_arn"}), "role_arn: required for credential_type \"ram_role_arn\""},
		{"bad role_arn", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": "arn:aws:iam::1:role/x"}), "role_arn: must look like acs:ram::<account>:role/<name>"},
		{"bad session name", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "role_session_name": "a b"}), "role_session_name: must be 2-64 characters"},
		{"short expiration", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "role_session_expiration": 60}), "role_session_expiration: must be between 900 and 43200 seconds"},
		{"policy not JSON", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "policy": "{"}), "policy: must be a JSON policy document"},
		{"policy without statement", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "policy": `{"Version":"1"}`}), `policy: must be a policy document with a "Statement" list`},
		{"policy too long", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "policy": long}), "more than the 2048 allowed"},
		{"bad external id", base(map[string]interface{}{"credential_type": "ram_role_arn", "role_arn": e.engineRoleARN, "external_id": "a b"}), "external_id: must be 2-1224 characters"},
		{"external id for oidc", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN, "oidc_token_file": "/t", "external_id": "abc"}, `external_id: does not apply to credential_type "oidc_role_arn"`},
		{"bad ecs role name", map[string]interface{}{"credential_type": "ecs_ram_role", "role_name": "a/b"}, "role_name: must be 1-64 characters"},
		{"oidc missing provider", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_token_file": "/t"}, `oidc_provider_arn: required for credential_type "oidc_role_arn"`},
		{"bad oidc provider arn", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": "acs:ram::1:role/x", "oidc_token_file": "/t"}, "oidc_provider_arn: must look like acs:ram::<account>:oidc-provider/<name>"},
		{"relative token file", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN, "oidc_token_file": "token"}, "oidc_token_file: must be an absolute path"},
		{"credentials uri not a URL", map[string]interface{}{"credential_type": "credentials_uri", "credentials_uri": "localhost:8080"}, "credentials_uri: must be an http:// or https:// URL"},
		{"credentials uri with user info", map[string]interface{}{"credential_type": "credentials_uri", "credentials_uri": "http://u:p@localhost/"}, "credentials_uri: must not carry user information"},
		{"metadata endpoint without scheme", map[string]interface{}{"credential_type": "ecs_ram_role", "metadata_endpoint": "100.100.100.200"}, "metadata_endpoint: must be an http:// or https:// URL"},
		{"bad profile", map[string]interface{}{"credential_type": "default", "profile": "a b"}, "profile: must be 1-64 characters"},
		{"bad region", base(map[string]interface{}{"region": "CN Hangzhou"}), "region: must be a region id"},
		{"bad sts endpoint", base(map[string]interface{}{"sts_endpoint": "ftp://x"}), "sts_endpoint: must be an http:// or https:// URL"},
		{"bad ram endpoint", base(map[string]interface{}{"ram_endpoint": "https://"}), "ram_endpoint: must name a host"},
		{"vpc without region", base(map[string]interface{}{"use_vpc_endpoint": true}), "use_vpc_endpoint: needs region"},
		{"too many retries", base(map[string]interface{}{"max_retries": 11}), "max_retries: must be between 0 and 10"},
		{"too long timeout", base(map[string]interface{}{"request_timeout": "301s"}), "request_timeout: must be between 1 and 300 seconds"},
		{"template parse error", base(map[string]interface{}{"username_template": "{{ .Nope "}), "username_template: unable to parse template"},
		{"template makes invalid names", base(map[string]interface{}{"username_template": "user name {{ .RoleName }}"}), "username_template: produced \"user name sample-role-name\", which is not a valid RAM user name"},
		{"wrong secret", base(map[string]interface{}{"secret_key": "not-the-secret-0123456789abcdef"}), "config: access_key, secret_key, sts_endpoint: the credentials could not be verified with GetCallerIdentity"},
		{"unknown key", base(map[string]interface{}{"access_key": "LTAIunknownunknown00", "secret_key": "x"}), "InvalidAccessKeyId"},
		{"oidc token file missing", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN, "oidc_token_file": filepath.Join(os.TempDir(), "nonexistent", "token"), "sts_endpoint": e.url}, "oidc_token_file: " + filepath.Join(os.TempDir(), "nonexistent", "token") + " does not exist"},
		{"default chain finds nothing", map[string]interface{}{"credential_type": "default", "sts_endpoint": e.url}, "could not be verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			before := e.s.puts.Load()
			e.badRequest(logical.UpdateOperation, "config", tc.data, tc.want)
			if e.s.puts.Load() != before {
				t.Error("a refused write stored something")
			}
		})
	}
	e.t = t
	if resp := e.ok(logical.ReadOperation, "config", nil); resp != nil {
		t.Fatalf("a config was stored by refused writes: %v", resp.Data)
	}
}

// TestConfig_CredentialTypes configures every credential type against the
// emulator, checks the identity it resolves to, and issues credentials with
// it, checking that the engine's identity is resolved once, not per issue.
func TestConfig_CredentialTypes(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the emulator and returns the config to write.
		setup        func(e *testEnv) map[string]interface{}
		identityType string
		arnPrefix    func(e *testEnv) string
		source       string
		// identityCounter counts the calls that resolve the engine's identity.
		identityCounter string
	}{
		{
			name: "access_key",
			setup: func(e *testEnv) map[string]interface{} {
				return map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret}
			},
			identityType: aliyun.IdentityRAMUser,
			arnPrefix:    func(e *testEnv) string { return "acs:ram::" + e.acct + ":user/" + engineUser },
			source:       "access_key",
		},
		{
			name: "sts",
			setup: func(e *testEnv) map[string]interface{} {
				out, err := e.client(e.engineKeyID, e.engineSecret, "").AssumeRole(e.ctx, aliyun.AssumeRoleInput{RoleArn: e.engineRoleARN, RoleSessionName: "preissued", DurationSeconds: 3600})
				if err != nil {
					e.t.Fatal(err)
				}
				e.addSecret(out.Credentials.AccessKeySecret, out.Credentials.SecurityToken)
				return map[string]interface{}{"credential_type": "sts", "access_key": out.Credentials.AccessKeyID, "secret_key": out.Credentials.AccessKeySecret, "security_token": out.Credentials.SecurityToken}
			},
			identityType: aliyun.IdentityAssumedRoleUser,
			arnPrefix:    func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/vault-engine-role/preissued" },
			source:       "sts",
		},
		{
			name: "ram_role_arn",
			setup: func(e *testEnv) map[string]interface{} {
				return map[string]interface{}{"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret,
					"role_arn": e.engineRoleARN, "role_session_name": "vault-engine", "role_session_expiration": 1800}
			},
			identityType:    aliyun.IdentityAssumedRoleUser,
			arnPrefix:       func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/vault-engine-role/vault-engine" },
			source:          "ram_role_arn/access_key",
			identityCounter: "sts:AssumeRole",
		},
		{
			name: "ecs_ram_role",
			setup: func(e *testEnv) map[string]interface{} {
				e.emu.SetECS(emulator.ECSSettings{RoleName: e.ecsRole, RequireToken: true})
				return map[string]interface{}{"credential_type": "ecs_ram_role", "role_name": e.ecsRole, "disable_imds_v1": true, "metadata_endpoint": e.url}
			},
			identityType:    aliyun.IdentityAssumedRoleUser,
			arnPrefix:       func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/" + e.ecsRole + "/" },
			source:          "ecs_ram_role",
			identityCounter: "ecs:GetCredentials",
		},
		{
			name: "ecs_ram_role discovered",
			setup: func(e *testEnv) map[string]interface{} {
				e.emu.SetECS(emulator.ECSSettings{RoleName: e.ecsRole})
				return map[string]interface{}{"credential_type": "ecs_ram_role", "metadata_endpoint": e.url}
			},
			identityType:    aliyun.IdentityAssumedRoleUser,
			arnPrefix:       func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/" + e.ecsRole + "/" },
			source:          "ecs_ram_role",
			identityCounter: "ecs:GetCredentials",
		},
		{
			name: "oidc_role_arn",
			setup: func(e *testEnv) map[string]interface{} {
				tok, err := e.emu.MintOIDCToken(oidcProvider, oidcSubject, "", time.Hour)
				if err != nil {
					e.t.Fatal(err)
				}
				e.addSecret(tok)
				path := filepath.Join(e.t.TempDir(), "token")
				if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
					e.t.Fatal(err)
				}
				return map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN,
					"oidc_token_file": path, "role_session_name": "vault-rrsa"}
			},
			identityType:    aliyun.IdentityAssumedRoleUser,
			arnPrefix:       func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/vault-rrsa/vault-rrsa" },
			source:          "oidc_role_arn",
			identityCounter: "sts:AssumeRoleWithOIDC",
		},
		{
			name: "credentials_uri",
			setup: func(e *testEnv) map[string]interface{} {
				e.emu.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: e.ecsRole})
				return map[string]interface{}{"credential_type": "credentials_uri", "credentials_uri": e.url + "/credentials-uri"}
			},
			identityType:    aliyun.IdentityAssumedRoleUser,
			arnPrefix:       func(e *testEnv) string { return "acs:ram::" + e.acct + ":assumed-role/" + e.ecsRole + "/" },
			source:          "credentials_uri",
			identityCounter: "credentialsuri:GetCredentials",
		},
		{
			name: "default from the environment",
			setup: func(e *testEnv) map[string]interface{} {
				vars := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": e.engineKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": e.engineSecret, "HOME": e.t.TempDir()}
				e.b.env.Getenv = func(k string) string { return vars[k] }
				return map[string]interface{}{"credential_type": "default"}
			},
			identityType: aliyun.IdentityRAMUser,
			arnPrefix:    func(e *testEnv) string { return "acs:ram::" + e.acct + ":user/" + engineUser },
			source:       "default/env",
		},
		{
			name: "default from a profile file",
			setup: func(e *testEnv) map[string]interface{} {
				home := e.t.TempDir()
				dir := filepath.Join(home, ".alibabacloud")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					e.t.Fatal(err)
				}
				ini := "[default]\ntype = access_key\naccess_key_id = wrong\naccess_key_secret = wrong\n\n[vault]\ntype = access_key\naccess_key_id = " +
					e.engineKeyID + "\naccess_key_secret = " + e.engineSecret + "\n"
				if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(ini), 0o600); err != nil {
					e.t.Fatal(err)
				}
				vars := map[string]string{"HOME": home}
				e.b.env.Getenv = func(k string) string { return vars[k] }
				return map[string]interface{}{"credential_type": "default", "profile": "vault"}
			},
			identityType: aliyun.IdentityRAMUser,
			arnPrefix:    func(e *testEnv) string { return "acs:ram::" + e.acct + ":user/" + engineUser },
			source:       "default/profile",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			data := tc.setup(e)
			data["sts_endpoint"] = e.url
			data["ram_endpoint"] = e.url
			resp := e.ok(logical.UpdateOperation, "config", data)
			if resp.Data["identity_type"] != tc.identityType || !strings.HasPrefix(resp.Data["arn"].(string), tc.arnPrefix(e)) || resp.Data["account_id"] != e.acct {
				t.Fatalf("write response = %v, want %s %s...", resp.Data, tc.identityType, tc.arnPrefix(e))
			}
			id := e.ok(logical.ReadOperation, "config/identity", nil).Data
			if id["arn"] != resp.Data["arn"] || !strings.HasPrefix(id["credential_source"].(string), tc.source) {
				t.Fatalf("config/identity = %v, want arn %v and source %s...", id, resp.Data["arn"], tc.source)
			}
			if ct := e.ok(logical.ReadOperation, "config", nil).Data["credential_type"]; ct != strings.Fields(tc.name)[0] {
				t.Errorf("config credential_type = %v", ct)
			}

			// The engine works with this identity, for both role types.
			e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
			e.ok(logical.UpdateOperation, "role/users", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"}})
			before := e.emu.Counters()
			const n = 5
			for i := 0; i < n; i++ {
				e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/reader", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")
			}
			user := e.ok(logical.ReadOperation, "creds/users", nil)
			e.assertWorks(e.credsClient(user), "acs:ram::"+e.acct+":user/")
			if err := e.revoke(user); err != nil {
				t.Fatal(err)
			}
			after := e.emu.Counters()
			if got := after["sts:AssumeRole"] - before["sts:AssumeRole"]; got != n {
				t.Errorf("%d issues made %d AssumeRole calls, want %d (no call for the engine's own identity)", n, got, n)
			}
			if tc.identityCounter != "" && tc.identityCounter != "sts:AssumeRole" {
				if got := after[tc.identityCounter] - before[tc.identityCounter]; got != 0 {
					t.Errorf("issuing credentials resolved the engine's identity %d more times (%s), want 0", got, tc.identityCounter)
				}
			}
			if len(e.userNames()) != 0 {
				t.Errorf("users left after revocation: %v", e.userNames())
			}
		})
	}
}

// TestConfig_EnvironmentDoesNotOverride checks that the environment counts
// only for credential_type "default".
func TestConfig_EnvironmentDoesNotOverride(t *testing.T) {
	e := newTestEnv(t)
	if err := e.emu.CreateUser("intruder"); err != nil {
		t.Fatal(err)
	}
	id, secret, err := e.emu.CreateAccessKey("intruder")
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(secret)
	vars := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID": id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
		"ALICLOUD_ACCESS_KEY": id, "ALICLOUD_SECRET_KEY": secret, "ALIBABA_CLOUD_ROLE_ARN": e.readerARN,
	}
	e.b.env.Getenv = func(k string) string { return vars[k] }

	resp := e.configure(nil)
	if want := "acs:ram::" + e.acct + ":user/" + engineUser; resp.Data["arn"] != want {
		t.Fatalf("with an access_key config the identity is %v, want %s", resp.Data["arn"], want)
	}
	resp = e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "default"})
	if want := "acs:ram::" + e.acct + ":user/intruder"; resp.Data["arn"] != want {
		t.Fatalf("with credential_type default the identity is %v, want %s", resp.Data["arn"], want)
	}
}

// TestConfig_ClientCachedAndInvalidated checks that the client is built once
// and rebuilt when another node changes the config (Invalidate).
func TestConfig_ClientCachedAndInvalidated(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	c1, err := e.b.getClient(e.ctx, e.s)
	if err != nil {
		t.Fatal(err)
	}
	e.ok(logical.ReadOperation, "creds/reader", nil)
	if c2, _ := e.b.getClient(e.ctx, e.s); c2 != c1 {
		t.Fatal("issuing credentials rebuilt the client")
	}

	// Another node writes a config with another user's key.
	if err := e.emu.CreateUser("other"); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.AttachPolicy("user", "other", "System", "AliyunSTSAssumeRoleAccess"); err != nil {
		t.Fatal(err)
	}
	id, secret, err := e.emu.CreateAccessKey("other")
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(secret)
	cfg, err := readConfig(e.ctx, e.s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccessKey, cfg.SecretKey = id, secret
	if err := writeConfig(e.ctx, e.s, cfg); err != nil {
		t.Fatal(err)
	}
	wantOld := "acs:ram::" + e.acct + ":user/" + engineUser
	if got := e.ok(logical.ReadOperation, "config/identity", nil).Data["arn"]; got != wantOld {
		t.Fatalf("before Invalidate the cached identity is %v, want %s", got, wantOld)
	}
	e.b.InvalidateKey(e.ctx, "role/reader")
	if c2, _ := e.b.getClient(e.ctx, e.s); c2 != c1 {
		t.Fatal("invalidating another key dropped the client")
	}
	e.b.InvalidateKey(e.ctx, "config")
	wantNew := "acs:ram::" + e.acct + ":user/other"
	if got := e.ok(logical.ReadOperation, "config/identity", nil).Data["arn"]; got != wantNew {
		t.Fatalf("after Invalidate the identity is %v, want %s", got, wantNew)
	}
	resp := e.ok(logical.ReadOperation, "creds/reader", nil)
	if resp.Data["arn"] == nil || !strings.Contains(resp.Data["arn"].(string), "role/reader/") {
		t.Fatalf("creds after Invalidate = %v", resp.Data)
	}
}

// TestConfig_RoleSessionExpirationAndCache checks that a ram_role_arn engine
// session is refreshed only near its expiry.
func TestConfig_EngineSessionRefreshedNearExpiry(t *testing.T) {
	e := newTestEnv(t)
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{
		"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret,
		"role_arn": e.engineRoleARN, "role_session_expiration": 900, "sts_endpoint": e.url, "ram_endpoint": e.url,
	})
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	engineSessions := func() int {
		n := 0
		for _, s := range e.emu.Snapshot().Sessions {
			if s.RoleName == "vault-engine-role" {
				n++
			}
		}
		return n
	}
	for i := 0; i < 3; i++ {
		e.ok(logical.ReadOperation, "creds/reader", nil)
	}
	if got := engineSessions(); got != 1 {
		t.Fatalf("engine sessions after 3 issues = %d, want 1", got)
	}
	// Past the session's lifetime, the next issue gets a new engine session.
	e.clock.Advance(16 * time.Minute)
	e.ok(logical.ReadOperation, "creds/reader", nil)
	if got := engineSessions(); got != 1 {
		t.Fatalf("live engine sessions after expiry = %d, want 1 (a fresh one)", got)
	}
	if got := e.emu.Counters()["sts:AssumeRole"]; got != 1+3+1+1 {
		t.Errorf("AssumeRole calls = %d, want 6 (engine, 3 issues, engine refresh, 1 issue)", got)
	}
}

// TestConfig_EngineSessionRefusedEarly: Alibaba refuses the engine's cached
// STS session while the engine still thinks it valid (here the Vault host's
// clock is 10 minutes behind the cloud's). The engine drops it, assumes its
// role again and the request succeeds, with one extra AssumeRole.
func TestConfig_EngineSessionRefusedEarly(t *testing.T) {
	e := newTestEnv(t)
	const skew = 10 * time.Minute
	e.env.Clock = func() time.Time { return e.clock.Now().Add(-skew) }
	e.b = e.newBackend()
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{
		"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret,
		"role_arn": e.engineRoleARN, "role_session_expiration": 3600, "sts_endpoint": e.url, "ram_endpoint": e.url,
	})
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.ReadOperation, "creds/reader", nil)
	e.emu.ResetCounters()

	// The cloud's clock passes the session's end; the engine's is 10 minutes
	// short of it, outside its refresh window.
	e.clock.Advance(time.Hour + time.Second)
	resp := e.ok(logical.ReadOperation, "creds/reader", nil)
	if !strings.Contains(resp.Data["arn"].(string), "role/reader/") {
		t.Fatalf("creds = %v", resp.Data)
	}
	// The refused AssumeRole, the engine's own AssumeRole, the resent one.
	if got := e.emu.Counters()["sts:AssumeRole"]; got != 3 {
		t.Errorf("AssumeRole calls = %d, want 3", got)
	}
	// The next issue uses the new session at once.
	e.emu.ResetCounters()
	e.ok(logical.ReadOperation, "creds/reader", nil)
	if got := e.emu.Counters()["sts:AssumeRole"]; got != 1 {
		t.Errorf("AssumeRole calls after the renewal = %d, want 1", got)
	}
}
