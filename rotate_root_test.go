package alicloud

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// engineKeys returns the AccessKey ids of the engine's RAM user.
func (e *testEnv) engineKeys() []string {
	var ids []string
	for _, k := range e.user(engineUser).AccessKeys {
		ids = append(ids, k.ID)
	}
	return ids
}

// storedKeyWorks checks that the key in storage is accepted by STS as the
// engine's user, and returns its id.
func (e *testEnv) storedKeyWorks() string {
	e.t.Helper()
	cfg, err := readConfig(e.ctx, e.s)
	if err != nil || cfg == nil {
		e.t.Fatalf("stored config: %v %v", cfg, err)
	}
	e.addSecret(cfg.SecretKey)
	id, err := e.client(cfg.AccessKey, cfg.SecretKey, "").GetCallerIdentity(e.ctx)
	if err != nil {
		e.t.Fatalf("the stored key %s does not work: %v", cfg.AccessKey, err)
	}
	if want := "acs:ram::" + e.acct + ":user/" + engineUser; id.Arn != want {
		e.t.Fatalf("the stored key belongs to %s", id.Arn)
	}
	return cfg.AccessKey
}

func TestRotateRoot(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	old := e.engineKeyID

	resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	newID, _ := resp.Data["access_key"].(string)
	if newID == "" || newID == old || len(resp.Data) != 1 {
		t.Fatalf("rotate-root response = %v", resp.Data)
	}
	if got := e.storedKeyWorks(); got != newID {
		t.Fatalf("stored key %s, want %s", got, newID)
	}
	if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{newID}) {
		t.Fatalf("user keys = %v, want only %s", keys, newID)
	}
	if _, err := e.client(old, e.engineSecret, "").GetCallerIdentity(e.ctx); !aliyun.IsAuthFailure(err) {
		t.Fatalf("old key after rotation: %v, want refused", err)
	}
	if got := e.ok(logical.ReadOperation, "config", nil).Data["access_key"]; got != newID {
		t.Errorf("config read access_key = %v", got)
	}
	if kinds := e.walEntries(); len(kinds) != 0 {
		t.Errorf("WAL entries left: %v", kinds)
	}
	// The cached client moved to the new key: issuing keeps working.
	e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/reader", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")

	// Twice in a row works too (the slot is free again).
	second := e.ok(logical.UpdateOperation, "config/rotate-root", nil).Data["access_key"]
	if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{second.(string)}) {
		t.Fatalf("after a second rotation keys = %v", keys)
	}
}

func TestRotateRoot_Refusals(t *testing.T) {
	t.Run("two keys", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(nil)
		other, otherSecret, err := e.emu.CreateAccessKey(engineUser)
		if err != nil {
			t.Fatal(err)
		}
		e.addSecret(otherSecret)
		e.badRequest(logical.UpdateOperation, "config/rotate-root", nil,
			`RAM user "vault-engine" already has two AccessKeys (`)
		resp, _ := e.do(logical.UpdateOperation, "config/rotate-root", nil)
		if msg := resp.Error().Error(); !strings.Contains(msg, e.engineKeyID) || !strings.Contains(msg, "delete the one Vault does not use ("+other+")") {
			t.Errorf("message %q does not name both keys and the one to delete", msg)
		}
		if keys := e.engineKeys(); len(keys) != 2 || e.storedKeyWorks() != e.engineKeyID {
			t.Errorf("a refused rotation changed something: keys %v", keys)
		}
	})
	t.Run("main account key", func(t *testing.T) {
		e := newTestEnv(t)
		id, secret := e.emu.MainAccessKey()
		e.addSecret(secret)
		e.ok(logical.UpdateOperation, "config", map[string]interface{}{"access_key": id, "secret_key": secret, "sts_endpoint": e.url, "ram_endpoint": e.url})
		e.badRequest(logical.UpdateOperation, "config/rotate-root", nil, "belongs to Account acs:ram::"+e.acct+":root, not to a RAM user")
	})
	t.Run("not an AccessKey config", func(t *testing.T) {
		e := newTestEnv(t)
		e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "ram_role_arn", "access_key": e.engineKeyID, "secret_key": e.engineSecret,
			"role_arn": e.engineRoleARN, "sts_endpoint": e.url, "ram_endpoint": e.url})
		e.badRequest(logical.UpdateOperation, "config/rotate-root", nil, `only an AccessKey config (credential_type "access_key") can be rotated; this config uses "ram_role_arn"`)
	})
	t.Run("no config", func(t *testing.T) {
		e := newTestEnv(t)
		e.badRequest(logical.UpdateOperation, "config/rotate-root", nil, "config: the engine has no config to rotate")
	})
}

// TestRotateRoot_Crash stops the rotation at each step: storage must hold a
// working key at once, and the rollback must leave exactly that key.
func TestRotateRoot_Crash(t *testing.T) {
	for _, step := range []string{"rotate_root:wal", "rotate_root:create_key", "rotate_root:confirm", "rotate_root:store", "rotate_root:delete_old"} {
		t.Run(step, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
			e.crashAtStep(step)
			if _, err := e.do(logical.UpdateOperation, "config/rotate-root", nil); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("rotate-root: %v, want the simulated crash", err)
			}
			e.crashAtStep("")
			stored := e.storedKeyWorks()
			if keys := e.engineKeys(); len(keys) > 2 || !contains(keys, stored) {
				t.Fatalf("after the crash keys = %v, stored %s", keys, stored)
			}

			e.b = e.newBackend()
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{stored}) {
				t.Fatalf("after the rollback keys = %v, want only the stored %s", keys, stored)
			}
			if got := e.storedKeyWorks(); got != stored {
				t.Fatalf("stored key changed to %s", got)
			}
			if kinds := e.walEntries(); len(kinds) != 0 {
				t.Fatalf("WAL after the rollback = %v", kinds)
			}
			e.ok(logical.ReadOperation, "creds/reader", nil)
			// And the next rotation has room.
			e.ok(logical.UpdateOperation, "config/rotate-root", nil)
			if keys := e.engineKeys(); len(keys) != 1 {
				t.Fatalf("keys after the next rotation = %v", keys)
			}
		})
	}
}

// TestRotateRoot_Confirmation checks that the new key is retried while RAM
// propagates it, and abandoned if it never works.
func TestRotateRoot_Confirmation(t *testing.T) {
	t.Run("transient failures are retried", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(map[string]interface{}{"max_retries": 0})
		e.stepHook = func(step string) {
			if step == "rotate_root:create_key" {
				e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "GetCallerIdentity", Kind: emulator.Fault5xx, Count: 3}}})
			}
		}
		before := e.emu.Counters()["sts:GetCallerIdentity"]
		start := e.clock.Now()
		resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
		if got := e.storedKeyWorks(); got != resp.Data["access_key"] {
			t.Fatalf("stored %s, rotated to %v", got, resp.Data["access_key"])
		}
		// 1 check of the old key, 3 failed and 1 good check of the new one
		// (storedKeyWorks made one more).
		if got := e.emu.Counters()["sts:GetCallerIdentity"] - before; got != 6 {
			t.Errorf("GetCallerIdentity calls = %d, want 6", got)
		}
		if waited := e.clock.Now().Sub(start); waited != 3*time.Second {
			t.Errorf("waited %s between attempts, want 3s", waited)
		}
	})
	t.Run("a key that propagates late", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(nil)
		var newKey string
		e.stepHook = func(step string) {
			if step == "rotate_root:create_key" {
				for _, k := range e.engineKeys() {
					if k != e.engineKeyID {
						newKey = k
					}
				}
				// Not yet known to STS: refused as an unknown key would be.
				if err := e.emu.SetAccessKeyStatus(engineUser, newKey, "Inactive"); err != nil {
					t.Fatal(err)
				}
			}
		}
		sleeps := 0
		e.b.env.Sleep = func(ctx context.Context, d time.Duration) error {
			sleeps++
			if sleeps == 4 {
				if err := e.emu.SetAccessKeyStatus(engineUser, newKey, "Active"); err != nil {
					t.Fatal(err)
				}
			}
			return e.clock.Sleep(ctx, d)
		}
		resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
		if resp.Data["access_key"] != newKey || sleeps != 4 {
			t.Fatalf("rotated to %v after %d waits, want %s after 4", resp.Data["access_key"], sleeps, newKey)
		}
		if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{newKey}) {
			t.Fatalf("keys = %v", keys)
		}
	})
	t.Run("a key that never works is abandoned", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(nil)
		e.stepHook = func(step string) {
			if step == "rotate_root:create_key" {
				for _, k := range e.engineKeys() {
					if k != e.engineKeyID {
						if err := e.emu.SetAccessKeyStatus(engineUser, k, "Inactive"); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
		start := e.clock.Now()
		e.fails(logical.UpdateOperation, "config/rotate-root", nil, "was not accepted by STS within 10s, so it was deleted")
		if waited := e.clock.Now().Sub(start); waited < 10*time.Second || waited > 11*time.Second {
			t.Errorf("gave up after %s, want 10s", waited)
		}
		if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{e.engineKeyID}) {
			t.Fatalf("keys = %v, want only the old one", keys)
		}
		if e.storedKeyWorks() != e.engineKeyID {
			t.Fatal("config changed")
		}
		if kinds := e.walEntries(); len(kinds) != 0 {
			t.Fatalf("WAL = %v", kinds)
		}
	})
}

// TestRotateRoot_OldKeyDeletionFails keeps the WAL entry when the old key
// cannot be deleted; the rollback deletes it later.
func TestRotateRoot_OldKeyDeletionFails(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"max_retries": 0})
	e.stepHook = func(step string) {
		if step == "rotate_root:store" {
			e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "DeleteAccessKey", Kind: emulator.Fault5xx, Count: 1}}})
		}
	}
	resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	e.stepHook = nil
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "deleting the old one ("+e.engineKeyID+") failed and will be retried") {
		t.Fatalf("warnings = %v", resp.Warnings)
	}
	newID := resp.Data["access_key"].(string)
	if keys := e.engineKeys(); len(keys) != 2 || e.storedKeyWorks() != newID {
		t.Fatalf("keys = %v", keys)
	}
	if kinds := e.walEntries(); !reflect.DeepEqual(kinds, []string{walKindRotateRoot}) {
		t.Fatalf("WAL = %v", kinds)
	}
	e.ageWALs(walRollbackMinAge + time.Minute)
	e.rollback()
	if keys := e.engineKeys(); !reflect.DeepEqual(keys, []string{newID}) {
		t.Fatalf("after the rollback keys = %v, want %s", keys, newID)
	}
}
