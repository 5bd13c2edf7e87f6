package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestOpenBaoDeclarativePlugin registers the plugin the way OpenBao's configuration can (a plugin block with
// plugin_auto_register, README "Vault and OpenBao"), with the operator settings in its env, and uses the mount through
// bao with only the VAULT_* variables set, which bao reads too.
func TestOpenBaoDeclarativePlugin(t *testing.T) {
	requireSuite(t)
	if suite.server != serverOpenBao {
		t.Skip("declarative plugins are OpenBao's")
	}
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	var env []string
	for _, kv := range pluginEnv() {
		env = append(env, fmt.Sprintf("%q", kv))
	}
	v := startVault(t, fmt.Sprintf(`
plugin_auto_register = true
plugin "secret" "alicloud" {
  command   = %q
  version   = %q
  sha256sum = %q
  env       = [%s]
}
`, pluginName, pluginVersion, suite.pluginSHA, strings.Join(env, ", ")))

	v.MustCLI("secrets", "enable", "-path="+mount, "-plugin-version="+pluginVersion, "alicloud")
	v.Write(mount+"/config", map[string]any{"access_key": c.EngineKey.AccessKeyID, "secret_key": c.EngineKey.AccessKeySecret,
		"sts_endpoint": c.URL, "ram_endpoint": c.URL})
	v.Write(mount+"/role/readonly", map[string]any{"role_arn": c.ReadonlyARN})

	// bao with VAULT_ADDR and VAULT_TOKEN only.
	r := v.cliWithEnv([]string{"VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=" + v.RootToken}, "read", "-format=json", mount+"/creds/readonly")
	if r.Err != nil || !strings.Contains(r.Stdout, `"security_token"`) {
		t.Fatalf("bao read with VAULT_ADDR/VAULT_TOKEN: %v\n%s", r.Err, r.Stderr)
	}
	// A restart registers it again from the configuration and the mount keeps working.
	v.Restart()
	if s := v.Read(mount + "/creds/readonly"); s == nil || s.Data["access_key"] == "" {
		t.Fatalf("creds after a restart: %v", s)
	}
}
