package alicloud

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestConfig_RootIdentityWarns: Alibaba advises against the account's own
// (root) AccessKey; a config write and config/identity that find the
// engine running as the account say so in a warning, and a RAM user's key
// gets none.
func TestConfig_RootIdentityWarns(t *testing.T) {
	e := newTestEnv(t)
	id, secret := e.emu.MainAccessKey()
	e.addSecret(secret)
	resp := e.configure(map[string]interface{}{"access_key": id, "secret_key": secret})
	if resp.Data["identity_type"] != "Account" || resp.Data["arn"] != "acs:ram::"+e.acct+":root" {
		t.Fatalf("config write identity = %v", resp.Data)
	}
	for _, r := range []*logical.Response{resp, e.ok(logical.ReadOperation, "config/identity", nil)} {
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "root") || !strings.Contains(r.Warnings[0], "acs:ram::"+e.acct+":root") ||
			!strings.Contains(r.Warnings[0], "RAM user") {
			t.Errorf("warnings = %q, want one about the account's root AccessKey", r.Warnings)
		}
		for _, w := range r.Warnings {
			e.assertNoSecrets(w)
			if strings.Contains(w, id) {
				t.Errorf("warning names the AccessKey id: %q", w)
			}
		}
	}

	e.configure(map[string]interface{}{"access_key": e.engineKeyID, "secret_key": e.engineSecret})
	if w := e.ok(logical.ReadOperation, "config/identity", nil).Warnings; len(w) != 0 {
		t.Errorf("config/identity warnings for a RAM user's key: %q", w)
	}
	if w := e.configure(nil).Warnings; len(w) != 0 {
		t.Errorf("config write warnings for a RAM user's key: %q", w)
	}
}
