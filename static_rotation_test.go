package alicloud

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// emulatorFaults makes the next count RAM calls of action fail with a 503;
// an empty action clears every fault.
func emulatorFaults(action string, count int) emulator.FaultConfig {
	if action == "" {
		return emulator.FaultConfig{}
	}
	return emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "ram:" + action, Kind: emulator.Fault5xx, Count: count}}}
}

// staticRole reads static-role/<name>.
func (e *testEnv) staticRole(name string) map[string]interface{} {
	e.t.Helper()
	resp := e.ok(logical.ReadOperation, "static-role/"+name, nil)
	if resp == nil {
		e.t.Fatalf("static-role/%s does not exist", name)
	}
	return resp.Data
}

// rollbackWALs rolls back every WAL entry at once, as Vault's rollback does
// for entries older than WALRollbackMinAge, without the periodic function.
func (e *testEnv) rollbackWALs() {
	e.t.Helper()
	ids, err := framework.ListWAL(e.ctx, e.s)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		w, err := framework.GetWAL(e.ctx, e.s, id)
		if err != nil || w == nil {
			e.t.Fatalf("WAL %s: %v", id, err)
		}
		if err := e.b.walRollback(e.ctx, &logical.Request{Storage: e.s}, w.Kind, w.Data); err != nil {
			e.t.Fatalf("rolling back WAL %s (%s): %v", id, w.Kind, err)
		}
		if err := framework.DeleteWAL(e.ctx, e.s, id); err != nil {
			e.t.Fatal(err)
		}
	}
}

// clockTo moves the shared clock to t.
func (e *testEnv) clockTo(t time.Time) { e.clock.Advance(t.Sub(e.clock.Now())) }

// counter returns an emulator call counter.
func (e *testEnv) counter(name string) int64 { return e.emu.Counters()[name] }

func TestStaticSchedule_RotatesAtPeriodAndDeletesAfterGrace(t *testing.T) {
	e := newStaticEnv(t, nil)
	t0 := e.clock.Now()
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	c0 := e.staticCreds("app")
	k0, s0 := c0["access_key"].(string), c0["secret_key"].(string)

	e.clock.Advance(59 * time.Minute)
	creates := e.counter("ram:CreateAccessKey")
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.staticCreds("app")["access_key"]; got != k0 || e.counter("ram:CreateAccessKey") != creates {
		t.Fatalf("rotated before the period: key %v", got)
	}

	e.clock.Advance(time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	c1 := e.staticCreds("app")
	k1, s1 := c1["access_key"].(string), c1["secret_key"].(string)
	if k1 == k0 {
		t.Fatal("not rotated at the period")
	}
	now := e.clock.Now()
	for k, want := range map[string]interface{}{
		"previous_access_key":  k0,
		"previous_key_expires": formatTime(now.Add(10 * time.Minute)),
		"last_rotated":         formatTime(now),
		"next_rotation":        formatTime(t0.Add(2 * time.Hour)),
		"ttl":                  int64(3600),
	} {
		if c1[k] != want {
			t.Errorf("after the rotation %s = %v, want %v", k, c1[k], want)
		}
	}
	e.assertKeyWorks("the new key", k1, s1)
	e.assertKeyWorks("the previous key in its grace period", k0, s0)

	e.clock.Advance(9 * time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	e.assertKeyWorks("the previous key a minute before its grace period ends", k0, s0)

	e.clock.Advance(time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	e.assertKeyRefused("the previous key after its grace period", k0, s0)
	if got := e.keysOf(staticUser); !equalStrings(got, []string{k1}) {
		t.Errorf("keys after the grace period %v, want [%s]", got, k1)
	}
	if d := e.staticRole("app"); d["previous_access_key"] != "" || d["previous_key_expires"] != "" {
		t.Errorf("the deleted previous key is still recorded: %v", d)
	}

	// A run 30 seconds late keeps the schedule: the next rotation is one
	// period after the scheduled time, not after the late run.
	e.clockTo(t0.Add(2*time.Hour + 30*time.Second))
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	c2 := e.staticCreds("app")
	if c2["access_key"] == k1 || c2["next_rotation"] != formatTime(t0.Add(3*time.Hour)) {
		t.Errorf("late run: key %v, next_rotation %v; want a rotation and %s", c2["access_key"], c2["next_rotation"], formatTime(t0.Add(3*time.Hour)))
	}
	// A run far behind (Vault was down) counts the period from now.
	e.clockTo(t0.Add(5 * time.Hour))
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	c3 := e.staticCreds("app")
	if c3["access_key"] == c2["access_key"] || c3["next_rotation"] != formatTime(t0.Add(6*time.Hour)) {
		t.Errorf("overdue run: key %v, next_rotation %v; want a rotation and %s", c3["access_key"], c3["next_rotation"], formatTime(t0.Add(6*time.Hour)))
	}
	// The overdue run also retired the key whose grace period ended.
	if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(c3["access_key"].(string), c2["access_key"].(string))) {
		t.Errorf("keys %v, want the current and the previous only", got)
	}
}

func TestStaticSchedule_ManualRotate(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "1h"})
	c0 := e.staticCreds("app")
	e.clock.Advance(3 * time.Hour)

	resp := e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	if _, ok := resp.Data["secret_key"]; ok {
		t.Error("the rotate response carries the secret; it belongs to static-creds only")
	}
	c1 := e.staticCreds("app")
	if c1["access_key"] == c0["access_key"] || resp.Data["access_key"] != c1["access_key"] {
		t.Fatalf("rotate: response key %v, static-creds %v, before %v", resp.Data["access_key"], c1["access_key"], c0["access_key"])
	}
	now := e.clock.Now()
	if resp.Data["next_rotation"] != formatTime(now.Add(24*time.Hour)) || resp.Data["previous_access_key"] != c0["access_key"] {
		t.Errorf("rotate response %v: want next_rotation %s and previous %v", resp.Data, formatTime(now.Add(24*time.Hour)), c0["access_key"])
	}
	if len(resp.Warnings) != 0 {
		t.Errorf("rotate warned: %v", resp.Warnings)
	}
	e.assertKeyWorks("the rotated key", c1["access_key"].(string), c1["secret_key"].(string))
	e.assertKeyWorks("the previous key", c0["access_key"].(string), c0["secret_key"].(string))

	// Rotating again within the grace period cuts it short for the oldest key.
	e.clock.Advance(10 * time.Minute)
	resp = e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	c2 := e.staticCreds("app")
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], c0["access_key"].(string)) || !strings.Contains(resp.Warnings[0], "before its grace period ended") {
		t.Errorf("warnings %v do not say the previous key was deleted early", resp.Warnings)
	}
	if got := resp.Data["deleted_access_keys"].([]string); !equalStrings(got, []string{c0["access_key"].(string)}) {
		t.Errorf("deleted_access_keys = %v", got)
	}
	if got := e.keysOf(staticUser); !equalStrings(got, sortedStrings(c1["access_key"].(string), c2["access_key"].(string))) {
		t.Errorf("keys %v, want the two latest", got)
	}
	e.assertKeyRefused("the oldest key", c0["access_key"].(string), c0["secret_key"].(string))
	e.badRequest(logical.UpdateOperation, "static-role/missing/rotate", nil, `static role "missing" does not exist`)
}

func TestStaticSchedule_CurrentKeyDeletedOutOfBand(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	k0 := e.staticCreds("app")["access_key"].(string)
	if err := e.client(e.engineKeyID, e.engineSecret, "").DeleteAccessKey(e.ctx, staticUser, k0); err != nil {
		t.Fatal(err)
	}
	resp := e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], k0+" was no longer in RAM") {
		t.Errorf("warnings %v do not report the vanished key", resp.Warnings)
	}
	c := e.staticCreds("app")
	if c["previous_access_key"] != "" {
		t.Errorf("a vanished key became the previous key: %v", c["previous_access_key"])
	}
	e.assertKeyWorks("the replacement key", c["access_key"].(string), c["secret_key"].(string))
}

func TestStaticSchedule_PeriodChange(t *testing.T) {
	e := newStaticEnv(t, nil)
	t0 := e.clock.Now()
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "30m"})
	k0 := e.staticCreds("app")["access_key"]
	e.clock.Advance(2 * time.Hour)
	if err := e.tick(); err != nil { // the schedule now knows "due in 22h"
		t.Fatal(err)
	}

	// Shorter than the key's age: due at once, picked up by the next run.
	resp := e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"rotation_period": "1h"})
	if resp.Data["next_rotation"] != formatTime(t0.Add(time.Hour)) {
		t.Errorf("next_rotation after shortening = %v, want %s (last rotation + new period)", resp.Data["next_rotation"], formatTime(t0.Add(time.Hour)))
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "older than the new rotation_period") {
		t.Errorf("warnings %v", resp.Warnings)
	}
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	c1 := e.staticCreds("app")
	if c1["access_key"] == k0 {
		t.Fatal("the shortened period was not picked up by the next run")
	}
	t1 := e.clock.Now()
	if c1["next_rotation"] != formatTime(t1.Add(time.Hour)) {
		t.Errorf("next_rotation = %v, want %s", c1["next_rotation"], formatTime(t1.Add(time.Hour)))
	}

	// Longer: the old due time passes without a rotation. A grace period
	// change applies to the key in its grace period too.
	resp = e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"rotation_period": "48h", "grace_period": "3h"})
	if resp.Data["next_rotation"] != formatTime(t1.Add(48*time.Hour)) || len(resp.Warnings) != 0 {
		t.Errorf("after lengthening: next_rotation %v, warnings %v", resp.Data["next_rotation"], resp.Warnings)
	}
	if resp.Data["previous_key_expires"] != formatTime(t1.Add(3*time.Hour)) {
		t.Errorf("previous_key_expires after a grace change = %v, want %s", resp.Data["previous_key_expires"], formatTime(t1.Add(3*time.Hour)))
	}
	e.clock.Advance(2 * time.Hour)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.staticCreds("app")["access_key"]; got != c1["access_key"] {
		t.Errorf("rotated at the old period after it was lengthened")
	}
	if got := e.keysOf(staticUser); len(got) != 2 {
		t.Errorf("the previous key was deleted at the old grace period although it was extended: %v", got)
	}
	e.clock.Advance(time.Hour)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.keysOf(staticUser); !equalStrings(got, []string{c1["access_key"].(string)}) {
		t.Errorf("keys after the extended grace period %v, want only the current", got)
	}
}

func TestStaticSchedule_FailedRotationRetriedWithBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {7, time.Hour}, {40, time.Hour}} {
		if got := retryDelay(tc.n); got != tc.want {
			t.Errorf("retryDelay(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}

	e := newStaticEnv(t, map[string]interface{}{"max_retries": 0})
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	c0 := e.staticCreds("app")
	// Two failed rotations: each tries createAttempts times, since a 5xx may
	// have created a key and RAM is asked before the next attempt.
	e.emu.SetFaults(emulatorFaults("CreateAccessKey", 2*createAttempts))

	e.clock.Advance(time.Hour)
	err := e.tick()
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") {
		t.Fatalf("first attempt: error %v, want the injected ServiceUnavailable", err)
	}
	now := e.clock.Now()
	r := e.staticRole("app")
	if r["failed_attempts"] != 1 || !strings.Contains(r["last_error"].(string), "ServiceUnavailable") ||
		r["last_error_time"] != formatTime(now) || r["next_attempt"] != formatTime(now.Add(time.Minute)) {
		t.Fatalf("after a failed rotation: %v", r)
	}
	c := e.staticCreds("app")
	if c["access_key"] != c0["access_key"] || c["last_error"] != r["last_error"] {
		t.Errorf("static-creds after a failure: key %v, last_error %v", c["access_key"], c["last_error"])
	}
	e.assertKeyWorks("the key after a failed rotation", c0["access_key"].(string), c0["secret_key"].(string))

	creates := e.counter("ram:CreateAccessKey")
	e.clock.Advance(30 * time.Second)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.counter("ram:CreateAccessKey"); got != creates {
		t.Fatalf("retried during the backoff (%d CreateAccessKey calls, want %d)", got, creates)
	}
	e.clock.Advance(30 * time.Second)
	if err := e.tick(); err == nil {
		t.Fatal("second attempt succeeded, want the second injected fault")
	}
	now = e.clock.Now()
	if r := e.staticRole("app"); r["failed_attempts"] != 2 || r["next_attempt"] != formatTime(now.Add(2*time.Minute)) {
		t.Fatalf("after the second failure: %v", r)
	}
	e.clock.Advance(time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.staticCreds("app")["access_key"]; got != c0["access_key"] {
		t.Fatal("retried before the doubled backoff")
	}
	e.clock.Advance(time.Minute)
	if err := e.tick(); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	c = e.staticCreds("app")
	if c["access_key"] == c0["access_key"] {
		t.Fatal("not rotated once the faults stopped")
	}
	now = e.clock.Now()
	for k, want := range map[string]interface{}{"last_error": "", "last_error_time": "", "failed_attempts": 0, "next_attempt": "",
		"next_rotation": formatTime(now.Add(time.Hour)), "previous_access_key": c0["access_key"]} {
		if c[k] != want {
			t.Errorf("after the successful retry %s = %v, want %v", k, c[k], want)
		}
	}
	if got := e.keysOf(staticUser); len(got) != 2 {
		t.Errorf("keys after failures and a success: %v, want the current and the previous", got)
	}
}

func TestStaticSchedule_RestartKeepsSchedule(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	k0 := e.staticCreds("app")["access_key"]

	// A new process (or a new leader) on the same storage.
	e.b = e.newBackend()
	e.clock.Advance(30 * time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.staticCreds("app")["access_key"]; got != k0 {
		t.Fatal("the restarted backend rotated before the period")
	}
	e.clock.Advance(30 * time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	k1 := e.staticCreds("app")["access_key"]
	if k1 == k0 {
		t.Fatal("the restarted backend did not rotate at the period")
	}

	// Another restart during the grace period still deletes the previous key.
	e.b = e.newBackend()
	e.clock.Advance(10 * time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	if got := e.keysOf(staticUser); !equalStrings(got, []string{k1.(string)}) {
		t.Errorf("keys after the restarted backend's run %v, want [%v]", got, k1)
	}
}

// TestStaticSchedule_CrashMidRotation kills the rotation at each step, then
// lets a new process run the schedule and the WAL rollback: the user ends
// with exactly the stored current and previous keys, both working.
func TestStaticSchedule_CrashMidRotation(t *testing.T) {
	for _, step := range []string{"static:wal", "static:create_key", "static:confirm", "static:store"} {
		t.Run(step, func(t *testing.T) {
			e := newStaticEnv(t, nil)
			e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "30m"})
			c0 := e.staticCreds("app")

			e.crashAtStep(step)
			e.clock.Advance(time.Hour)
			if err := e.tick(); err == nil || !strings.Contains(err.Error(), "simulated crash") {
				t.Fatalf("tick: %v, want the simulated crash", err)
			}
			e.crashAtStep("")
			if got := e.walEntries(); len(got) != 1 || got[0] != walKindStaticKey {
				t.Fatalf("WAL entries after the crash: %v", got)
			}
			// Whatever the step, storage holds a working key.
			c := e.staticCreds("app")
			e.assertKeyWorks("the stored key after the crash", c["access_key"].(string), c["secret_key"].(string))

			e.b = e.newBackend()
			tickErr := e.tick()
			if step == "static:create_key" || step == "static:confirm" {
				// The key the crash left is not Vault's yet: the run refuses
				// to guess and backs off; the rollback deletes it.
				if tickErr == nil || !strings.Contains(tickErr.Error(), "interrupted rotation") {
					t.Fatalf("run after the crash: %v, want the left-over key named", tickErr)
				}
			} else if tickErr != nil {
				t.Fatalf("run after the crash: %v", tickErr)
			}
			e.rollbackWALs()
			if got := e.walEntries(); len(got) != 0 {
				t.Fatalf("WAL entries after the rollback: %v", got)
			}
			e.clock.Advance(2 * time.Minute) // past any backoff
			if err := e.tick(); err != nil {
				t.Fatal(err)
			}
			c = e.staticCreds("app")
			if c["access_key"] == c0["access_key"] {
				t.Fatal("the role was never rotated after the crash")
			}
			want := sortedStrings(c["access_key"].(string), c["previous_access_key"].(string))
			if got := e.keysOf(staticUser); !equalStrings(got, want) {
				t.Errorf("keys %v, want exactly the current and the previous %v", got, want)
			}
			e.assertKeyWorks("the current key", c["access_key"].(string), c["secret_key"].(string))
			if got := e.walEntries(); len(got) != 0 {
				t.Errorf("WAL entries left: %v", got)
			}
		})
	}
}

func TestStaticSchedule_CrashDuringCreate(t *testing.T) {
	for _, tc := range []struct {
		step     string
		roleKept bool
	}{{"static:create_key", false}, {"static:confirm", false}, {"static:store", true}} {
		t.Run(tc.step, func(t *testing.T) {
			e := newStaticEnv(t, nil)
			old, _, _ := e.emu.CreateAccessKey(staticUser)
			e.crashAtStep(tc.step)
			e.fails(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h"}, "simulated crash")
			e.crashAtStep("")
			e.b = e.newBackend()
			e.rollbackWALs()
			resp, _ := e.do(logical.ReadOperation, "static-creds/app", nil)
			if (resp != nil) != tc.roleKept {
				t.Fatalf("role stored: %v, want %v", resp != nil, tc.roleKept)
			}
			want := []string{old}
			if tc.roleKept {
				want = sortedStrings(old, resp.Data["access_key"].(string))
			}
			if got := e.keysOf(staticUser); !equalStrings(got, want) {
				t.Errorf("keys after the rollback %v, want %v", got, want)
			}
		})
	}
}

// TestStaticCreds_ReadDuringRotation reads static-creds at every step of a
// rotation, from inside the rotation, and uses the key at once.
func TestStaticCreds_ReadDuringRotation(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	k0 := e.staticCreds("app")["access_key"]

	var seen []string
	e.stepHook = func(step string) {
		if !strings.HasPrefix(step, "static:") {
			return
		}
		resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "static-creds/app", Storage: e.s})
		if err != nil || resp == nil {
			t.Errorf("read at %s: %v, %v", step, resp, err)
			return
		}
		id, secret := resp.Data["access_key"].(string), resp.Data["secret_key"].(string)
		e.addSecret(secret)
		if _, err := e.keyIdentity(id, secret); err != nil {
			t.Errorf("the key read at %s (%s) does not work: %v", step, id, err)
		}
		seen = append(seen, step+"="+id)
	}
	e.clock.Advance(time.Hour)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	e.stepHook = nil
	k1 := e.staticCreds("app")["access_key"]
	want := []string{"static:wal=" + k0.(string), "static:create_key=" + k0.(string), "static:confirm=" + k0.(string), "static:store=" + k1.(string)}
	if !equalStrings(seen, want) {
		t.Errorf("keys read during the rotation:\n got %v\nwant %v", seen, want)
	}
}

// TestStaticCreds_ConcurrentReadsAndRotations runs readers against manual
// and scheduled rotations (for the race detector): every read returns a
// complete key pair that Vault created.
func TestStaticCreds_ConcurrentReadsAndRotations(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	created := map[string]string{}
	c := e.staticCreds("app")
	created[c["access_key"].(string)] = c["secret_key"].(string)

	var mu sync.Mutex
	pairs := map[string]string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "static-creds/app", Storage: e.s})
				if err != nil || resp == nil {
					t.Errorf("concurrent read: %v, %v", resp, err)
					return
				}
				mu.Lock()
				pairs[resp.Data["access_key"].(string)] = resp.Data["secret_key"].(string)
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 6; i++ {
		if i%2 == 0 {
			e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
		} else {
			e.clock.Advance(time.Hour)
			if err := e.tick(); err != nil {
				t.Error(err)
			}
		}
		c := e.staticCreds("app")
		created[c["access_key"].(string)] = c["secret_key"].(string)
	}
	close(stop)
	wg.Wait()
	for id, secret := range pairs {
		e.addSecret(secret)
		if created[id] != secret {
			t.Errorf("a read returned key %s with a secret that is not the one Vault stored for it", id)
		}
	}
	if len(created) != 7 {
		t.Errorf("%d distinct keys over 6 rotations, want 7", len(created))
	}
}

// TestStaticSchedule_OnlyWhereWritesAllowed runs the periodic function on
// nodes that may not write: nothing rotates there; the active node rotates.
func TestStaticSchedule_OnlyWhereWritesAllowed(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	k0 := e.staticCreds("app")["access_key"]
	e.clock.Advance(2 * time.Hour)

	node := func(state consts.ReplicationState, local bool) *backend {
		conf := logical.TestBackendConfig()
		conf.StorageView = e.s
		conf.BackendUUID = testBackendUUID
		sv := logical.TestSystemView()
		sv.ReplicationStateVal = state
		sv.LocalMountVal = local
		conf.System = sv
		conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: e.logs})
		b := newBackend(e.env)
		if err := b.Setup(e.ctx, conf); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Cleanup(e.ctx) })
		return b
	}
	for _, tc := range []struct {
		name   string
		state  consts.ReplicationState
		local  bool
		rotate bool
	}{
		{"performance standby", consts.ReplicationPerformanceStandby, false, false},
		{"performance secondary", consts.ReplicationPerformanceSecondary, false, false},
		{"DR secondary", consts.ReplicationDRSecondary, false, false},
		{"local mount on a performance secondary", consts.ReplicationPerformanceSecondary, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.staticCreds("app")["access_key"]
			if err := node(tc.state, tc.local).periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
				t.Fatal(err)
			}
			after := e.staticCreds("app")["access_key"]
			if (after != before) != tc.rotate {
				t.Errorf("rotated: %v, want %v", after != before, tc.rotate)
			}
			e.clock.Advance(2 * time.Hour)
		})
	}
	if err := e.b.periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
		t.Fatal(err)
	}
	if got := e.staticCreds("app")["access_key"]; got == k0 {
		t.Error("the active node's periodic function did not rotate")
	}
}

func TestStaticSchedule_NotConfiguredDoesNothing(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h"})
	e.ok(logical.DeleteOperation, "config", nil)
	e.clock.Advance(2 * time.Hour)
	if err := e.tick(); err != nil {
		t.Fatalf("a run without config: %v", err)
	}
	if d := e.staticRole("app"); d["failed_attempts"] != 0 {
		t.Errorf("a run without config recorded a failure: %v", d)
	}
}

// TestStaticSchedule_RollbackAfterLaterRotations runs an old WAL entry's
// rollback after the role has moved on: the keys created since, current and
// previous, are not the rollback's to delete.
func TestStaticSchedule_RollbackAfterLaterRotations(t *testing.T) {
	e := newStaticEnv(t, nil)
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h", "grace_period": "1h"})
	e.crashAtStep("static:create_key")
	e.fails(logical.UpdateOperation, "static-role/app/rotate", nil, "simulated crash")
	e.crashAtStep("")
	leftOver := e.keysOf(staticUser)
	if len(leftOver) != 2 {
		t.Fatalf("keys after the crash: %v, want the current and the left-over one", leftOver)
	}
	resp := e.ok(logical.UpdateOperation, "static-role/app/rotate", map[string]interface{}{"take_over_keys": true})
	if got := resp.Data["deleted_access_keys"].([]string); len(got) != 1 {
		t.Fatalf("take-over rotation deleted %v, want the left-over key", got)
	}
	e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	c := e.staticCreds("app")
	want := sortedStrings(c["access_key"].(string), c["previous_access_key"].(string))
	e.rollbackWALs()
	if got := e.keysOf(staticUser); !equalStrings(got, want) {
		t.Errorf("keys after the old rollback %v, want the current and the previous %v", got, want)
	}
}
