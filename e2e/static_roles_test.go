package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/hashicorp/vault/api"
)

// staticRoleUser is the existing RAM user the static role takes over.
const staticRoleUser = "app-static"

// trackedKey is a replaced static key whose deletion the test watches.
type trackedKey struct {
	key     aliyun.Credentials
	expires time.Time // previous_key_expires: it must work until then
	refused bool
}

// TestStaticRoleRotation lets a real Vault rotate a static role on its own. Vault runs the plugin's periodic function
// about once a minute, so with a 60s rotation_period and a 20s grace_period every run retires the previous key and
// rotates: after a manual rotation the test sees at least two scheduled ones. After each, the key from static-creds
// works; each replaced key keeps working until its grace period ends and is then refused by the emulator.
func TestStaticRoleRotation(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	if err := c.Emu.CreateUser(staticRoleUser); err != nil {
		t.Fatal(err)
	}
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)

	path := mount + "/static-role/app"
	v.MustCLI("write", path, "username="+staticRoleUser, "rotation_period=60s", "grace_period=20s")
	help := v.MustCLI("path-help", path)
	for _, rule := range []string{"Ownership rules", "take_over_keys", "grace period"} {
		if !strings.Contains(help, rule) {
			t.Errorf("path-help %s does not state the ownership rules (%q missing)", path, rule)
		}
	}

	readCreds := func() (aliyun.Credentials, map[string]any) {
		t.Helper()
		s := v.Read(mount + "/static-creds/app")
		if s == nil {
			t.Fatal("static-creds/app: not found")
		}
		id, _ := s.Data["access_key"].(string)
		secret, _ := s.Data["secret_key"].(string)
		if id == "" || secret == "" {
			t.Fatalf("static-creds/app lacks the key: fields %v", keysOf(s.Data))
		}
		return aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret}, s.Data
	}
	checkWorks := func(what string, key aliyun.Credentials) {
		t.Helper()
		id, err := c.Identity(key)
		if err != nil {
			t.Fatalf("%s %s does not work: %v", what, key.AccessKeyID, err)
		}
		if want := fmt.Sprintf("acs:ram::%s:user/%s", c.AccountID, staticRoleUser); id.Arn != want {
			t.Fatalf("%s %s belongs to %s, want %s", what, key.AccessKeyID, id.Arn, want)
		}
	}

	cur, _ := readCreds()
	checkWorks("the first static key", cur)
	var tracked []*trackedKey
	// rotated records a rotation from old to the key static-creds now returns.
	rotated := func(old aliyun.Credentials, data map[string]any) aliyun.Credentials {
		t.Helper()
		key := aliyun.Credentials{AccessKeyID: data["access_key"].(string), AccessKeySecret: data["secret_key"].(string)}
		checkWorks("the rotated key", key)
		if data["previous_access_key"] != old.AccessKeyID {
			t.Fatalf("after a rotation previous_access_key = %v, want the replaced %s", data["previous_access_key"], old.AccessKeyID)
		}
		exp, err := time.Parse(time.RFC3339, fmt.Sprint(data["previous_key_expires"]))
		if err != nil {
			t.Fatalf("previous_key_expires %v: %v", data["previous_key_expires"], err)
		}
		tracked = append(tracked, &trackedKey{key: old, expires: exp})
		return key
	}

	// One rotation on demand.
	if s := v.Write(path+"/rotate", nil); s == nil || s.Data["previous_access_key"] != cur.AccessKeyID {
		t.Fatalf("rotate: %v", s)
	}
	_, data := readCreds()
	cur = rotated(cur, data)

	// Then the schedule's own rotations.
	scheduled := 0
	deadline := time.Now().Add(4 * time.Minute)
	for scheduled < 2 || !allRefused(tracked) {
		if time.Now().After(deadline) {
			t.Fatalf("after 4 minutes: %d scheduled rotations (want 2), replaced keys refused: %v", scheduled, refusedSummary(tracked))
		}
		key, data := readCreds()
		if key.AccessKeyID != cur.AccessKeyID {
			cur = rotated(cur, data)
			scheduled++
			t.Logf("scheduled rotation %d: %s", scheduled, cur.AccessKeyID)
		}
		for _, tk := range tracked {
			if tk.refused {
				continue
			}
			_, err := c.Identity(tk.key)
			now := time.Now()
			switch {
			case err == nil && now.After(tk.expires.Add(150*time.Second)):
				t.Fatalf("replaced key %s still works %s after its grace period ended", tk.key.AccessKeyID, now.Sub(tk.expires).Round(time.Second))
			case err == nil:
			case aliyun.ErrorCode(err) != "InvalidAccessKeyId.NotFound":
				t.Fatalf("replaced key %s: %v, want it working or refused as not found", tk.key.AccessKeyID, err)
			case now.Before(tk.expires):
				t.Fatalf("replaced key %s was refused %s before its grace period ended", tk.key.AccessKeyID, tk.expires.Sub(now).Round(time.Second))
			default:
				tk.refused = true
				t.Logf("replaced key %s refused %s after its grace period ended", tk.key.AccessKeyID, now.Sub(tk.expires).Round(time.Second))
			}
		}
		if keys := c.AccessKeys(staticRoleUser); len(keys) > 2 {
			t.Fatalf("the user holds %d keys %v; a static role never needs more than two", len(keys), keys)
		}
		time.Sleep(time.Second)
	}
	if r := v.Read(path); r == nil || r.Data["last_error"] != "" {
		t.Errorf("static role after the rotations: %v", r)
	}

	// Deleting the role keeps the current key working.
	s, err := v.Client.Logical().Delete(path)
	if err != nil {
		t.Fatalf("delete %s: %v", path, err)
	}
	if s == nil || !strings.Contains(strings.Join(s.Warnings, " "), "stays active") {
		t.Errorf("delete response does not say the current key stays: %v", s)
	}
	checkWorks("the current key after the role was deleted", cur)
	if got := c.AccessKeys(staticRoleUser); len(got) != 1 || got[0] != cur.AccessKeyID {
		t.Errorf("after delete the user holds %v, want only %s", got, cur.AccessKeyID)
	}
}

func allRefused(keys []*trackedKey) bool {
	if len(keys) < 3 {
		return false
	}
	// The newest replaced key is still in its grace period when the last
	// awaited rotation happens; the others must all be gone.
	for _, k := range keys[:len(keys)-1] {
		if !k.refused {
			return false
		}
	}
	return true
}

func refusedSummary(keys []*trackedKey) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k.key.AccessKeyID, k.refused))
	}
	return strings.Join(parts, " ")
}

// TestScheduledRootRotation gives the engine's own key a cron schedule (every minute) and waits for Vault's periodic
// function to rotate it: the config read shows the new key and the last and next rotation, the old key is refused by
// the emulator, and the engine keeps working with the new one.
func TestScheduledRootRotation(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	c := newCloud(t, emulator.Options{})
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)
	v.MustCLI("write", mount+"/config", "rotation_schedule=* * * * *")
	cfg := v.Read(mount + "/config")
	wantFields(t, "config", cfg.Data, map[string]any{"rotation_schedule": "* * * * *", "last_rotation": "", "access_key": c.EngineKey.AccessKeyID})
	next, err := time.Parse(time.RFC3339, fmt.Sprint(cfg.Data["next_rotation"]))
	if err != nil || next.Second() != 0 || time.Until(next) > time.Minute {
		t.Fatalf("next_rotation %v: want the next minute (%v)", cfg.Data["next_rotation"], err)
	}

	var rotated *api.Secret
	eventually(t, 3*time.Minute, func() error {
		rotated = v.Read(mount + "/config")
		if rotated.Data["access_key"] == c.EngineKey.AccessKeyID {
			return fmt.Errorf("the engine still uses %s (next_rotation %v, last error %v)", c.EngineKey.AccessKeyID, rotated.Data["next_rotation"], rotated.Data["last_rotation_error"])
		}
		return nil
	})
	newID := fmt.Sprint(rotated.Data["access_key"])
	last, err := time.Parse(time.RFC3339, fmt.Sprint(rotated.Data["last_rotation"]))
	if err != nil || last.Before(next) {
		t.Errorf("last_rotation %v: want a time at or after the scheduled %s", rotated.Data["last_rotation"], next)
	}
	if nr, err := time.Parse(time.RFC3339, fmt.Sprint(rotated.Data["next_rotation"])); err != nil || !nr.After(last) || nr.Sub(last) > time.Minute {
		t.Errorf("next_rotation after the rotation = %v, want the following minute", rotated.Data["next_rotation"])
	}
	if _, err := c.Identity(c.EngineKey); aliyun.ErrorCode(err) != "InvalidAccessKeyId.NotFound" {
		t.Errorf("the rotated-out engine key: %v, want refused as not found", err)
	}
	if got := c.AccessKeys(engineUser); len(got) != 1 || got[0] != newID {
		t.Errorf("the engine user holds %v, want only the new key %s", got, newID)
	}
	// The engine works with its new key.
	ident := v.Read(mount + "/config/identity")
	checkIdentity(t, "config/identity after the scheduled rotation", ident.Data, c.AccountID, fmt.Sprintf("acs:ram::%s:user/%s", c.AccountID, engineUser))

	v.MustCLI("write", mount+"/config", "rotation_schedule=")
	if cfg := v.Read(mount + "/config"); cfg.Data["next_rotation"] != "" || cfg.Data["last_rotation"] != rotated.Data["last_rotation"] {
		t.Errorf("after turning the schedule off: next_rotation %v, last_rotation %v", cfg.Data["next_rotation"], cfg.Data["last_rotation"])
	}
}
