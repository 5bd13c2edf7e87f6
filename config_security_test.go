package alicloud

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// withTokenDirs sets the token directories of the backend under test.
func withTokenDirs(dirs ...string) envOption {
	return func(env *backendEnv) { env.Settings.TokenDirs = dirs }
}

// TestConfig_TokenFileConfined: oidc_token_file names a file in the token
// directories, symlinks resolved, and nothing else: a config writer cannot
// make the engine send another readable file (the process environment,
// Vault's configuration, a TLS key) to STS as a token.
func TestConfig_TokenFileConfined(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "rrsa-tokens")
	outside := t.TempDir()
	e := newTestEnv(t, withTokenDirs(tokens))
	tok, err := e.emu.MintOIDCToken(oidcProvider, oidcSubject, "", 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(tok)
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	// A valid token outside the directories: even a real token is refused there.
	write(filepath.Join(outside, "token"), tok)
	write(filepath.Join(tokens, "token"), tok)
	link(filepath.Join(outside, "token"), filepath.Join(tokens, "link-out"))
	link(outside, filepath.Join(tokens, "dir-out"))

	cfg := func(file string) map[string]interface{} {
		return map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN,
			"oidc_token_file": file, "sts_endpoint": e.url, "ram_endpoint": e.url}
	}
	notIn := " is not in a directory this plugin may read tokens from (ALICLOUD_PLUGIN_TOKEN_DIRS allows " + tokens + ", symlinks resolved)"
	for _, tc := range []struct{ name, file, want string }{
		{"process environment", "/proc/self/environ", "oidc_token_file: /proc/self/environ" + notIn},
		{"file outside", filepath.Join(outside, "token"), "oidc_token_file: " + filepath.Join(outside, "token") + notIn},
		{"dot-dot", tokens + "/../" + filepath.Base(outside) + "/token", "oidc_token_file: must be a clean path"},
		{"symlink out", filepath.Join(tokens, "link-out"), "oidc_token_file: " + filepath.Join(tokens, "link-out") + notIn},
		{"symlinked directory out", filepath.Join(tokens, "dir-out", "token"), "oidc_token_file: " + filepath.Join(tokens, "dir-out", "token") + notIn},
		{"missing file outside says nothing of it", "/etc/no-such-file", "oidc_token_file: /etc/no-such-file" + notIn},
		{"the directory itself", tokens, "oidc_token_file: " + tokens + notIn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.badRequest(logical.UpdateOperation, "config", cfg(tc.file), tc.want)
		})
	}
	e.t = t
	if got := e.emu.Counters()["sts:AssumeRoleWithOIDC"]; got != 0 {
		t.Fatalf("refused token files were sent to STS %d times", got)
	}

	// The default chain's token file obeys the same rule.
	e.b.env.Getenv = func(k string) string {
		return map[string]string{"ALIBABA_CLOUD_ROLE_ARN": e.oidcRoleARN, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": e.oidcProvARN,
			"ALIBABA_CLOUD_OIDC_TOKEN_FILE": "/proc/self/environ"}[k]
	}
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "default", "sts_endpoint": e.url, "ram_endpoint": e.url},
		"ALIBABA_CLOUD_OIDC_TOKEN_FILE: /proc/self/environ"+notIn)
	e.b.env.Getenv = func(string) string { return "" }

	// A file inside is accepted, and used.
	e.ok(logical.UpdateOperation, "config", cfg(filepath.Join(tokens, "token")))
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.ReadOperation, "creds/reader", nil)
	if got := e.emu.Counters()["sts:AssumeRoleWithOIDC"]; got != 1 {
		t.Fatalf("AssumeRoleWithOIDC calls = %d, want 1", got)
	}

	// The file is replaced by a symlink out of the directory after the
	// write: the next refresh of the engine's session refuses it.
	if err := os.Remove(filepath.Join(tokens, "token")); err != nil {
		t.Fatal(err)
	}
	link(filepath.Join(outside, "token"), filepath.Join(tokens, "token"))
	e.clock.Advance(2 * time.Hour)
	e.fails(logical.ReadOperation, "creds/reader", nil, "oidc_token_file: "+filepath.Join(tokens, "token")+notIn)
	if got := e.emu.Counters()["sts:AssumeRoleWithOIDC"]; got != 1 {
		t.Fatalf("AssumeRoleWithOIDC calls after the swap = %d, want still 1", got)
	}
}

// TestConfig_RebindingNeedsSecrets: a write that changes where the stored
// secrets go, or what they are used for, must give them again; otherwise a
// writer who cannot read them could send them (or the sessions and rotated
// keys they lead to) to a host of their choosing.
func TestConfig_RebindingNeedsSecrets(t *testing.T) {
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer evil.Close()

	e := newTestEnv(t)
	e.configure(nil)
	for _, tc := range []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"sts_endpoint", map[string]interface{}{"sts_endpoint": evil.URL}, "secret_key: required when sts_endpoint changes"},
		{"ram_endpoint", map[string]interface{}{"ram_endpoint": evil.URL}, "secret_key: required when ram_endpoint changes"},
		{"credential_type", map[string]interface{}{"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "role_arn": e.engineRoleARN, "sts_endpoint": evil.URL},
			"secret_key: required when access_key changes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.badRequest(logical.UpdateOperation, "config", tc.data, tc.want)
		})
	}
	e.t = t
	if hits.Load() != 0 {
		t.Fatalf("refused writes sent %d requests to the new endpoint", hits.Load())
	}
	// No change, or a change that moves nothing (region stays on
	// Alibaba's own endpoints), needs no secret.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url, "ram_endpoint": e.url, "region": "cn-beijing"})
	// With the secret, the change is made.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"sts_endpoint": e.url + "/", "secret_key": e.engineSecret})
	if got := e.ok(logical.ReadOperation, "config", nil).Data["sts_endpoint"]; got != e.url+"/" {
		t.Errorf("sts_endpoint = %v, want %s/", got, e.url)
	}

	// A ram_role_arn config: changing the role needs the secret.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret, "role_arn": e.engineRoleARN})
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"role_arn": e.wideARN}, "secret_key: required when role_arn changes")
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"role_arn": e.wideARN, "secret_key": e.engineSecret})

	// An sts config: the security token is needed too.
	out, err := e.client(e.engineKeyID, e.engineSecret, "").AssumeRole(e.ctx, aliyun.AssumeRoleInput{RoleArn: e.engineRoleARN, RoleSessionName: "preissued", DurationSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(out.Credentials.AccessKeySecret, out.Credentials.SecurityToken)
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "sts", "access_key": out.Credentials.AccessKeyID,
		"secret_key": out.Credentials.AccessKeySecret, "security_token": out.Credentials.SecurityToken})
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"ram_endpoint": evil.URL, "secret_key": out.Credentials.AccessKeySecret},
		"security_token: required when ram_endpoint changes")
	if hits.Load() != 0 {
		t.Fatalf("refused writes sent %d requests to the new endpoint", hits.Load())
	}
}

// TestConfig_ReadHidesURIQueryAndSecrets: the read shows credentials_uri
// without its query values, and a config printed with any verb shows no
// secret.
func TestConfig_ReadHidesURIQueryAndSecrets(t *testing.T) {
	e := newTestEnv(t)
	const uriToken = "uri-token-0123456789"
	e.addSecret(uriToken)
	e.emu.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: e.ecsRole})
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "credentials_uri",
		"credentials_uri": e.url + "/credentials-uri?token=" + uriToken + "&role=x", "sts_endpoint": e.url, "ram_endpoint": e.url})
	read := e.ok(logical.ReadOperation, "config", nil).Data
	if want := e.url + "/credentials-uri?role=REDACTED&token=REDACTED"; read["credentials_uri"] != want {
		t.Errorf("credentials_uri reads as %v, want %s", read["credentials_uri"], want)
	}
	for k, v := range read {
		if strings.Contains(fmt.Sprint(v), uriToken) {
			t.Errorf("read field %s shows the URI's token", k)
		}
	}

	cfg := configEntry{AccessKey: "LTAIkey", SecretKey: "secret-0123456789", SecurityToken: "token-0123456789", CredentialsURI: "http://h/c?t=" + uriToken}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []interface{}{cfg, &cfg} {
			out := fmt.Sprintf(verb, v)
			for _, secret := range []string{cfg.SecretKey, cfg.SecurityToken, uriToken} {
				if strings.Contains(out, secret) {
					t.Errorf("%s of %T shows a secret: %s", verb, v, out)
				}
			}
			if !strings.Contains(out, "secret_key:REDACTED") || !strings.Contains(out, "access_key:LTAIkey") {
				t.Errorf("%s of %T = %s, want the fields with secret_key:REDACTED", verb, v, out)
			}
		}
	}
}

// TestConfig_RAMEndpointChecked: a write that names a ram_endpoint checks it
// with a RAM read, so an endpoint that is not RAM is refused with a 400 when
// written rather than found at revocation time.
func TestConfig_RAMEndpointChecked(t *testing.T) {
	var hits atomic.Int64
	notRAM := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/json" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{}`))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html><body>404 Not Found</body></html>"))
	}))
	defer notRAM.Close()

	e := newTestEnv(t)
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret,
		"sts_endpoint": e.url, "ram_endpoint": notRAM.URL}, "ram_endpoint: "+notRAM.URL+"/ did not answer a RAM read (ListUsers) as Alibaba Cloud RAM does")
	e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret,
		"sts_endpoint": e.url, "ram_endpoint": notRAM.URL + "/json"}, "ram_endpoint: "+notRAM.URL+"/json answered a RAM read (ListUsers) without a RequestId")
	if hits.Load() != 2 {
		t.Errorf("the wrong endpoint saw %d requests, want 2 (one check each)", hits.Load())
	}
	if resp := e.ok(logical.ReadOperation, "config", nil); resp != nil {
		t.Fatalf("a refused write stored a config: %v", resp.Data)
	}

	// An identity that may not read RAM still passes: RAM answered, with a
	// refusal in RAM's own form.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret,
		"role_arn": e.readerARN, "sts_endpoint": e.url, "ram_endpoint": e.url})
	if got := e.emu.Counters()["ram:ListUsers"]; got != 1 {
		t.Errorf("ram:ListUsers calls = %d, want 1", got)
	}
	// A partial update that leaves ram_endpoint alone does not check again.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"region": "cn-hangzhou"})
	if got := e.emu.Counters()["ram:ListUsers"]; got != 1 {
		t.Errorf("ram:ListUsers calls after a region change = %d, want still 1", got)
	}
}

// TestConfigFields_CoverEntry: every stored field of configEntry has its
// descriptor, and every descriptor with a pointer points into the entry, so
// that schema, validation and read response cannot miss a field.
func TestConfigFields_CoverEntry(t *testing.T) {
	typ := reflect.TypeOf(configEntry{})
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if configFieldByName[name] == nil {
			t.Errorf("configEntry field %s (%s) has no descriptor in configFields", typ.Field(i).Name, name)
		}
	}
	if len(configFields) != typ.NumField() {
		t.Errorf("%d descriptors for %d configEntry fields", len(configFields), typ.NumField())
	}
	schemas := configFieldSchemas()
	read := configResponseData(&configEntry{})
	for _, f := range configFields {
		if schemas[f.name] == nil || schemas[f.name].Description == "" {
			t.Errorf("%s: no schema or no help", f.name)
		}
		key := f.name
		if f.secret {
			key += "_set"
		}
		if _, ok := read[key]; !ok {
			t.Errorf("%s: not in the read response (as %s)", f.name, key)
		}
		if f.secret {
			if _, ok := read[f.name]; ok {
				t.Errorf("%s: a secret field is in the read response", f.name)
			}
		}
	}
}
