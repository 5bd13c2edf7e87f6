package e2e

import (
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestMigrateFromBuiltin follows the README's migration steps: a mount of HashiCorp's AliCloud plugin (bundled with
// Vault as the builtin "alicloud") with a config and roles written by that plugin is switched to this engine by
// registering it under the same name with a version, tuning the mount to that version and reloading. The config and
// roles must read back the same and work.
func TestMigrateFromBuiltin(t *testing.T) {
	requireSuite(t)
	if suite.server == serverOpenBao {
		t.Skip("OpenBao bundles no AliCloud plugin; TestMigrateFromExternal covers its users")
	}
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	const legacy = "legacy"

	v.MustCLI("secrets", "enable", "-path="+legacy, "alicloud")
	v.MustCLI("write", legacy+"/config", "access_key="+c.EngineKey.AccessKeyID, "secret_key="+c.EngineKey.AccessKeySecret)
	v.MustCLI("write", legacy+"/role/readonly", "role_arn="+c.ReadonlyARN)
	v.MustCLI("write", legacy+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=1800", "max_ttl=3600")

	v.registerPlugin("alicloud", pluginEnv()...)
	v.MustCLI("secrets", "tune", "-plugin-version="+pluginVersion, legacy+"/")
	// Vault 1.21.0's `vault plugin reload -mounts=...` calls sys/plugins/reload/unknown in the root namespace and
	// gets a 404, so the README reloads by plugin name and type, as here.
	v.MustCLI("plugin", "reload", "-type=secret", "-plugin=alicloud")

	var mounts map[string]struct {
		Type                 string `json:"type"`
		RunningPluginVersion string `json:"running_plugin_version"`
		RunningSHA256        string `json:"running_sha256"`
	}
	v.CLIJSON(&mounts, "secrets", "list", "-format=json", "-detailed")
	m := mounts[legacy+"/"]
	if m.Type != "alicloud" || m.RunningPluginVersion != pluginVersion || m.RunningSHA256 != suite.pluginSHA {
		t.Fatalf("after tune and reload %s/ runs type=%q version=%q sha256=%q, want alicloud %s %s",
			legacy, m.Type, m.RunningPluginVersion, m.RunningSHA256, pluginVersion, suite.pluginSHA)
	}

	cfg := v.Read(legacy + "/config")
	if cfg == nil {
		t.Fatal("the old plugin's config is not readable after the switch")
	}
	wantFields(t, "config written by the old plugin", cfg.Data, map[string]any{
		"access_key": c.EngineKey.AccessKeyID, "secret_key_set": true, "credential_type": "access_key",
	})
	// The old plugin could not point at another endpoint; a partial write adds that and checks the old key.
	// New endpoints need the secret again (the engine does not send a stored secret to endpoints a write just named).
	resp := v.Write(legacy+"/config", map[string]any{"sts_endpoint": c.URL, "ram_endpoint": c.URL, "secret_key": c.EngineKey.AccessKeySecret})
	if resp == nil {
		t.Fatal("partial config write returned no identity")
	}
	wantFields(t, "partial config write", resp.Data, map[string]any{"account_id": c.AccountID, "identity_type": "RAMUser"})

	for name, typ := range map[string]string{"readonly": "assumed_role", "developer": "ram_user"} {
		r := v.Read(legacy + "/role/" + name)
		if r == nil {
			t.Fatalf("role %s written by the old plugin is gone", name)
		}
		wantFields(t, "role "+name, r.Data, map[string]any{"credential_type": typ})
	}
	wantFields(t, "role developer", v.Read(legacy+"/role/developer").Data, map[string]any{"ttl": 1800, "max_ttl": 3600})

	var sts secretJSON
	v.CLIJSON(&sts, "read", "-format=json", legacy+"/creds/readonly")
	if id, err := c.Identity(aliyun.Credentials{AccessKeyID: sts.str(t, "access_key"), AccessKeySecret: sts.str(t, "secret_key"), SecurityToken: sts.str(t, "security_token")}); err != nil || id.IdentityType != "AssumedRoleUser" {
		t.Errorf("STS credentials from a migrated role: identity %+v, error %v", id, err)
	}
	var ram secretJSON
	v.CLIJSON(&ram, "read", "-format=json", legacy+"/creds/developer")
	if id, err := c.Identity(aliyun.Credentials{AccessKeyID: ram.str(t, "access_key"), AccessKeySecret: ram.str(t, "secret_key")}); err != nil || id.IdentityType != "RAMUser" {
		t.Errorf("RAM user key from a migrated role: identity %+v, error %v", id, err)
	}
	if ram.LeaseDuration != 1800 {
		t.Errorf("lease of a migrated ram_user role: %ds, want the role's ttl 1800", ram.LeaseDuration)
	}
	v.MustCLI("lease", "revoke", "-sync", ram.LeaseID)
	if got := c.VaultUsers(); len(got) != 0 {
		t.Errorf("users left after revoking the only ram_user lease: %v", got)
	}

	// Going back: tune the mount to the bundled version and reload; the old plugin reads its config again.
	var plugins struct {
		Detailed []struct {
			Name, Type, Version string
			Builtin             bool
		} `json:"details"`
	}
	v.CLIJSON(&plugins, "plugin", "list", "-format=json", "-detailed", "secret")
	builtin := ""
	for _, p := range plugins.Detailed {
		if p.Name == "alicloud" && p.Builtin {
			builtin = p.Version
		}
	}
	if builtin == "" {
		t.Fatalf("vault plugin list shows no bundled alicloud plugin: %+v", plugins.Detailed)
	}
	v.MustCLI("secrets", "tune", "-plugin-version="+builtin, legacy+"/")
	v.MustCLI("plugin", "reload", "-type=secret", "-plugin=alicloud")
	v.CLIJSON(&mounts, "secrets", "list", "-format=json", "-detailed")
	if got := mounts[legacy+"/"].RunningPluginVersion; got != builtin {
		t.Errorf("after tuning back, %s/ runs %q, want the bundled %q", legacy, got, builtin)
	}
	if cfg := v.Read(legacy + "/config"); cfg == nil || cfg.Data["access_key"] != c.EngineKey.AccessKeyID {
		t.Errorf("the bundled plugin cannot read the config after the round trip: %v", cfg)
	}
}
