package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestReloadAndRestart checks that the engine's state lives in Vault's storage, not in the plugin process: after
// `vault plugin reload` and after a restart of Vault itself (file storage, unsealed again), the config and roles are
// intact, credentials can still be issued, and leases issued before either event are still revoked properly.
func TestReloadAndRestart(t *testing.T) {
	requireSuite(t)
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)
	v.MustCLI("write", mount+"/role/readonly", "role_arn="+c.ReadonlyARN, "ttl=1h")
	v.MustCLI("write", mount+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=1h", "max_ttl=2h")

	issue := func(stage string) (leaseID, user string) {
		t.Helper()
		before := map[string]bool{}
		for _, u := range c.VaultUsers() {
			before[u] = true
		}
		var s secretJSON
		v.CLIJSON(&s, "read", "-format=json", mount+"/creds/developer")
		key := aliyun.Credentials{AccessKeyID: s.str(t, "access_key"), AccessKeySecret: s.str(t, "secret_key")}
		id, err := c.Identity(key)
		if err != nil {
			t.Fatalf("%s: the issued key does not work: %v", stage, err)
		}
		user = id.Arn[strings.LastIndex(id.Arn, "/")+1:]
		if before[user] {
			t.Fatalf("%s: the issued key belongs to an older user %s", stage, user)
		}
		return s.LeaseID, user
	}
	checkState := func(stage string) {
		t.Helper()
		cfg := v.Read(mount + "/config")
		if cfg == nil || cfg.Data["access_key"] != c.EngineKey.AccessKeyID {
			t.Fatalf("%s: config lost: %v", stage, cfg)
		}
		for name, typ := range map[string]string{"readonly": "assumed_role", "developer": "ram_user"} {
			r := v.Read(mount + "/role/" + name)
			if r == nil || r.Data["credential_type"] != typ {
				t.Fatalf("%s: role %s lost or changed: %v", stage, name, r)
			}
		}
		var s secretJSON
		v.CLIJSON(&s, "read", "-format=json", mount+"/creds/readonly")
		creds := aliyun.Credentials{AccessKeyID: s.str(t, "access_key"), AccessKeySecret: s.str(t, "secret_key"), SecurityToken: s.str(t, "security_token")}
		if id, err := c.Identity(creds); err != nil || id.IdentityType != "AssumedRoleUser" {
			t.Fatalf("%s: STS credentials: identity %+v, error %v", stage, id, err)
		}
	}

	lease1, user1 := issue("before reload")
	out := v.MustCLI("plugin", "reload", "-plugin="+pluginName)
	if !strings.Contains(out, "Success") {
		t.Errorf("vault plugin reload: %s", out)
	}
	checkState("after plugin reload")
	lease2, user2 := issue("after plugin reload")

	v.Restart()
	v.waitFor("the plugin mount after restart", func() bool {
		_, err := v.Client.Logical().Read(mount + "/config")
		return err == nil
	})
	checkState("after restart")

	for _, l := range []struct{ lease, user string }{{lease1, user1}, {lease2, user2}} {
		v.MustCLI("lease", "revoke", "-sync", l.lease)
		eventually(t, 30*time.Second, func() error {
			for _, u := range c.Users() {
				if u == l.user {
					return fmt.Errorf("user %s still exists after its lease was revoked", u)
				}
			}
			return nil
		})
	}
	if got := c.VaultUsers(); len(got) != 0 {
		t.Errorf("Vault-made users left after revoking every lease: %v", got)
	}
}
