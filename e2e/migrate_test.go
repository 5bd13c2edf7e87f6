package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator/emulatortest"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/hcplugin"
)

// TestMigrateFromBuiltin follows the README's migration steps: a mount of HashiCorp's AliCloud plugin (bundled with
// Vault as the builtin "alicloud") with a config and roles written by that plugin is switched to this engine by
// registering it under the same name with a version, tuning the mount to that version and reloading. The config and
// roles must read back the same and work.
func TestMigrateFromBuiltin(t *testing.T) {
	requireSuite(t)
	if suite.server == serverOpenBao {
		t.Skip("OpenBao bundles no AliCloud plugin; TestMigrateKeyless covers its users, swapping from HashiCorp's external build")
	}
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	const legacy = "legacy"

	v.MustCLI("secrets", "enable", "-path="+legacy, "alicloud")
	v.MustCLI("write", legacy+"/config", "access_key="+c.EngineKey.AccessKeyID, "secret_key="+c.EngineKey.AccessKeySecret)
	v.MustCLI("write", legacy+"/role/readonly", "role_arn="+c.ReadonlyARN)
	v.MustCLI("write", legacy+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=1800", "max_ttl=3600")

	swapToThisEngine(t, v, legacy, pluginEnv()...)

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

	ram := checkMigratedCreds(t, v, c, legacy)
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
	var mounts map[string]struct {
		RunningPluginVersion string `json:"running_plugin_version"`
	}
	v.CLIJSON(&mounts, "secrets", "list", "-format=json", "-detailed")
	if got := mounts[legacy+"/"].RunningPluginVersion; got != builtin {
		t.Errorf("after tuning back, %s/ runs %q, want the bundled %q", legacy, got, builtin)
	}
	if cfg := v.Read(legacy + "/config"); cfg == nil || cfg.Data["access_key"] != c.EngineKey.AccessKeyID {
		t.Errorf("the bundled plugin cannot read the config after the round trip: %v", cfg)
	}
}

// swapToThisEngine follows the README's migration steps on the mount at path, whose type is "alicloud": register this
// engine under that name with a version and env (the operator settings, and whatever identity the plugin's environment
// gives), tune the mount to that version and reload the plugin; then check that the mount runs exactly this binary.
func swapToThisEngine(t *testing.T, v *vaultServer, path string, env ...string) {
	t.Helper()
	v.registerPlugin("alicloud", env...)
	v.MustCLI("secrets", "tune", "-plugin-version="+pluginVersion, path+"/")
	// Vault 1.21.0's `vault plugin reload -mounts=...` calls sys/plugins/reload/unknown in the root namespace and
	// gets a 404, so the README reloads by plugin name and type, as here; OpenBao's reload has no -type flag.
	if suite.server == serverOpenBao {
		v.MustCLI("plugin", "reload", "-plugin=alicloud")
	} else {
		v.MustCLI("plugin", "reload", "-type=secret", "-plugin=alicloud")
	}

	var mounts map[string]struct {
		Type                 string `json:"type"`
		RunningPluginVersion string `json:"running_plugin_version"`
		RunningSHA256        string `json:"running_sha256"`
	}
	v.CLIJSON(&mounts, "secrets", "list", "-format=json", "-detailed")
	m := mounts[path+"/"]
	if m.Type != "alicloud" || m.RunningPluginVersion != pluginVersion || m.RunningSHA256 != suite.pluginSHA {
		t.Fatalf("after tune and reload %s/ runs type=%q version=%q sha256=%q, want alicloud %s %s",
			path, m.Type, m.RunningPluginVersion, m.RunningSHA256, pluginVersion, suite.pluginSHA)
	}
}

var hashicorpOnce struct {
	sync.Once
	err error
}

// enableHashiCorpPlugin mounts HashiCorp's AliCloud plugin at path as "alicloud": Vault's bundled one, or on OpenBao
// (which bundles none) its external build (internal/hcplugin, the version Vault 1.21.0 bundles), registered
// unversioned under the name "alicloud" as an OpenBao user who ran it would have.
func enableHashiCorpPlugin(t *testing.T, v *vaultServer, path string) {
	t.Helper()
	if suite.server == serverOpenBao {
		hashicorpOnce.Do(func() {
			root, err := repoRoot()
			if err != nil {
				hashicorpOnce.err = err
				return
			}
			bin, err := hcplugin.Binary(root, t.Logf)
			if err != nil {
				hashicorpOnce.err = err
				return
			}
			// The server runs plugins only from inside plugin_directory: copy it there.
			data, err := os.ReadFile(bin)
			if err == nil {
				err = os.WriteFile(filepath.Join(suite.pluginDir, "hashicorp-alicloud"), data, 0o755)
			}
			hashicorpOnce.err = err
		})
		if hashicorpOnce.err != nil {
			t.Fatalf("HashiCorp's plugin: %v", hashicorpOnce.err)
		}
		data, err := os.ReadFile(filepath.Join(suite.pluginDir, "hashicorp-alicloud"))
		if err != nil {
			t.Fatal(err)
		}
		v.MustCLI("write", "sys/plugins/catalog/secret/alicloud", "sha256="+sha256Hex(data), "command=hashicorp-alicloud")
	}
	v.MustCLI("secrets", "enable", "-path="+path, "alicloud")
}

// TestMigrateKeyless: HashiCorp's plugin takes a config without keys and then uses the Alibaba SDK's chain (the
// ALICLOUD_* environment variables, then the ECS instance role). A server runs with its Alibaba traffic sent to the
// emulator's proxy (the old plugin's endpoints are fixed) and with the identity in its environment or on the
// (emulated) metadata service; the old plugin, on a mount configured without keys, issues a RAM user; the mount is
// swapped to this engine, which keeps the identity, issues, and revokes the old plugin's lease and its own. On Vault
// the old plugin is the bundled one; on OpenBao, its external build.
func TestMigrateKeyless(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	for _, source := range []string{"environment", "instance role"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			c := newCloud(t, emulator.Options{})
			caFile := filepath.Join(t.TempDir(), "emulator-ca.pem")
			proxy := emulatortest.Proxy(t, c.Emu, caFile)
			env := []string{"HTTPS_PROXY=" + proxy, "https_proxy=" + proxy, "HTTP_PROXY=" + proxy, "http_proxy=" + proxy,
				"NO_PROXY=", "no_proxy=", "SSL_CERT_FILE=" + caFile}
			wantARN := "acs:ram::" + c.AccountID + ":user/" + engineUser
			// HashiCorp's plugin names its users <display name>-<role>-..., outside the vault- prefix README "RAM
			// permissions" scopes to, so its users held RAM rights on every user, as here.
			principal, principalType := engineUser, "user"
			if source == "environment" {
				// Where HashiCorp's users put the key: the server's environment, which plugins inherit.
				env = append(env, "ALICLOUD_ACCESS_KEY="+c.EngineKey.AccessKeyID, "ALICLOUD_SECRET_KEY="+c.EngineKey.AccessKeySecret)
			} else {
				const ecsRole = "EcsVaultRole"
				_, err := c.Emu.CreateRole(ecsRole, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`, time.Hour)
				if err == nil {
					err = c.Emu.AttachPolicy("role", ecsRole, "Custom", enginePolicy)
				}
				if err != nil {
					t.Fatal(err)
				}
				c.Emu.SetECS(emulator.ECSSettings{RoleName: ecsRole})
				wantARN = "acs:ram::" + c.AccountID + ":assumed-role/" + ecsRole + "/"
				principal, principalType = ecsRole, "role"
			}
			if err := c.Emu.AttachPolicy(principalType, principal, "System", "AliyunRAMFullAccess"); err != nil {
				t.Fatal(err)
			}
			v := startServer(t, serverOptions{Env: env})
			const legacy = "legacy"
			enableHashiCorpPlugin(t, v, legacy)
			v.MustCLI("write", legacy+"/config", "access_key=", "secret_key=")
			v.MustCLI("write", legacy+"/role/readonly", "role_arn="+c.ReadonlyARN)
			v.MustCLI("write", legacy+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System")
			var old secretJSON
			v.CLIJSON(&old, "read", "-format=json", legacy+"/creds/developer")
			if _, err := c.Identity(aliyun.Credentials{AccessKeyID: old.str(t, "access_key"), AccessKeySecret: old.str(t, "secret_key")}); err != nil {
				t.Fatalf("the old plugin's RAM user key does not work: %v", err)
			}
			if got := c.VaultUsers(); len(got) != 1 {
				t.Fatalf("RAM users after the old plugin's issue: %v, want one", got)
			}

			swapToThisEngine(t, v, legacy, pluginEnv()...)
			cfg := v.Read(legacy + "/config")
			if cfg == nil {
				t.Fatal("the keyless config is not readable after the swap")
			}
			wantFields(t, "keyless config after the swap", cfg.Data, map[string]any{"credential_type": "legacy_chain", "access_key": "", "secret_key_set": false})
			if source == "instance role" {
				// This engine asks the metadata service directly, never through a proxy; on ECS it needs no write.
				v.Write(legacy+"/config", map[string]any{"metadata_endpoint": c.URL})
			}
			if id := v.Read(legacy + "/config/identity"); id == nil || !strings.HasPrefix(id.Data["arn"].(string), wantARN) {
				t.Fatalf("identity after the swap: %v, want %s", id, wantARN)
			}

			ram := checkMigratedCreds(t, v, c, legacy)
			for _, lease := range []string{old.LeaseID, ram.LeaseID} {
				v.MustCLI("lease", "revoke", "-sync", lease)
			}
			if got := c.VaultUsers(); len(got) != 0 {
				t.Errorf("users left after revoking the old plugin's lease and this engine's: %v", got)
			}
		})
	}
}

// checkMigratedCreds reads creds/readonly (assumed_role) and creds/developer (ram_user) of a migrated mount with the
// CLI and checks both work; it returns the ram_user lease for the caller to revoke.
func checkMigratedCreds(t *testing.T, v *vaultServer, c *cloud, path string) secretJSON {
	t.Helper()
	var sts secretJSON
	v.CLIJSON(&sts, "read", "-format=json", path+"/creds/readonly")
	if id, err := c.Identity(aliyun.Credentials{AccessKeyID: sts.str(t, "access_key"), AccessKeySecret: sts.str(t, "secret_key"), SecurityToken: sts.str(t, "security_token")}); err != nil || id.IdentityType != "AssumedRoleUser" {
		t.Errorf("STS credentials from %s/creds/readonly: identity %+v, error %v", path, id, err)
	}
	var ram secretJSON
	v.CLIJSON(&ram, "read", "-format=json", path+"/creds/developer")
	if id, err := c.Identity(aliyun.Credentials{AccessKeyID: ram.str(t, "access_key"), AccessKeySecret: ram.str(t, "secret_key")}); err != nil || id.IdentityType != "RAMUser" {
		t.Errorf("RAM user key from %s/creds/developer: identity %+v, error %v", path, id, err)
	}
	return ram
}
