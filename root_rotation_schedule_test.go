package alicloud

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// rootTick runs the root rotation schedule once, as the periodic function does.
func (e *testEnv) rootTick() error {
	e.t.Helper()
	return e.b.runRootRotation(e.ctx, e.s)
}

func (e *testEnv) configData() map[string]interface{} {
	e.t.Helper()
	resp := e.ok(logical.ReadOperation, "config", nil)
	if resp == nil {
		e.t.Fatal("config: not found")
	}
	return resp.Data
}

// assertEngineKeyRefused checks that the engine's original key was deleted.
func (e *testEnv) assertEngineKeyRefused() {
	e.t.Helper()
	_, err := e.client(e.engineKeyID, e.engineSecret, "").GetCallerIdentity(e.ctx)
	if got := aliyun.ErrorCode(err); got != "InvalidAccessKeyId.NotFound" {
		e.t.Fatalf("the rotated-out engine key: error %v, want InvalidAccessKeyId.NotFound", err)
	}
}

// assertEngineWorks checks the engine's identity with its current key.
func (e *testEnv) assertEngineWorks() {
	e.t.Helper()
	resp := e.ok(logical.ReadOperation, "config/identity", nil)
	if want := "acs:ram::" + e.acct + ":user/" + engineUser; resp.Data["arn"] != want {
		e.t.Fatalf("config/identity arn = %v, want %s", resp.Data["arn"], want)
	}
}

func TestScheduleRoot_Period(t *testing.T) {
	e := newTestEnv(t)
	t0 := e.clock.Now()
	e.configure(map[string]interface{}{"rotation_period": "1h"})
	cfg := e.configData()
	for k, want := range map[string]interface{}{"rotation_period": int64(3600), "rotation_schedule": "", "last_rotation": "",
		"next_rotation": formatTime(t0.Add(time.Hour)), "last_rotation_error": "", "rotation_failed_attempts": 0} {
		if cfg[k] != want {
			t.Errorf("config %s = %v, want %v", k, cfg[k], want)
		}
	}

	e.clock.Advance(59 * time.Minute)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if got := e.configData()["access_key"]; got != e.engineKeyID {
		t.Fatalf("rotated before the period: %v", got)
	}
	e.clock.Advance(time.Minute + 20*time.Second)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	cfg = e.configData()
	newID := cfg["access_key"].(string)
	if newID == e.engineKeyID {
		t.Fatal("not rotated at the period")
	}
	now := e.clock.Now()
	if cfg["last_rotation"] != formatTime(now) || cfg["next_rotation"] != formatTime(t0.Add(2*time.Hour)) {
		t.Errorf("after the scheduled rotation last_rotation %v next_rotation %v, want %s and %s",
			cfg["last_rotation"], cfg["next_rotation"], formatTime(now), formatTime(t0.Add(2*time.Hour)))
	}
	e.assertEngineKeyRefused()
	e.assertEngineWorks()
	if got := e.keysOf(engineUser); !equalStrings(got, []string{newID}) {
		t.Errorf("engine user keys %v, want only %s", got, newID)
	}

	// config/rotate-root is the same rotation: it moves the schedule too.
	e.clock.Advance(10 * time.Minute)
	resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	cfg = e.configData()
	now = e.clock.Now()
	if cfg["access_key"] != resp.Data["access_key"] || cfg["last_rotation"] != formatTime(now) || cfg["next_rotation"] != formatTime(now.Add(time.Hour)) {
		t.Errorf("after config/rotate-root: %v", cfg)
	}

	// A changed period counts from the last rotation and applies at once.
	e.clock.Advance(30 * time.Minute)
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"rotation_period": "20m"})
	if got := e.configData()["next_rotation"]; got != formatTime(now.Add(20*time.Minute)) {
		t.Errorf("next_rotation after shortening the period = %v, want %s", got, formatTime(now.Add(20*time.Minute)))
	}
	before := e.configData()["access_key"]
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if got := e.configData()["access_key"]; got == before {
		t.Error("the shortened period was not applied at the next run")
	}
}

func TestScheduleRoot_Cron(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"rotation_schedule": "30 3 * * *"})
	now := e.clock.Now().UTC()
	want := time.Date(now.Year(), now.Month(), now.Day(), 3, 30, 0, 0, time.UTC)
	if !want.After(now) {
		want = want.AddDate(0, 0, 1)
	}
	cfg := e.configData()
	if cfg["rotation_schedule"] != "30 3 * * *" || cfg["rotation_period"] != int64(0) || cfg["next_rotation"] != formatTime(want) {
		t.Fatalf("config after setting a cron schedule: schedule %v period %v next %v; want next %s", cfg["rotation_schedule"], cfg["rotation_period"], cfg["next_rotation"], formatTime(want))
	}
	e.clockTo(want.Add(-time.Second))
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if e.configData()["access_key"] != e.engineKeyID {
		t.Fatal("rotated before the scheduled time")
	}
	e.clockTo(want.Add(40 * time.Second))
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	cfg = e.configData()
	if cfg["access_key"] == e.engineKeyID || cfg["next_rotation"] != formatTime(want.AddDate(0, 0, 1)) {
		t.Errorf("after the cron rotation: key %v next %v, want a new key and %s", cfg["access_key"], cfg["next_rotation"], formatTime(want.AddDate(0, 0, 1)))
	}
	e.assertEngineKeyRefused()
	e.assertEngineWorks()

	// Switching to a period replaces the schedule; turning it off clears next_rotation.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"rotation_period": "2h"})
	if cfg := e.configData(); cfg["rotation_schedule"] != "" || cfg["rotation_period"] != int64(7200) {
		t.Errorf("after switching to a period: %v", cfg)
	}
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"rotation_period": 0})
	if cfg := e.configData(); cfg["next_rotation"] != "" || cfg["last_rotation"] == "" {
		t.Errorf("after turning rotation off: next %v last %v", cfg["next_rotation"], cfg["last_rotation"])
	}
	e.clock.Advance(72 * time.Hour)
	before := e.configData()["access_key"]
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if e.configData()["access_key"] != before {
		t.Error("rotated with the schedule turned off")
	}
}

func TestScheduleRoot_FailureRetriedWithBackoff(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"rotation_period": "1h"})
	extra, _, err := e.emu.CreateAccessKey(engineUser)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if err := e.rootTick(); err == nil || !strings.Contains(err.Error(), "already has two AccessKeys") {
		t.Fatalf("run with a second key on the engine user: %v, want the two-key refusal", err)
	}
	now := e.clock.Now()
	cfg := e.configData()
	if cfg["rotation_failed_attempts"] != 1 || !strings.Contains(cfg["last_rotation_error"].(string), extra) ||
		cfg["next_rotation_attempt"] != formatTime(now.Add(time.Minute)) || cfg["access_key"] != e.engineKeyID {
		t.Fatalf("after a failed scheduled rotation: %v", cfg)
	}
	if err := e.client(e.engineKeyID, e.engineSecret, "").DeleteAccessKey(e.ctx, engineUser, extra); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if e.configData()["access_key"] != e.engineKeyID {
		t.Fatal("retried during the backoff")
	}
	e.clock.Advance(30 * time.Second)
	if err := e.rootTick(); err != nil {
		t.Fatalf("retry: %v", err)
	}
	cfg = e.configData()
	if cfg["access_key"] == e.engineKeyID || cfg["last_rotation_error"] != "" || cfg["rotation_failed_attempts"] != 0 || cfg["next_rotation_attempt"] != "" {
		t.Errorf("after the successful retry: %v", cfg)
	}
	e.assertEngineWorks()
}

func TestScheduleRoot_RestartAndPeriodicFunc(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"rotation_period": "1h"})
	e.b = e.newBackend()
	e.clock.Advance(time.Hour)
	if err := e.b.periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
		t.Fatal(err)
	}
	if e.configData()["access_key"] == e.engineKeyID {
		t.Fatal("the restarted backend's periodic function did not rotate the root key")
	}
	e.assertEngineWorks()

	// Deleting the config deletes its schedule.
	e.ok(logical.DeleteOperation, "config", nil)
	if r, err := readRootRotation(e.ctx, e.s); err != nil || r.scheduled() || !r.LastRotation.IsZero() {
		t.Errorf("schedule after the config was deleted: %+v, %v", r, err)
	}
}

func TestScheduleRoot_Validation(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	for _, tc := range []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"both", map[string]interface{}{"rotation_period": "1h", "rotation_schedule": "0 * * * *"}, "rotation_period, rotation_schedule: give one or the other"},
		{"short period", map[string]interface{}{"rotation_period": "30s"}, "rotation_period: must be at least 60 seconds"},
		{"bad cron", map[string]interface{}{"rotation_schedule": "every day"}, "rotation_schedule: must be a cron schedule of five fields"},
		{"six fields", map[string]interface{}{"rotation_schedule": "0 0 3 * * *"}, "rotation_schedule: must be a cron schedule"},
		{"time zone", map[string]interface{}{"rotation_schedule": "CRON_TZ=Asia/Shanghai 0 3 * * *"}, "times are UTC"},
		{"short window", map[string]interface{}{"rotation_schedule": "0 3 * * *", "rotation_window": "30m"}, "rotation_window: must be at least 3600 seconds"},
		{"window with a period", map[string]interface{}{"rotation_period": "1h", "rotation_window": "2h"}, "rotation_window: applies to rotation_schedule only"},
		{"window without a schedule", map[string]interface{}{"rotation_window": "2h"}, "rotation_window: applies to rotation_schedule only"},
		{"not an AccessKey", map[string]interface{}{"credential_type": credTypeRAMRoleARN, "role_arn": e.engineRoleARN,
			"access_key": e.engineKeyID, "secret_key": e.engineSecret, "rotation_period": "1h"}, `rotation_period: only an AccessKey config (credential_type "access_key") can be rotated`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.badRequest(logical.UpdateOperation, "config", tc.data, tc.want)
			if cfg := e.configData(); cfg["next_rotation"] != "" || cfg["credential_type"] != credTypeAccessKey {
				t.Errorf("a refused write changed the config: %v", cfg)
			}
		})
	}

	t.Run("changing the credential type turns the schedule off", func(t *testing.T) {
		e.ok(logical.UpdateOperation, "config", map[string]interface{}{"rotation_period": "1h"})
		resp := e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": credTypeRAMRoleARN, "role_arn": e.engineRoleARN,
			"access_key": e.engineKeyID, "secret_key": e.engineSecret})
		if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "scheduled root rotation is turned off") {
			t.Errorf("warnings %v", resp)
		}
		if cfg := e.configData(); cfg["rotation_period"] != int64(0) || cfg["next_rotation"] != "" {
			t.Errorf("schedule after the type change: %v", cfg)
		}
	})
}

// TestScheduleRoot_Disable: disable_automated_rotation pauses the schedule
// and keeps it; resuming runs a rotation that fell due meanwhile.
func TestScheduleRoot_Disable(t *testing.T) {
	e := newTestEnv(t)
	t0 := e.clock.Now()
	e.configure(map[string]interface{}{"rotation_period": "1h"})
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"disable_automated_rotation": true})
	cfg := e.configData()
	if cfg["disable_automated_rotation"] != true || cfg["rotation_period"] != int64(3600) || cfg["next_rotation"] != formatTime(t0.Add(time.Hour)) {
		t.Fatalf("config after pausing: %v", cfg)
	}
	e.clock.Advance(3 * time.Hour)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	if got := e.configData()["access_key"]; got != e.engineKeyID {
		t.Fatalf("rotated while paused: %v", got)
	}
	// A manual rotation still works while paused.
	e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	rotated := e.configData()["access_key"]
	if rotated == e.engineKeyID {
		t.Fatal("config/rotate-root did nothing while paused")
	}
	e.clock.Advance(2 * time.Hour)
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"disable_automated_rotation": false})
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	cfg = e.configData()
	if cfg["disable_automated_rotation"] != false || cfg["access_key"] == rotated {
		t.Fatalf("after resuming, the overdue rotation did not run: %v", cfg)
	}
	e.assertEngineWorks()
}

// TestScheduleRoot_Window: a cron rotation that could not run within
// rotation_window of its time (Vault was down) is skipped for the next one.
func TestScheduleRoot_Window(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"rotation_schedule": "0 3 * * *", "rotation_window": "2h"})
	cfg := e.configData()
	if cfg["rotation_window"] != int64(7200) {
		t.Fatalf("rotation_window = %v", cfg["rotation_window"])
	}
	next, err := time.Parse(time.RFC3339, cfg["next_rotation"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// Down from before 03:00 until 05:30: the 03:00 rotation is skipped.
	e.clock.Advance(next.Sub(e.clock.Now()) + 2*time.Hour + 30*time.Minute)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	cfg = e.configData()
	if cfg["access_key"] != e.engineKeyID {
		t.Fatal("rotated outside the window")
	}
	if cfg["next_rotation"] != formatTime(next.AddDate(0, 0, 1)) || !strings.Contains(cfg["last_rotation_error"].(string), "did not happen within rotation_window") {
		t.Fatalf("after the missed window: next %v, error %q; want %s", cfg["next_rotation"], cfg["last_rotation_error"], formatTime(next.AddDate(0, 0, 1)))
	}
	// Within the window of the next day's time, it rotates.
	e.clock.Advance(24*time.Hour - 90*time.Minute)
	if err := e.rootTick(); err != nil {
		t.Fatal(err)
	}
	cfg = e.configData()
	if cfg["access_key"] == e.engineKeyID || cfg["last_rotation_error"] != "" {
		t.Fatalf("within the window: %v", cfg)
	}
	// Switching to a period drops the window, which applies to cron only.
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"rotation_period": "1h"})
	if cfg := e.configData(); cfg["rotation_window"] != int64(0) || cfg["rotation_schedule"] != "" {
		t.Fatalf("after switching to a period: %v", cfg)
	}
}
