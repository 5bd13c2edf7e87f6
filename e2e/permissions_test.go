package e2e

import (
	"strings"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	rampolicies "github.com/alicloud-vault/vault-plugin-secrets-alicloud/docs/ram-policies"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestPermissionsPerFeature gives each feature its own mount whose engine user holds exactly that feature's
// documented policy (README "RAM permissions", docs/ram-policies) and nothing else, and uses the feature through
// Vault: a policy that misses an action fails here. A feature used on a mount whose policy lacks it is refused with
// a message naming the action and the document to attach.
func TestPermissionsPerFeature(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()
	if err := c.Emu.CreateUser(staticRoleUser); err != nil {
		t.Fatal(err)
	}

	// mountFor enables the plugin at path with an engine user (named outside the vault- prefix the ram-users
	// document scopes) that holds only the feature's document.
	mountFor := func(feature string) string {
		t.Helper()
		path := "perm-" + feature
		user := "engine-" + feature
		doc, err := rampolicies.Render(feature, user)
		if err == nil {
			err = c.Emu.CreateUser(user)
		}
		if err == nil {
			err = c.Emu.CreatePolicy("engine-policy-"+feature, doc)
		}
		if err == nil {
			err = c.Emu.AttachPolicy("user", user, "Custom", "engine-policy-"+feature)
		}
		if err != nil {
			t.Fatal(err)
		}
		id, secret, err := c.Emu.CreateAccessKey(user)
		if err != nil {
			t.Fatal(err)
		}
		v.MustCLI("secrets", "enable", "-path="+path, "-plugin-version="+pluginVersion, pluginName)
		v.Write(path+"/config", map[string]any{"access_key": id, "secret_key": secret, "sts_endpoint": c.URL, "ram_endpoint": c.URL})
		return path
	}
	works := func(what string, creds aliyun.Credentials) {
		t.Helper()
		if _, err := c.Identity(creds); err != nil {
			t.Errorf("%s: the credentials do not work: %v", what, err)
		}
	}

	sts := mountFor(rampolicies.STSAssumeRole)
	v.Write(sts+"/role/readonly", map[string]any{"role_arn": c.ReadonlyARN})
	s := v.Read(sts + "/creds/readonly")
	works("sts-assume-role", aliyun.Credentials{AccessKeyID: s.Data["access_key"].(string), AccessKeySecret: s.Data["secret_key"].(string), SecurityToken: s.Data["security_token"].(string)})

	ram := mountFor(rampolicies.RAMUsers)
	v.Write(ram+"/role/dev", map[string]any{"remote_policies": []string{"name:ReadOnlyAccess,type:System"},
		"inline_policies": `[{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"*"}]}]`})
	s = v.Read(ram + "/creds/dev")
	works("ram-users", aliyun.Credentials{AccessKeyID: s.Data["access_key"].(string), AccessKeySecret: s.Data["secret_key"].(string)})
	if err := v.Client.Sys().Revoke(s.LeaseID); err != nil {
		t.Errorf("ram-users: revoke: %v", err)
	}
	if _, err := v.Client.Logical().Delete(ram + "/role/dev"); err != nil {
		t.Errorf("ram-users: role delete: %v", err)
	}

	static := mountFor(rampolicies.StaticRoles)
	v.Write(static+"/static-role/app", map[string]any{"username": staticRoleUser, "rotation_period": "24h"})
	v.Write(static+"/static-role/app/rotate", nil)
	s = v.Read(static + "/static-creds/app")
	works("static-roles", aliyun.Credentials{AccessKeyID: s.Data["access_key"].(string), AccessKeySecret: s.Data["secret_key"].(string)})

	root := mountFor(rampolicies.RotateRoot)
	v.Write(root+"/config/rotate-root", nil)
	if _, err := v.Client.Logical().Read(root + "/config/identity"); err != nil {
		t.Errorf("rotate-root: the rotated key does not work: %v", err)
	}

	// A feature outside the mount's document: refused, naming the action and the document.
	_, err := v.Client.Logical().Write(sts+"/role/dev", map[string]any{"remote_policies": []string{"name:ReadOnlyAccess,type:System"}})
	if err == nil {
		t.Fatal("a ram_user role on the sts-assume-role mount was accepted")
	}
	if _, msg := responseError(t, err); !strings.Contains(msg, "ram:GetPolicy denied") || !strings.Contains(msg, `"ram-users" policy`) {
		t.Errorf("refusal = %q, want it to name ram:GetPolicy and the ram-users policy", msg)
	}
	for _, u := range c.VaultUsers() {
		if strings.HasPrefix(u, "vault-") {
			t.Errorf("RAM user %s left by the engine", u)
		}
	}
}
