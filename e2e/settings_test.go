package e2e

import (
	"strings"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestOperatorSettings registers the plugin as an operator would, with and without `vault plugin register -env`, and
// checks that the settings reach the plugin process: with none, a config that points at the emulator (plain http on
// 127.0.0.1) or at the Vault server's own identity is refused with a 400 naming the setting, and nothing is stored; a
// malformed setting stops the mount from starting with an error naming the variable.
func TestOperatorSettings(t *testing.T) {
	requireSuite(t)
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()

	// The harness's mount runs with the tests' settings: the emulator is allowed.
	v.Write(mount+"/config", map[string]any{"access_key": c.EngineKey.AccessKeyID, "secret_key": c.EngineKey.AccessKeySecret,
		"sts_endpoint": c.URL, "ram_endpoint": c.URL})

	const strict = "alicloud-strict"
	v.registerPlugin(strict)
	v.MustCLI("secrets", "enable", "-path=strict", "-plugin-version="+pluginVersion, strict)
	for _, tc := range []struct {
		data map[string]any
		want string
	}{
		{map[string]any{"access_key": c.EngineKey.AccessKeyID, "secret_key": c.EngineKey.AccessKeySecret, "sts_endpoint": c.URL, "ram_endpoint": c.URL},
			"sts_endpoint: " + c.URL + " is not an allowed endpoint (ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS allows https://*.aliyuncs.com)"},
		{map[string]any{"credential_type": "ecs_ram_role"},
			"an operator allows it by registering the plugin with the environment variable ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true"},
		{map[string]any{"credential_type": "oidc_role_arn", "role_arn": c.ReadonlyARN, "oidc_provider_arn": "acs:ram::" + c.AccountID + ":oidc-provider/x",
			"oidc_token_file": "/proc/self/environ"},
			"oidc_token_file: /proc/self/environ is not in a directory this plugin may read tokens from (ALICLOUD_PLUGIN_TOKEN_DIRS allows /var/run/secrets/ack.alibabacloud.com/rrsa-tokens"},
	} {
		_, err := v.Client.Logical().Write("strict/config", tc.data)
		if err == nil {
			t.Fatalf("strict/config %v was accepted, want a 400 containing %q", tc.data, tc.want)
		}
		if code, msg := responseError(t, err); code != 400 || !strings.Contains(msg, tc.want) {
			t.Errorf("strict/config: %d %q, want 400 containing %q", code, msg, tc.want)
		}
	}
	if s := v.Read("strict/config"); s != nil {
		t.Errorf("refused writes stored a config: %v", s.Data)
	}

	const bad = "alicloud-bad-settings"
	v.registerPlugin(bad, "ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=maybe")
	r := v.CLI("secrets", "enable", "-path=bad", "-plugin-version="+pluginVersion, bad)
	if r.Err == nil || !strings.Contains(r.Stderr, "ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY: must be true or false") {
		t.Errorf("enabling a plugin with a malformed setting: err %v, stderr %q; want a failure naming the variable", r.Err, r.Stderr)
	}
}
