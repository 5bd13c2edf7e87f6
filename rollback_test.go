package alicloud

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestRollback_RAMUserCrash stops the process at each step of a RAM user's
// creation, restarts it (a new backend on the same storage) and runs Vault's
// rollback: nothing may be left in RAM.
func TestRollback_RAMUserCrash(t *testing.T) {
	steps := []struct {
		step     string
		userLeft bool
	}{
		{"ram_user:wal", false},
		{"ram_user:create_user", true},
		{"ram_user:attach_policy", true},
		{"ram_user:add_group", true},
		{"ram_user:create_access_key", true},
	}
	for _, tc := range steps {
		t.Run(tc.step, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{
				"inline_policies": "[" + ecsDescribeDoc + "]",
				"remote_policies": []string{"name:AliyunOSSReadOnlyAccess,type:System"},
				"ram_groups":      "developers",
			})
			baseline := e.emu.Snapshot()

			e.crashAtStep(tc.step)
			if _, err := e.do(logical.ReadOperation, "creds/dev", nil); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("issue: %v, want the simulated crash", err)
			}
			e.crashAtStep("")
			if got := len(e.userNames()) == 1; got != tc.userLeft {
				t.Fatalf("after the crash users = %v, want a user left: %v", e.userNames(), tc.userLeft)
			}
			if kinds := e.walEntries(); !reflect.DeepEqual(kinds, []string{walKindRAMUser}) {
				t.Fatalf("WAL after the crash = %v", kinds)
			}
			if tc.userLeft {
				u := e.user(e.userNames()[0])
				if tc.step == "ram_user:create_access_key" && len(u.AccessKeys) != 1 {
					t.Fatalf("the crash after CreateAccessKey left keys %v", u.AccessKeys)
				}
			}

			// A restarted process: a new backend on the same storage.
			e.b = e.newBackend()
			// A fresh entry may belong to a request still running: left alone.
			e.rollback()
			if kinds := e.walEntries(); len(kinds) != 1 {
				t.Fatalf("a fresh WAL entry was rolled back (entries now %v)", kinds)
			}
			if got := len(e.userNames()) == 1; got != tc.userLeft {
				t.Fatalf("a fresh WAL entry's user was touched")
			}
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			if kinds := e.walEntries(); len(kinds) != 0 {
				t.Fatalf("WAL after the rollback = %v", kinds)
			}
			after := e.emu.Snapshot()
			if !reflect.DeepEqual(after.Users, baseline.Users) || !reflect.DeepEqual(after.Groups, baseline.Groups) {
				t.Fatalf("RAM after the rollback differs from before the issue:\nusers %+v\nwant  %+v", after.Users, baseline.Users)
			}
			if len(after.Policies) != 1 || after.Policies[0].AttachmentCount != 0 {
				t.Fatalf("policies after the rollback = %+v", after.Policies)
			}

			// The engine keeps working afterwards.
			resp := e.ok(logical.ReadOperation, "creds/dev", nil)
			if err := e.revoke(resp); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRollback_RAMUserFailureMidway makes RAM fail at each step (after its
// retries); the request cleans up before returning, without the rollback.
func TestRollback_RAMUserFailureMidway(t *testing.T) {
	for _, action := range []string{"CreateUser", "AttachPolicyToUser", "AddUserToGroup", "CreateAccessKey"} {
		t.Run(action, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(map[string]interface{}{"max_retries": 1})
			e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{
				"remote_policies": []string{"name:AliyunOSSReadOnlyAccess,type:System"},
				"ram_groups":      "developers",
			})
			e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: action, Kind: emulator.Fault5xx, Status: 500}}})
			e.fails(logical.ReadOperation, "creds/dev", nil, action)
			e.emu.SetFaults(emulator.FaultConfig{})
			if users := e.userNames(); len(users) != 0 {
				t.Fatalf("users left after a failed issue: %v", users)
			}
			if kinds := e.walEntries(); len(kinds) != 0 {
				t.Fatalf("WAL entries left after a cleaned-up failure: %v", kinds)
			}
		})
	}

	// A dropped connection on CreateUser may or may not have created the
	// user: the issue asks RAM, and tries again when nothing was made.
	t.Run("dropped CreateUser", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(map[string]interface{}{"max_retries": 0})
		e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"ram_groups": "developers"})
		e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "CreateUser", Kind: emulator.FaultDrop, Count: 1}}})
		resp := e.ok(logical.ReadOperation, "creds/dev", nil)
		if got := e.counter("ram:CreateUser"); got != 2 {
			t.Fatalf("CreateUser calls = %d, want 2 (the dropped one, then one after RAM said there was no user)", got)
		}
		if kinds := e.walEntries(); len(kinds) != 0 || len(e.userNames()) != 1 {
			t.Fatalf("after the issue: WAL %v, users %v", kinds, e.userNames())
		}
		if err := e.revoke(resp); err != nil || len(e.userNames()) != 0 {
			t.Fatalf("revoke: %v, users %v", err, e.userNames())
		}
	})

	// When the issue cannot look (RAM fails its GetUser as well), the WAL
	// entry stays for the rollback.
	t.Run("dropped CreateUser, clean-up fails", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(map[string]interface{}{"max_retries": 0})
		e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"ram_groups": "developers"})
		la.lose("CreateUser", 1)
		la.lose("GetUser", 2)
		e.fails(logical.ReadOperation, "creds/dev", nil, "CreateUser")
		if kinds := e.walEntries(); !reflect.DeepEqual(kinds, []string{walKindRAMUser}) || len(e.userNames()) != 1 {
			t.Fatalf("WAL = %v, users %v: want the ram_user entry kept for the user that exists", kinds, e.userNames())
		}
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		if kinds := e.walEntries(); len(kinds) != 0 || len(e.userNames()) != 0 {
			t.Fatalf("after the rollback: WAL %v, users %v", kinds, e.userNames())
		}
	})
}

// TestRollback_RolePolicyCrash stops a role write after it created a custom
// policy and before it stored the role.
func TestRollback_RolePolicyCrash(t *testing.T) {
	for _, step := range []string{"role_policy:wal", "role_policy:create"} {
		t.Run(step, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			// A second role keeps its policy: the rollback must not touch it.
			e.ok(logical.CreateOperation, "role/keep", map[string]interface{}{"inline_policies": "[" + ossDoc + "]"})
			e.crashAtStep(step)
			if _, err := e.do(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"}); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("role write: %v, want the simulated crash", err)
			}
			e.crashAtStep("")
			if r := e.ok(logical.ReadOperation, "role/web", nil); r != nil {
				t.Fatal("the crashed write stored the role")
			}
			e.b = e.newBackend()
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			if names := e.policyNames(); !reflect.DeepEqual(names, []string{"vault-5f0c1a2b-keep-0"}) {
				t.Fatalf("policies after the rollback = %v", names)
			}
			if kinds := e.walEntries(); len(kinds) != 0 {
				t.Fatalf("WAL after the rollback = %v", kinds)
			}
			// Writing the role again works.
			e.ok(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
			if e.policy("vault-5f0c1a2b-web-0") == nil {
				t.Fatal("role policy not created on the second write")
			}
		})
	}

	// A WAL entry whose role was stored after all (the crash came after the
	// role write) leaves the policy alone.
	t.Run("stored role keeps its policy", func(t *testing.T) {
		e := newTestEnv(t)
		e.configure(nil)
		e.ok(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
		if err := e.b.walRollback(e.ctx, &logical.Request{Storage: e.s}, walKindRolePolicy, map[string]interface{}{"policy_name": "vault-5f0c1a2b-web-0", "role_name": "web"}); err != nil {
			t.Fatal(err)
		}
		if e.policy("vault-5f0c1a2b-web-0") == nil {
			t.Fatal("the rollback deleted a policy the stored role uses")
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		e := newTestEnv(t)
		if err := e.b.walRollback(e.ctx, &logical.Request{Storage: e.s}, "mystery", nil); err == nil || !strings.Contains(err.Error(), `unknown WAL entry kind "mystery"`) {
			t.Fatalf("unknown kind: %v", err)
		}
	})
}

// TestRevoke_OutOfBandAdditions gives a user extra keys, policies and groups
// outside Vault; revocation still removes the user.
func TestRevoke_OutOfBandAdditions(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]", "ram_groups": "developers"})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	user := resp.Secret.InternalData["username"].(string)

	_, extraSecret, err := e.emu.CreateAccessKey(user)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(extraSecret)
	for _, p := range []string{"AliyunOSSReadOnlyAccess", "ReadOnlyAccess"} {
		if err := e.emu.AttachPolicy("user", user, "System", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.emu.CreatePolicy("hand-made", ossDoc); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.AttachPolicy("user", user, "Custom", "hand-made"); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.AddUserToGroup(user, "auditors"); err != nil {
		t.Fatal(err)
	}
	u := e.user(user)
	if len(u.AccessKeys) != 2 || len(u.Policies) != 4 || len(u.Groups) != 2 {
		t.Fatalf("set-up: %+v", u)
	}

	e.emu.ResetCounters()
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if e.user(user) != nil {
		t.Fatalf("user survived: %+v", e.user(user))
	}
	// The lease's record did not cover the additions: RAM refused the
	// deletion and the revocation listed what the user has.
	if c := e.emu.Counters(); c["ram:DeleteUser"] != 2 || c["ram:ListAccessKeys"] != 1 {
		t.Errorf("calls = %v, want a refused DeleteUser, then the listing and a second DeleteUser", c)
	}
	// Policies are detached, never deleted, unless Vault created them for it.
	if e.policy("hand-made") == nil || e.policy("vault-5f0c1a2b-dev-0") == nil {
		t.Fatalf("policies after revocation: %v", e.policyNames())
	}
	for _, g := range e.emu.Snapshot().Groups {
		if len(g.Users) != 0 {
			t.Errorf("group %s still has %v", g.Name, g.Users)
		}
	}
}

// TestRevoke_ThrottledRetried checks that revocation survives throttling
// within its retries and reports persistent throttling as a 502.
func TestRevoke_Throttled(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"max_retries": 2})
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"ram_groups": "developers"})
	a := e.ok(logical.ReadOperation, "creds/dev", nil)
	b := e.ok(logical.ReadOperation, "creds/dev", nil)

	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "DeleteUser", Kind: emulator.FaultThrottle, Count: 2}}})
	if err := e.revoke(a); err != nil {
		t.Fatalf("revoke with throttling cleared by retries: %v", err)
	}
	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "*", Kind: emulator.FaultThrottle}}})
	err := e.revoke(b)
	if !errors.Is(err, logical.ErrUpstreamRateLimited) {
		t.Fatalf("revoke under persistent throttling: %v, want ErrUpstreamRateLimited", err)
	}
	e.emu.SetFaults(emulator.FaultConfig{})
	if err := e.revoke(b); err != nil {
		t.Fatalf("revoke once throttling stopped: %v", err)
	}
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users left: %v", users)
	}
}

// TestRevoke_FromLeaseData: a user with only what its lease recorded is
// removed without listing anything: the key, the policies and the groups,
// then the user.
func TestRevoke_FromLeaseData(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{
		"inline_policies": "[" + ecsDescribeDoc + "]",
		"remote_policies": []string{"name:AliyunOSSReadOnlyAccess,type:System"},
		"ram_groups":      "developers",
	})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	user := resp.Secret.InternalData["username"].(string)
	e.ok(logical.DeleteOperation, "role/dev", nil)

	e.emu.ResetCounters()
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if e.user(user) != nil {
		t.Fatalf("user survived: %+v", e.user(user))
	}
	want := map[string]int64{"ram:DeleteAccessKey": 1, "ram:DetachPolicyFromUser": 2, "ram:RemoveUserFromGroup": 1, "ram:DeleteUser": 1}
	got := e.emu.Counters()
	for action, n := range want {
		if got[action] != n {
			t.Errorf("%s called %d times, want %d (all calls: %v)", action, got[action], n, got)
		}
	}
	for _, list := range []string{"ram:ListAccessKeys", "ram:ListPoliciesForUser", "ram:ListGroupsForUser"} {
		if got[list] != 0 {
			t.Errorf("%s called %d times, want none", list, got[list])
		}
	}
	// The role is gone and so was its last holder: its custom policy goes too.
	if e.policy("vault-5f0c1a2b-dev-0") != nil {
		t.Errorf("the deleted role's custom policy survived its last holder: %v", e.policyNames())
	}
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
}

// TestRollback_RolePolicyVersionCrash stops a role write that changes an
// inline policy after it wrote its WAL entry, and after it added the new
// version to RAM, before it stored the role: the rollback sets RAM back to
// the stored role's document.
func TestRollback_RolePolicyVersionCrash(t *testing.T) {
	for _, step := range []string{"role_policy_version:wal", "role_policy_version:create"} {
		t.Run(step, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			e.ok(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
			defaultDoc := func() string {
				t.Helper()
				p := e.policy("vault-5f0c1a2b-web-0")
				if p == nil {
					t.Fatal("the role's policy is gone")
				}
				for _, v := range p.Versions {
					if v.Default {
						return v.Document
					}
				}
				t.Fatal("no default version")
				return ""
			}
			stored := defaultDoc()

			e.crashAtStep(step)
			if _, err := e.do(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ossDoc + "]"}); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("role write: %v, want the simulated crash", err)
			}
			e.crashAtStep("")
			if kinds := e.walEntries(); !reflect.DeepEqual(kinds, []string{walKindRolePolicyVersion}) {
				t.Fatalf("WAL after the crash = %v", kinds)
			}
			if ahead := defaultDoc() != stored; ahead != (step == "role_policy_version:create") {
				t.Fatalf("after the crash RAM is ahead of the stored role: %v", ahead)
			}

			e.b = e.newBackend()
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			if got := defaultDoc(); !sameJSON(got, stored) {
				t.Fatalf("RAM's document after the rollback = %s, want the stored role's %s", got, stored)
			}
			if kinds := e.walEntries(); len(kinds) != 0 {
				t.Fatalf("WAL after the rollback = %v", kinds)
			}
			// The write, done again, goes through.
			e.ok(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ossDoc + "]"})
			if sameJSON(defaultDoc(), stored) {
				t.Fatal("the second write did not change the policy")
			}
			// An entry left by a write whose role was stored after all (the
			// crash came after the role write) changes nothing.
			versions := len(e.policy("vault-5f0c1a2b-web-0").Versions)
			if err := e.b.walRollback(e.ctx, &logical.Request{Storage: e.s}, walKindRolePolicyVersion, map[string]interface{}{"policy_name": "vault-5f0c1a2b-web-0", "role_name": "web"}); err != nil {
				t.Fatal(err)
			}
			if got := len(e.policy("vault-5f0c1a2b-web-0").Versions); got != versions || sameJSON(defaultDoc(), stored) {
				t.Fatalf("a rollback for a stored role changed the policy: %d versions, was %d", got, versions)
			}
		})
	}
}
