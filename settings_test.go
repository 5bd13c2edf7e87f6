package alicloud

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

func TestPluginSettings_WALRollbackMinAge(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", walRollbackMinAge, false},
		{"30s", 30 * time.Second, false},
		{" 2m ", 2 * time.Minute, false},
		{"500ms", 0, true},
		{"-1m", 0, true},
		{"ten minutes", 0, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			s, err := loadPluginSettings(func(k string) string {
				if k == envWALRollbackMinAge {
					return tc.value
				}
				return ""
			})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), envWALRollbackMinAge) {
					t.Fatalf("err = %v, want an error naming %s", err, envWALRollbackMinAge)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.WALRollbackMinAge != tc.want {
				t.Errorf("WALRollbackMinAge = %s, want %s", s.WALRollbackMinAge, tc.want)
			}
			b := newBackend(backendEnv{Settings: s})
			if b.WALRollbackMinAge != tc.want {
				t.Errorf("backend WALRollbackMinAge = %s, want %s", b.WALRollbackMinAge, tc.want)
			}
		})
	}
}

func TestPluginSettings_Parse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, s pluginSettings)
		wantErr string
	}{
		{name: "defaults", env: nil, check: func(t *testing.T, s pluginSettings) {
			if got := patternsText(s.allowedEndpoints()); got != "https://*.aliyuncs.com" {
				t.Errorf("allowed endpoints = %s, want https://*.aliyuncs.com", got)
			}
			if got := strings.Join(s.tokenDirs(), ","); got != "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens" {
				t.Errorf("token dirs = %s, want ACK's RRSA directory", got)
			}
			if s.AllowAmbientIdentity {
				t.Error("ambient identities allowed by default")
			}
		}},
		{name: "ambient adds the metadata service", env: map[string]string{envAllowAmbientIdentity: "true"}, check: func(t *testing.T, s pluginSettings) {
			if got := patternsText(s.allowedEndpoints()); got != "https://*.aliyuncs.com,http://100.100.100.200" {
				t.Errorf("allowed endpoints = %s", got)
			}
		}},
		{name: "explicit list", env: map[string]string{envAllowedEndpoints: " http://127.0.0.1:* , https://gw.example.internal:8443 ", envTokenDirs: "/run/tokens/,/var/tokens"},
			check: func(t *testing.T, s pluginSettings) {
				if got := patternsText(s.allowedEndpoints()); got != "http://127.0.0.1:*,https://gw.example.internal:8443" {
					t.Errorf("allowed endpoints = %s", got)
				}
				if got := strings.Join(s.tokenDirs(), ","); got != "/run/tokens,/var/tokens" {
					t.Errorf("token dirs = %s", got)
				}
			}},
		{name: "explicit list and ambient", env: map[string]string{envAllowedEndpoints: "http://127.0.0.1:*", envAllowAmbientIdentity: "1"}, check: func(t *testing.T, s pluginSettings) {
			if got := patternsText(s.allowedEndpoints()); got != "http://127.0.0.1:*,http://100.100.100.200" {
				t.Errorf("allowed endpoints = %s", got)
			}
			if got := patternsText(s.AllowedEndpoints); got != "http://127.0.0.1:*" {
				t.Errorf("allowedEndpoints changed the operator's list: %s", got)
			}
		}},
		{name: "ambient yes", env: map[string]string{envAllowAmbientIdentity: "yes"}, wantErr: envAllowAmbientIdentity + ": must be true or false"},
		{name: "endpoint scheme", env: map[string]string{envAllowedEndpoints: "ftp://x"}, wantErr: envAllowedEndpoints},
		{name: "endpoint path", env: map[string]string{envAllowedEndpoints: "https://x.example/sts"}, wantErr: envAllowedEndpoints + `: "https://x.example/sts": must be scheme://host[:port]`},
		{name: "endpoint port", env: map[string]string{envAllowedEndpoints: "https://x.example:99999"}, wantErr: envAllowedEndpoints},
		{name: "endpoint wildcard host", env: map[string]string{envAllowedEndpoints: "https://*"}, wantErr: envAllowedEndpoints},
		{name: "endpoint inner wildcard", env: map[string]string{envAllowedEndpoints: "https://sts.*.aliyuncs.com"}, wantErr: envAllowedEndpoints},
		{name: "endpoints empty", env: map[string]string{envAllowedEndpoints: " , "}, wantErr: envAllowedEndpoints},
		{name: "token dir relative", env: map[string]string{envTokenDirs: "tokens"}, wantErr: envTokenDirs},
		{name: "token dir dotdot", env: map[string]string{envTokenDirs: "/var/run/../../etc"}, wantErr: envTokenDirs},
		{name: "token dir root", env: map[string]string{envTokenDirs: "/"}, wantErr: envTokenDirs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadPluginSettings(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestEndpointPattern_Matches(t *testing.T) {
	for _, tc := range []struct {
		pattern, url string
		want         bool
	}{
		{"https://*.aliyuncs.com", "https://sts.aliyuncs.com", true},
		{"https://*.aliyuncs.com", "https://sts-vpc.cn-shanghai.aliyuncs.com/", true},
		{"https://*.aliyuncs.com", "https://STS.AliyunCS.com:443", true},
		{"https://*.aliyuncs.com", "http://sts.aliyuncs.com", false},
		{"https://*.aliyuncs.com", "https://sts.aliyuncs.com:8443", false},
		{"https://*.aliyuncs.com", "https://aliyuncs.com", false},
		{"https://*.aliyuncs.com", "https://evilaliyuncs.com", false},
		{"https://*.aliyuncs.com", "https://sts.aliyuncs.com.evil.example", false},
		{"http://127.0.0.1:*", "http://127.0.0.1:8100", true},
		{"http://127.0.0.1:*", "http://127.0.0.1", true},
		{"http://127.0.0.1:*", "https://127.0.0.1:8100", false},
		{"http://127.0.0.1:*", "http://127.0.0.2:8100", false},
		{"http://127.0.0.1:*", "http://localhost:8100", false},
		{"http://100.100.100.200", "http://100.100.100.200/", true},
		{"http://100.100.100.200", "http://100.100.100.200:8080", false},
		{"http://[::1]:8100", "http://[::1]:8100/", true},
		{"*", "http://169.254.169.254/latest", true},
	} {
		t.Run(tc.pattern+" "+tc.url, func(t *testing.T) {
			p, err := parseEndpointPattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.matches(u); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPluginSettings_DefaultsRefuse checks a backend with no operator
// setting: only Alibaba's endpoints over https, no ambient identity, token
// files only in ACK's RRSA directory. Every refusal is made before any
// request leaves the engine.
func TestPluginSettings_DefaultsRefuse(t *testing.T) {
	e := newTestEnv(t, func(env *backendEnv) { env.Settings = defaultPluginSettings() })
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("not-a-real-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.url, "http://")
	for _, tc := range []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"emulator as sts_endpoint", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret, "sts_endpoint": e.url},
			"sts_endpoint: http://" + host + " is not an allowed endpoint (ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS allows https://*.aliyuncs.com); an operator allows more by registering the plugin with the environment variable ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS="},
		{"emulator as ram_endpoint", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret, "ram_endpoint": e.url},
			"ram_endpoint: http://" + host + " is not an allowed endpoint"},
		{"plain http to alibaba", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret, "sts_endpoint": "http://sts.aliyuncs.com"},
			"sts_endpoint: http://sts.aliyuncs.com is not an allowed endpoint"},
		{"credentials uri", map[string]interface{}{"credential_type": "credentials_uri", "credentials_uri": e.url + "/credentials-uri?token=uri-token-4711"},
			"credentials_uri: http://" + host + " is not an allowed endpoint"},
		{"function under aliyuncs.com", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret, "sts_endpoint": "https://1234567890123456.cn-hangzhou.fc.aliyuncs.com/2016-08-15/proxy/svc/fn/"},
			"sts_endpoint: https://1234567890123456.cn-hangzhou.fc.aliyuncs.com/...: a path is allowed only on an endpoint whose host ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS names"},
		{"ecs role", map[string]interface{}{"credential_type": "ecs_ram_role"},
			`credential_type: "ecs_ram_role" uses an ambient identity (the ECS instance's RAM role), which this plugin does not allow; an operator allows it by registering the plugin with the environment variable ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true`},
		{"default chain", map[string]interface{}{"credential_type": "default"},
			`credential_type: "default" uses an ambient identity`},
		{"token file outside the RRSA directory", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN, "oidc_provider_arn": e.oidcProvARN, "oidc_token_file": token},
			"oidc_token_file: " + token + " is not in a directory this plugin may read tokens from (ALICLOUD_PLUGIN_TOKEN_DIRS allows /var/run/secrets/ack.alibabacloud.com/rrsa-tokens, symlinks resolved)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.badRequest(logical.UpdateOperation, "config", tc.data, tc.want)
		})
	}
	e.t = t
	if resp := e.ok(logical.ReadOperation, "config", nil); resp != nil {
		t.Fatalf("a refused write stored a config: %v", resp.Data)
	}
	if n := e.emu.Counters(); len(n) != 0 {
		t.Errorf("refused writes reached the emulator: %v", n)
	}
}

// TestPluginSettings_StoredConfigRefused: a config stored while the
// settings allowed it stops working once the operator tightens them, with
// an error naming the setting, and no request goes out.
func TestPluginSettings_StoredConfigRefused(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.ReadOperation, "creds/reader", nil)

	e.env.Settings = defaultPluginSettings()
	e.b = e.newBackend()
	e.emu.ResetCounters()
	const want = "the stored config is refused by the plugin's operator settings (rewrite alicloud/config, or have an operator change the setting): sts_endpoint: "
	e.fails(logical.ReadOperation, "creds/reader", nil, want)
	e.fails(logical.ReadOperation, "config/identity", nil, "ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS")
	if n := e.emu.Counters(); len(n) != 0 {
		t.Errorf("a refused config reached the emulator: %v", n)
	}
}

func TestPluginSettings_CheckEndpoint(t *testing.T) {
	gw := pluginSettings{AllowedEndpoints: []endpointPattern{mustEndpointPattern(defaultAllowedEndpoint), mustEndpointPattern("https://gw.corp.example")}}
	for _, tc := range []struct {
		name     string
		settings pluginSettings
		raw      string
		rpc      bool
		want     string // "" when allowed
	}{
		{"bare host", pluginSettings{}, "sts.cn-hangzhou.aliyuncs.com", true, ""},
		{"root path", pluginSettings{}, "https://sts-vpc.cn-shanghai.aliyuncs.com/", true, ""},
		{"path under a wildcard", pluginSettings{}, "https://ram.aliyuncs.com/x", true, "a path is allowed only"},
		{"path on a named host", gw, "https://gw.corp.example/alicloud/sts", true, ""},
		{"path on a non-RPC URL", pluginSettings{AllowedEndpoints: []endpointPattern{mustEndpointPattern("https://*.corp.example")}}, "https://creds.corp.example/v1/creds", false, ""},
		{"query not shown", pluginSettings{}, "http://169.254.169.254/latest?token=abc", false, "credentials_uri: http://169.254.169.254 is not an allowed endpoint"},
		{"allow all", pluginSettings{AllowedEndpoints: []endpointPattern{mustEndpointPattern("*")}}, "https://x.fc.aliyuncs.com/proxy/", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.settings.checkEndpoint("credentials_uri", tc.raw, tc.rpc)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "token=abc"):
				t.Fatalf("the error shows the query: %v", err)
			}
		})
	}
}
