package alicloud

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// staticUser is the RAM user the static-role tests hand to Vault.
const staticUser = "app-static"

// newStaticEnv is a configured test env with staticUser in RAM (no keys).
func newStaticEnv(t *testing.T, configExtra map[string]interface{}) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	e.configure(configExtra)
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	return e
}

// keysOf returns the AccessKey ids a RAM user holds in the emulator, sorted.
func (e *testEnv) keysOf(user string) []string {
	e.t.Helper()
	u := e.user(user)
	if u == nil {
		e.t.Fatalf("RAM user %s does not exist", user)
	}
	ids := []string{}
	for _, k := range u.AccessKeys {
		ids = append(ids, k.ID)
	}
	sort.Strings(ids)
	return ids
}

// staticCreds reads static-creds/<name>.
func (e *testEnv) staticCreds(name string) map[string]interface{} {
	e.t.Helper()
	resp := e.ok(logical.ReadOperation, "static-creds/"+name, nil)
	if resp == nil {
		e.t.Fatalf("static-creds/%s: no response", name)
	}
	return resp.Data
}

// keyIdentity calls GetCallerIdentity with a key.
func (e *testEnv) keyIdentity(id, secret string) (*aliyun.CallerIdentity, error) {
	return e.client(id, secret, "").GetCallerIdentity(e.ctx)
}

// assertKeyWorks checks that STS accepts a key as staticUser's.
func (e *testEnv) assertKeyWorks(what, id, secret string) {
	e.t.Helper()
	ident, err := e.keyIdentity(id, secret)
	if err != nil {
		e.t.Fatalf("%s: GetCallerIdentity with key %s: %v", what, id, err)
	}
	if want := "acs:ram::" + e.acct + ":user/" + staticUser; ident.Arn != want {
		e.t.Fatalf("%s: key %s belongs to %s, want %s", what, id, ident.Arn, want)
	}
}

// assertKeyRefused checks that STS refuses a deleted key.
func (e *testEnv) assertKeyRefused(what, id, secret string) {
	e.t.Helper()
	_, err := e.keyIdentity(id, secret)
	if got := aliyun.ErrorCode(err); got != "InvalidAccessKeyId.NotFound" {
		e.t.Fatalf("%s: GetCallerIdentity with key %s: error %v (code %q), want InvalidAccessKeyId.NotFound", what, id, err, got)
	}
}

// tick runs the static roles' schedule once, as Vault's periodic function does.
func (e *testEnv) tick() error {
	e.t.Helper()
	return e.b.runStaticRotations(e.ctx, e.s)
}

func sortedStrings(s ...string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func TestStaticRole_CreateReadListUpdate(t *testing.T) {
	e := newStaticEnv(t, nil)
	start := e.clock.Now()
	resp := e.ok(logical.UpdateOperation, "static-role/App", map[string]interface{}{
		"username": staticUser, "rotation_period": "24h", "grace_period": "2h",
	})
	if len(resp.Warnings) != 0 {
		t.Errorf("create with a key-less user warns: %v", resp.Warnings)
	}
	keys := e.keysOf(staticUser)
	if len(keys) != 1 {
		t.Fatalf("the user holds keys %v after create, want exactly Vault's new key", keys)
	}
	want := map[string]interface{}{
		"username":             staticUser,
		"rotation_period":      int64(86400),
		"grace_period":         int64(7200),
		"access_key":           keys[0],
		"last_rotated":         formatTime(start),
		"next_rotation":        formatTime(start.Add(24 * time.Hour)),
		"previous_access_key":  "",
		"previous_key_expires": "",
		"last_error":           "",
		"failed_attempts":      0,
	}
	read := e.ok(logical.ReadOperation, "static-role/app", nil)
	for k, v := range want {
		if resp.Data[k] != v {
			t.Errorf("create response %s = %v, want %v", k, resp.Data[k], v)
		}
		if read.Data[k] != v {
			t.Errorf("read %s = %v, want %v", k, read.Data[k], v)
		}
	}
	if _, ok := read.Data["secret_key"]; ok {
		t.Error("the static role read returns the secret key")
	}

	creds := e.staticCreds("app")
	if creds["access_key"] != keys[0] {
		t.Fatalf("static-creds access_key = %v, want %s", creds["access_key"], keys[0])
	}
	if creds["ttl"] != int64(86400) || creds["next_rotation"] != want["next_rotation"] || creds["last_rotated"] != want["last_rotated"] {
		t.Errorf("static-creds ttl/next_rotation/last_rotated = %v/%v/%v", creds["ttl"], creds["next_rotation"], creds["last_rotated"])
	}
	e.assertKeyWorks("static-creds", keys[0], creds["secret_key"].(string))
	e.clock.Advance(time.Hour)
	if got := e.staticCreds("app")["ttl"]; got != int64(23*3600) {
		t.Errorf("static-creds ttl an hour later = %v, want %d", got, 23*3600)
	}

	list := e.ok(logical.ListOperation, "static-role/", nil)
	if got := list.Data["keys"]; !equalStrings(got.([]string), []string{"app"}) {
		t.Errorf("list = %v, want [app]", got)
	}

	// Partial update: the grace period alone; the username may be repeated.
	upd := e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"grace_period": "30m", "username": strings.ToUpper(staticUser)})
	if upd.Data["grace_period"] != int64(1800) || upd.Data["rotation_period"] != int64(86400) || upd.Data["access_key"] != keys[0] {
		t.Errorf("after a grace_period update: %v", upd.Data)
	}
	if got := e.keysOf(staticUser); !equalStrings(got, keys) {
		t.Errorf("an update changed the user's keys: %v, want %v", got, keys)
	}
	if _, err := e.do(logical.ReadOperation, "static-creds/missing", nil); err != nil {
		t.Errorf("static-creds of a missing role: %v", err)
	}
	if resp, _ := e.do(logical.ReadOperation, "static-creds/missing", nil); resp != nil {
		t.Errorf("static-creds of a missing role: %v, want no data (404)", resp.Data)
	}
}

func TestStaticRole_DefaultGracePeriod(t *testing.T) {
	e := newStaticEnv(t, nil)
	if err := e.emu.CreateUser("short-user"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, period string
		want               int64
	}{
		{"long", staticUser, "720h", 3600},
		{"short", "short-user", "30m", 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.ok(logical.UpdateOperation, "static-role/"+tc.name, map[string]interface{}{"username": tc.user, "rotation_period": tc.period})
			if got := resp.Data["grace_period"]; got != tc.want {
				t.Errorf("grace_period = %v, want %d", got, tc.want)
			}
		})
	}
}

func TestStaticRole_Validation(t *testing.T) {
	e := newStaticEnv(t, nil)
	if err := e.emu.CreateUser("second-user"); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.UpdateOperation, "static-role/taken", map[string]interface{}{"username": "second-user", "rotation_period": "1h"})

	for _, tc := range []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"no username", map[string]interface{}{"rotation_period": "1h"}, "username: required"},
		{"bad username", map[string]interface{}{"username": "has space", "rotation_period": "1h"}, "username: must be a RAM user name"},
		{"unknown user", map[string]interface{}{"username": "nobody", "rotation_period": "1h"}, `username: RAM user "nobody" does not exist`},
		{"engine's own user", map[string]interface{}{"username": engineUser, "rotation_period": "1h"}, "is the engine's own RAM user"},
		{"user of another role", map[string]interface{}{"username": "second-user", "rotation_period": "1h"}, `already managed by static role "taken"`},
		{"no period", map[string]interface{}{"username": staticUser}, "rotation_period: required"},
		{"period too short", map[string]interface{}{"username": staticUser, "rotation_period": "59s"}, "rotation_period: must be at least 60 seconds"},
		{"grace not below period", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "1h"}, "grace_period: must be less than rotation_period (3600 seconds)"},
		{"delete_keys on create", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "delete_keys": true}, "delete_keys: applies only to delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.badRequest(logical.UpdateOperation, "static-role/new", tc.data, tc.want)
			if resp, _ := e.do(logical.ReadOperation, "static-role/new", nil); resp != nil {
				t.Fatalf("a refused create stored the role: %v", resp.Data)
			}
			if got := e.keysOf(staticUser); len(got) != 0 {
				t.Fatalf("a refused create left keys %v", got)
			}
		})
	}

	for _, tc := range []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"username change", map[string]interface{}{"username": staticUser}, "username: cannot be changed"},
		{"take_over_keys on update", map[string]interface{}{"take_over_keys": true}, "take_over_keys: applies only when the role is created"},
		{"delete_keys on update", map[string]interface{}{"delete_keys": true}, "delete_keys: applies only to delete"},
		{"period below grace", map[string]interface{}{"rotation_period": "30m"}, "grace_period: must be less than rotation_period (1800 seconds)"},
		{"period too short", map[string]interface{}{"rotation_period": "10s"}, "rotation_period: must be at least 60 seconds"},
	} {
		t.Run("update/"+tc.name, func(t *testing.T) {
			e.badRequest(logical.UpdateOperation, "static-role/taken", tc.data, tc.want)
		})
	}

	t.Run("not configured", func(t *testing.T) {
		e.ok(logical.DeleteOperation, "config", nil)
		e.badRequest(logical.UpdateOperation, "static-role/new", map[string]interface{}{"username": staticUser, "rotation_period": "1h"}, "write alicloud/config first")
	})
}

// TestStaticRole_Ownership covers the ownership rules: a user with one key
// hands it over as the previous key; a user with two keys is refused with a
// message naming them, unless take_over_keys asks Vault to take them over.
func TestStaticRole_Ownership(t *testing.T) {
	t.Run("one existing key becomes the previous key", func(t *testing.T) {
		e := newStaticEnv(t, nil)
		oldID, oldSecret, err := e.emu.CreateAccessKey(staticUser)
		if err != nil {
			t.Fatal(err)
		}
		start := e.clock.Now()
		resp := e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "1h"})
		if resp.Data["previous_access_key"] != oldID || resp.Data["previous_key_expires"] != formatTime(start.Add(time.Hour)) {
			t.Fatalf("previous key %v until %v, want %s until %s", resp.Data["previous_access_key"], resp.Data["previous_key_expires"], oldID, formatTime(start.Add(time.Hour)))
		}
		if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], oldID) || !strings.Contains(resp.Warnings[0], "deletes it when the grace period ends") {
			t.Errorf("warnings %v do not say the existing key is taken over", resp.Warnings)
		}
		e.assertKeyWorks("the pre-existing key during the grace period", oldID, oldSecret)
		e.clock.Advance(time.Hour)
		if err := e.tick(); err != nil {
			t.Fatal(err)
		}
		e.assertKeyRefused("the pre-existing key after the grace period", oldID, oldSecret)
		if got, cur := e.keysOf(staticUser), e.staticCreds("app")["access_key"].(string); !equalStrings(got, []string{cur}) {
			t.Errorf("keys %v, want only the current %s", got, cur)
		}
	})

	t.Run("two keys are refused and named", func(t *testing.T) {
		e := newStaticEnv(t, nil)
		k1, _, _ := e.emu.CreateAccessKey(staticUser)
		k2, _, _ := e.emu.CreateAccessKey(staticUser)
		data := map[string]interface{}{"username": staticUser, "rotation_period": "24h"}
		e.badRequest(logical.UpdateOperation, "static-role/app", data, "already has two AccessKeys")
		resp, _ := e.do(logical.UpdateOperation, "static-role/app", data)
		msg := resp.Error().Error()
		for _, k := range []string{k1, k2, "take_over_keys=true"} {
			if !strings.Contains(msg, k) {
				t.Errorf("refusal %q does not name %s", msg, k)
			}
		}
		if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(k1, k2)) {
			t.Errorf("a refused create changed the keys: %v", got)
		}
		if r, _ := e.do(logical.ReadOperation, "static-role/app", nil); r != nil {
			t.Errorf("a refused create stored the role")
		}
	})

	t.Run("take_over_keys deletes the inactive key and keeps the other", func(t *testing.T) {
		e := newStaticEnv(t, nil)
		k1, s1, _ := e.emu.CreateAccessKey(staticUser)
		e.clock.Advance(time.Minute)
		k2, s2, _ := e.emu.CreateAccessKey(staticUser)
		// The newer key is inactive: it goes first, even though it is newer.
		admin := e.client(e.engineKeyID, e.engineSecret, "")
		if err := admin.UpdateAccessKey(e.ctx, staticUser, k2, aliyun.AccessKeyInactive); err != nil {
			t.Fatal(err)
		}
		resp := e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "take_over_keys": true})
		cur := resp.Data["access_key"].(string)
		if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(k1, cur)) {
			t.Fatalf("keys after take-over %v, want %s (kept) and %s (new)", got, k1, cur)
		}
		if resp.Data["previous_access_key"] != k1 {
			t.Errorf("previous_access_key = %v, want the kept key %s", resp.Data["previous_access_key"], k1)
		}
		joined := strings.Join(resp.Warnings, "\n")
		if !strings.Contains(joined, "deleted AccessKey "+k2) || !strings.Contains(joined, k1) {
			t.Errorf("warnings %v do not say what was deleted and kept", resp.Warnings)
		}
		e.assertKeyRefused("the deleted inactive key", k2, s2)
		e.assertKeyWorks("the kept key", k1, s1)
	})

	t.Run("take_over_keys deletes the oldest active key", func(t *testing.T) {
		e := newStaticEnv(t, nil)
		k1, _, _ := e.emu.CreateAccessKey(staticUser)
		e.clock.Advance(time.Minute)
		k2, _, _ := e.emu.CreateAccessKey(staticUser)
		resp := e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "take_over_keys": true})
		if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(k2, resp.Data["access_key"].(string))) || resp.Data["previous_access_key"] != k2 {
			t.Fatalf("keys %v, previous %v: want the oldest (%s) deleted and %s kept", got, resp.Data["previous_access_key"], k1, k2)
		}
	})

	t.Run("a key added outside Vault blocks rotation until taken over", func(t *testing.T) {
		e := newStaticEnv(t, nil)
		e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "0"})
		cur := e.staticCreds("app")["access_key"].(string)
		stranger, _, _ := e.emu.CreateAccessKey(staticUser)
		e.badRequest(logical.UpdateOperation, "static-role/app/rotate", nil, "neither the current nor the previous key of static role \"app\": "+stranger)
		if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(cur, stranger)) {
			t.Fatalf("a refused rotation changed the keys: %v", got)
		}
		resp := e.ok(logical.UpdateOperation, "static-role/app/rotate", map[string]interface{}{"take_over_keys": true})
		if got := resp.Data["deleted_access_keys"].([]string); !equalStrings(got, []string{stranger}) {
			t.Errorf("deleted_access_keys = %v, want [%s]", got, stranger)
		}
		// grace_period 0: the replaced key went at once too.
		newKey := resp.Data["access_key"].(string)
		if got := e.keysOf(staticUser); !equalStrings(got, []string{newKey}) {
			t.Errorf("keys after a take-over rotation with no grace period: %v, want [%s]", got, newKey)
		}
		if resp.Data["previous_access_key"] != "" {
			t.Errorf("previous_access_key = %v, want none with grace_period 0", resp.Data["previous_access_key"])
		}
	})
}

func TestStaticRole_Delete(t *testing.T) {
	setup := func(t *testing.T) (*testEnv, string, string, string) {
		e := newStaticEnv(t, nil)
		e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "1h"})
		prev := e.staticCreds("app")
		resp := e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
		cur := e.staticCreds("app")
		if resp.Data["previous_access_key"] != prev["access_key"] {
			t.Fatalf("after rotate previous_access_key = %v, want %v", resp.Data["previous_access_key"], prev["access_key"])
		}
		return e, cur["access_key"].(string), cur["secret_key"].(string), prev["access_key"].(string)
	}

	t.Run("keeps the current key by default", func(t *testing.T) {
		e, cur, curSecret, prev := setup(t)
		resp := e.ok(logical.DeleteOperation, "static-role/app", nil)
		if got := resp.Data["kept_access_keys"].([]string); !equalStrings(got, []string{cur}) {
			t.Errorf("kept_access_keys = %v, want [%s]", got, cur)
		}
		if got := resp.Data["deleted_access_keys"].([]string); !equalStrings(got, []string{prev}) {
			t.Errorf("deleted_access_keys = %v, want [%s]", got, prev)
		}
		joined := strings.Join(resp.Warnings, "\n")
		if !strings.Contains(joined, "the current AccessKey "+cur+" of RAM user "+staticUser+" stays active") || !strings.Contains(joined, "delete_keys=true") {
			t.Errorf("warnings %v do not say the current key stays", resp.Warnings)
		}
		if !strings.Contains(joined, "deleted before its grace period ended") {
			t.Errorf("warnings %v do not say the previous key's grace period was cut short", resp.Warnings)
		}
		if got := e.keysOf(staticUser); !equalStrings(got, []string{cur}) {
			t.Errorf("keys after delete %v, want [%s]", got, cur)
		}
		e.assertKeyWorks("the kept key", cur, curSecret)
		if r, _ := e.do(logical.ReadOperation, "static-role/app", nil); r != nil {
			t.Errorf("the role is still readable: %v", r.Data)
		}
		if r, _ := e.do(logical.ReadOperation, "static-creds/app", nil); r != nil {
			t.Errorf("the creds are still readable")
		}
		// The schedule forgot the role: a later run does nothing.
		e.clock.Advance(48 * time.Hour)
		if err := e.tick(); err != nil {
			t.Fatal(err)
		}
		if got := e.keysOf(staticUser); !equalStrings(got, []string{cur}) {
			t.Errorf("keys after a run past the old schedule %v, want [%s]", got, cur)
		}
		// Deleting again is harmless.
		if resp := e.ok(logical.DeleteOperation, "static-role/app", nil); resp != nil {
			t.Errorf("second delete: %v", resp.Data)
		}
	})

	t.Run("delete_keys deletes both keys", func(t *testing.T) {
		e, cur, curSecret, prev := setup(t)
		resp := e.ok(logical.DeleteOperation, "static-role/app", map[string]interface{}{"delete_keys": true})
		if got := resp.Data["deleted_access_keys"].([]string); !equalStrings(sortedStrings(got...), sortedStrings(cur, prev)) {
			t.Errorf("deleted_access_keys = %v, want %s and %s", got, cur, prev)
		}
		if got := resp.Data["kept_access_keys"].([]string); len(got) != 0 {
			t.Errorf("kept_access_keys = %v, want none", got)
		}
		if got := e.keysOf(staticUser); len(got) != 0 {
			t.Errorf("keys after delete_keys %v, want none", got)
		}
		e.assertKeyRefused("the deleted current key", cur, curSecret)
	})

	t.Run("delete_keys failure keeps the role", func(t *testing.T) {
		e, cur, _, _ := setup(t)
		e.ok(logical.UpdateOperation, "config", map[string]interface{}{"max_retries": 0})
		e.emu.SetFaults(emulatorFaults("DeleteAccessKey", 10))
		e.fails(logical.DeleteOperation, "static-role/app", map[string]interface{}{"delete_keys": true}, "the role is kept")
		e.emu.SetFaults(emulatorFaults("", 0))
		if got := e.staticCreds("app")["access_key"]; got != cur {
			t.Errorf("after a failed delete the role's key is %v, want %s", got, cur)
		}
	})
}
