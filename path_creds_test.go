package alicloud

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestCreds_AssumedRole(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})

	start := e.clock.Now()
	resp := e.ok(logical.ReadOperation, "creds/reader", nil)
	d := resp.Data
	for _, k := range []string{"access_key", "secret_key", "security_token"} {
		if s, _ := d[k].(string); s == "" {
			t.Fatalf("response lacks %s: %v", k, d)
		}
	}
	if !strings.HasPrefix(d["access_key"].(string), "STS.") {
		t.Errorf("access_key = %v, want an STS key", d["access_key"])
	}
	exp := d["expiration"].(time.Time)
	if got := exp.Sub(start); got < 3599*time.Second || got > 3601*time.Second {
		t.Errorf("expiration %s is %s after issue, want 1h (the default)", exp, got)
	}
	if !regexp.MustCompile(`^acs:ram::` + e.acct + `:role/reader/vault-token-alice-reader-[0-9]+$`).MatchString(d["arn"].(string)) {
		t.Errorf("arn = %v", d["arn"])
	}
	s := resp.Secret
	if s.Renewable || s.TTL < 3599*time.Second || s.TTL > 3600*time.Second || s.MaxTTL != s.TTL {
		t.Errorf("lease: renewable %v, ttl %s, max ttl %s; want not renewable, ttl = max ttl = 1h", s.Renewable, s.TTL, s.MaxTTL)
	}
	if s.InternalData["role_type"] != "sts" || s.InternalData["role_name"] != "reader" || s.InternalData["secret_type"] != "alicloud" {
		t.Errorf("internal data = %v", s.InternalData)
	}
	e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":assumed-role/reader/vault-token-alice-reader-")

	// Renewing and revoking an STS lease do nothing, and do not fail.
	if r, err := e.renew(resp); err != nil || r != nil {
		t.Errorf("renew = %v, %v; want nothing", r, err)
	}
	if err := e.revoke(resp); err != nil {
		t.Errorf("revoke: %v", err)
	}
	if err := describeRegions(e.ctx, e.credsClient(resp)); err != nil {
		t.Errorf("credentials stopped working after the (no-op) revocation: %v", err)
	}
}

func TestCreds_AssumedRoleOptions(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	sessionPolicy := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeRegions","Resource":"*"}]}`
	e.ok(logical.CreateOperation, "role/narrow", map[string]interface{}{"role_arn": e.wideARN, "policy": sessionPolicy, "ttl": "30m", "max_ttl": "2h"})
	e.ok(logical.CreateOperation, "role/wide", map[string]interface{}{"role_arn": e.wideARN, "allow_caller_session_name": true})
	e.ok(logical.CreateOperation, "role/partner", map[string]interface{}{"role_arn": e.partnerARN, "external_id": e.externalID, "role_session_name_template": "ext-{{ .RoleName }}"})
	e.ok(logical.CreateOperation, "role/partner-noid", map[string]interface{}{"role_arn": e.partnerARN})
	e.ok(logical.CreateOperation, "role/long", map[string]interface{}{"role_arn": e.readerARN, "max_ttl": "12h"})

	t.Run("session policy narrows the role", func(t *testing.T) {
		e.t = t
		wide := e.credsClient(e.ok(logical.ReadOperation, "creds/wide", nil))
		if _, err := wide.ListUsers(e.ctx); err != nil {
			t.Fatalf("the role itself may list users: %v", err)
		}
		narrow := e.credsClient(e.ok(logical.ReadOperation, "creds/narrow", nil))
		if err := describeRegions(e.ctx, narrow); err != nil {
			t.Fatalf("allowed by the session policy: %v", err)
		}
		if _, err := narrow.ListUsers(e.ctx); !aliyun.IsAccessDenied(err) {
			t.Fatalf("ListUsers with the session policy: %v, want access denied", err)
		}
	})
	t.Run("role ttl is the default duration", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.ReadOperation, "creds/narrow", nil)
		if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != 30*time.Minute {
			t.Errorf("duration = %s, want 30m", got)
		}
		if resp.Secret.TTL != 30*time.Minute {
			t.Errorf("lease ttl = %s", resp.Secret.TTL)
		}
	})
	t.Run("request ttl", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.UpdateOperation, "creds/long", map[string]interface{}{"ttl": "10h"})
		if got := resp.Data["expiration"].(time.Time).Sub(e.clock.Now()); got != 10*time.Hour {
			t.Errorf("duration = %s, want 10h", got)
		}
		e.badRequest(logical.UpdateOperation, "creds/long", map[string]interface{}{"ttl": 600}, "ttl: must be between 900 and 43200 seconds")
		e.badRequest(logical.UpdateOperation, "creds/long", map[string]interface{}{"ttl": "13h"}, "ttl: must be between 900 and 43200 seconds")
		e.badRequest(logical.UpdateOperation, "creds/narrow", map[string]interface{}{"ttl": "3h"}, "ttl: 10800 seconds exceeds the role's max_ttl of 7200 seconds")
		// The RAM role's own maximum (1h for "wide") is enforced by STS.
		_, err := e.do(logical.UpdateOperation, "creds/wide", map[string]interface{}{"ttl": "2h"})
		if err == nil || !strings.Contains(err.Error(), "InvalidParameter.DurationSeconds") {
			t.Fatalf("ttl above the RAM role's maximum: %v, want InvalidParameter.DurationSeconds", err)
		}
		// What Vault's HTTP layer does with a plugin's error.
		code, _ := logical.RespondErrorCommon(&logical.Request{}, nil, err)
		logical.AdjustErrorStatusCode(&code, err)
		if code != 400 {
			t.Errorf("ttl above the RAM role's maximum: status %d, want 400", code)
		}
	})
	t.Run("session names", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.UpdateOperation, "creds/wide", map[string]interface{}{"role_session_name": "alice@example.com"})
		id, err := e.credsClient(resp).GetCallerIdentity(e.ctx)
		if err != nil || !strings.HasSuffix(id.Arn, "/alice@example.com") {
			t.Fatalf("caller %v %v, want session alice@example.com", id, err)
		}
		e.badRequest(logical.UpdateOperation, "creds/wide", map[string]interface{}{"role_session_name": "alice smith"}, "role_session_name: must be 2-64 characters")
		e.badRequest(logical.UpdateOperation, "creds/wide", map[string]interface{}{"role_session_name": strings.Repeat("a", 65)}, "role_session_name: must be 2-64 characters")
	})
	t.Run("external id", func(t *testing.T) {
		e.t = t
		resp := e.ok(logical.ReadOperation, "creds/partner", nil)
		if !strings.HasSuffix(resp.Data["arn"].(string), "/ext-partner") {
			t.Errorf("arn = %v, want the templated session name", resp.Data["arn"])
		}
		e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":assumed-role/partner/ext-partner")
		e.fails(logical.ReadOperation, "creds/partner-noid", nil, "assuming "+e.partnerARN)
	})
}

func TestCreds_RAMUser(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{
		"inline_policies": "[" + ossDoc + "]",
		"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"},
		"ram_groups":      "developers,auditors",
		"ttl":             "1h",
		"max_ttl":         "3h",
	})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	if len(resp.Data) != 2 || resp.Data["access_key"] == "" || resp.Data["secret_key"] == "" {
		t.Fatalf("response data = %v, want access_key and secret_key only", resp.Data)
	}
	in := resp.Secret.InternalData
	userName := in["username"].(string)
	if !regexp.MustCompile(`^vault-token-alice-dev-[0-9]{10}-[A-Za-z0-9]{8}$`).MatchString(userName) {
		t.Errorf("user name %q does not follow the default template", userName)
	}
	if in["role_type"] != "ram" || in["role_name"] != "dev" || in["access_key_id"] != resp.Data["access_key"] {
		t.Errorf("internal data = %v", in)
	}
	if !resp.Secret.Renewable || resp.Secret.TTL != time.Hour || resp.Secret.MaxTTL != 3*time.Hour {
		t.Errorf("lease = renewable %v ttl %s max %s", resp.Secret.Renewable, resp.Secret.TTL, resp.Secret.MaxTTL)
	}
	u := e.user(userName)
	if u == nil {
		t.Fatalf("user %s not in RAM", userName)
	}
	var pols []string
	for _, p := range u.Policies {
		pols = append(pols, p.Type+":"+p.Name)
	}
	if strings.Join(pols, ",") != "Custom:vault-5f0c1a2b-dev-0,System:AliyunECSReadOnlyAccess" && strings.Join(pols, ",") != "System:AliyunECSReadOnlyAccess,Custom:vault-5f0c1a2b-dev-0" {
		t.Errorf("user policies = %v", pols)
	}
	if strings.Join(u.Groups, ",") != "auditors,developers" && strings.Join(u.Groups, ",") != "developers,auditors" {
		t.Errorf("user groups = %v", u.Groups)
	}
	if len(u.AccessKeys) != 1 || u.AccessKeys[0].ID != resp.Data["access_key"] {
		t.Errorf("user keys = %v", u.AccessKeys)
	}
	if kinds := e.walEntries(); len(kinds) != 0 {
		t.Errorf("WAL entries left after a successful issue: %v", kinds)
	}
	e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":user/"+userName)

	// Renewal follows the role; after the role is deleted it is refused.
	secret := leaseRoundTrip(t, resp.Secret)
	renewed, err := e.renew(&logical.Response{Secret: secret})
	if err != nil || renewed.Secret.TTL != time.Hour || renewed.Secret.MaxTTL != 3*time.Hour {
		t.Fatalf("renew = %v, %v", renewed, err)
	}
	e.ok(logical.UpdateOperation, "role/dev", map[string]interface{}{"ttl": "2h"})
	if renewed, err = e.renew(&logical.Response{Secret: secret}); err != nil || renewed.Secret.TTL != 2*time.Hour {
		t.Fatalf("renew after a ttl change = %v, %v", renewed, err)
	}

	// Revocation (with the lease as Vault stores it) removes the user.
	if err := e.revoke(&logical.Response{Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if e.user(userName) != nil {
		t.Fatalf("user %s survived revocation", userName)
	}
	if _, err := e.credsClient(resp).GetCallerIdentity(e.ctx); !aliyun.IsAuthFailure(err) {
		t.Errorf("revoked key: %v, want refused", err)
	}
	if err := e.revoke(&logical.Response{Secret: secret}); err != nil {
		t.Errorf("revoking twice: %v", err)
	}

	e.ok(logical.DeleteOperation, "role/dev", nil)
	if _, err := e.renew(&logical.Response{Secret: secret}); err == nil || !strings.Contains(err.Error(), "role dev has been deleted") {
		t.Errorf("renew after role deletion: %v", err)
	}
	e.badRequest(logical.UpdateOperation, "creds/none", nil, `role "none" does not exist`)
}

func TestCreds_RAMUserRequestFieldsAndTemplates(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"username_template": `{{ printf "cfg-%s-%s" .RoleName (random 4) }}`})
	e.ok(logical.CreateOperation, "role/a", map[string]interface{}{"ram_groups": "developers"})
	e.ok(logical.CreateOperation, "role/b", map[string]interface{}{"ram_groups": "developers", "username_template": `role-{{ .DisplayName }}-{{ unix_time }}`})
	e.badRequest(logical.UpdateOperation, "creds/a", map[string]interface{}{"ttl": "1h"}, `ttl: does not apply to credential_type "ram_user"`)
	e.badRequest(logical.UpdateOperation, "creds/a", map[string]interface{}{"role_session_name": "x1"}, `role_session_name: does not apply to credential_type "ram_user"`)

	a := e.ok(logical.ReadOperation, "creds/a", nil).Secret.InternalData["username"].(string)
	if !regexp.MustCompile(`^cfg-a-[A-Za-z0-9]{4}$`).MatchString(a) {
		t.Errorf("config template: user %q", a)
	}
	b := e.ok(logical.ReadOperation, "creds/b", nil).Secret.InternalData["username"].(string)
	if !regexp.MustCompile(`^role-token-alice-[0-9]+$`).MatchString(b) {
		t.Errorf("role template: user %q", b)
	}
	// Display names are reduced to allowed characters.
	req := &logical.Request{Operation: logical.ReadOperation, Path: "creds/a", Storage: e.s, DisplayName: "oidc-bob@example.com/x y"}
	e.ok(logical.UpdateOperation, "role/c", map[string]interface{}{"ram_groups": "developers", "username_template": "{{ .DisplayName }}"})
	req.Path = "creds/c"
	resp, err := e.b.HandleRequest(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(resp.Data["secret_key"].(string))
	if got := resp.Secret.InternalData["username"]; got != "oidc-bob-example.com-x-y" {
		t.Errorf("user from a display name with unsafe characters = %v", got)
	}
}

func TestCreds_Throttling(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"max_retries": 2})
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "AssumeRole", Kind: emulator.FaultThrottle}}})
	_, err := e.do(logical.ReadOperation, "creds/reader", nil)
	if !errors.Is(err, logical.ErrUpstreamRateLimited) {
		t.Fatalf("throttled issue: %v, want ErrUpstreamRateLimited", err)
	}
	if code, _ := logical.RespondErrorCommon(&logical.Request{}, nil, err); code != 502 {
		t.Errorf("status = %d, want 502", code)
	}
	if got := e.emu.Counters()["sts:AssumeRole"]; got != 3 {
		t.Errorf("AssumeRole attempts = %d, want 3 (1 + max_retries 2)", got)
	}

	// Throttling that clears within the retries is invisible.
	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "AssumeRole", Kind: emulator.FaultThrottle, Count: 2}}})
	e.ok(logical.ReadOperation, "creds/reader", nil)
}

// TestCreds_HotPath checks what issuing STS credentials costs: one AssumeRole,
// no storage write, no call for the engine's identity, the same client.
func TestCreds_HotPath(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.ReadOperation, "creds/reader", nil)
	c, _ := e.b.getClient(e.ctx, e.s)
	e.emu.ResetCounters()
	puts, dels := e.s.puts.Load(), e.s.deletes.Load()
	const n = 20
	for i := 0; i < n; i++ {
		e.ok(logical.ReadOperation, "creds/reader", nil)
	}
	if got := e.s.puts.Load() - puts + e.s.deletes.Load() - dels; got != 0 {
		t.Errorf("%d issues wrote storage %d times, want 0", n, got)
	}
	counters := e.emu.Counters()
	if counters["sts:AssumeRole"] != n || len(counters) != 1 {
		t.Errorf("calls for %d issues = %v, want only %d AssumeRole", n, counters, n)
	}
	if c2, _ := e.b.getClient(e.ctx, e.s); c2 != c {
		t.Error("the client was rebuilt")
	}
}

// TestCreds_Concurrent issues both kinds concurrently (run with -race).
func TestCreds_Concurrent(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	e.b.InvalidateKey(e.ctx, "config") // the workers race to build the client
	type result struct {
		resp *logical.Response
		err  error
	}
	results := make(chan result, 16)
	for i := 0; i < 16; i++ {
		path := "creds/reader"
		if i%2 == 1 {
			path = "creds/dev"
		}
		go func() {
			resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: path, Storage: e.s, DisplayName: "token"})
			results <- result{resp, err}
		}()
	}
	var users []*logical.Response
	for i := 0; i < 16; i++ {
		r := <-results
		if r.err != nil || r.resp.IsError() {
			t.Fatalf("concurrent issue: %v %v", r.err, r.resp)
		}
		e.addSecret(r.resp.Data["secret_key"].(string))
		if r.resp.Secret.InternalData["role_type"] == "ram" {
			users = append(users, r.resp)
		}
	}
	if got := len(e.userNames()); got != 8 {
		t.Fatalf("users = %d, want 8", got)
	}
	errs := make(chan error, len(users))
	for _, u := range users {
		go func() { errs <- e.revoke(u) }()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.userNames(); len(got) != 0 {
		t.Fatalf("users left: %v", got)
	}
}

// TestCreds_RoleCache checks that the creds path's in-memory roles never
// outlive a change: a role write, a write by another node (storage changed,
// then Invalidate), and a delete are each seen by the next issue.
func TestCreds_RoleCache(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	arnOf := func() string {
		e.t.Helper()
		return e.ok(logical.ReadOperation, "creds/reader", nil).Data["arn"].(string)
	}
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	if got := arnOf(); !strings.Contains(got, ":role/reader/") {
		t.Fatalf("arn = %s, want the reader role", got)
	}
	e.ok(logical.UpdateOperation, "role/reader", map[string]interface{}{"role_arn": e.wideARN})
	if got := arnOf(); !strings.Contains(got, ":role/wide/") {
		t.Fatalf("after a role write: arn = %s, want the wide role", got)
	}

	// Another node rewrites the role: storage changes first, Invalidate follows.
	role, err := readRole(e.ctx, e.s, "reader")
	if err != nil || role == nil {
		t.Fatalf("readRole: %v %v", role, err)
	}
	role.RoleARN = e.readerARN
	if err := writeRole(e.ctx, e.s, "reader", role); err != nil {
		t.Fatal(err)
	}
	if got := arnOf(); !strings.Contains(got, ":role/wide/") {
		t.Fatalf("before Invalidate the cached role serves: arn = %s", got)
	}
	e.b.invalidate(e.ctx, "role/reader")
	if got := arnOf(); !strings.Contains(got, ":role/reader/") {
		t.Fatalf("after Invalidate: arn = %s, want the reader role", got)
	}

	e.ok(logical.DeleteOperation, "role/reader", nil)
	e.badRequest(logical.ReadOperation, "creds/reader", nil, `role "reader" does not exist`)
}

// TestCreds_RAMUserMissingPolicy: the role's custom policy was deleted in
// RAM behind Vault's back. The issue fails with a 400 that says how to
// repair the role, and leaves no user behind.
func TestCreds_RAMUserMissingPolicy(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]", "ram_groups": "developers"})
	c, err := e.b.getClient(e.ctx, e.s)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.DeletePolicy(e.ctx, "vault-5f0c1a2b-dev-0", true); err != nil {
		t.Fatal(err)
	}
	_, err = e.do(logical.ReadOperation, "creds/dev", nil)
	if err == nil || !strings.Contains(err.Error(), "the role's custom policy is missing in RAM: write role/dev again to re-create it") {
		t.Fatalf("issue with the policy gone: %v, want the repair hint", err)
	}
	code, _ := logical.RespondErrorCommon(&logical.Request{}, nil, err)
	logical.AdjustErrorStatusCode(&code, err)
	if code != 400 {
		t.Errorf("issue with the policy gone: status %d, want 400", code)
	}
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users left after the failed issue: %v", users)
	}
	if kinds := e.walEntries(); len(kinds) != 0 {
		t.Fatalf("WAL entries left: %v", kinds)
	}
	// Writing the role again re-creates the policy, and the issue works.
	e.ok(logical.UpdateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	e.addSecret(resp.Data["secret_key"].(string))
}

// TestCreds_ForwardedFromStandbys: a node that serves reads itself but cannot
// store leases (an OpenBao standby, a Vault Enterprise performance standby;
// both report ReplicationPerformanceStandby) must not issue: it answers
// ErrReadOnly, which makes the server forward the request to the active
// node, before anything reaches Alibaba.
func TestCreds_ForwardedFromStandbys(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/sts", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"ram_groups": "developers"})

	conf := logical.TestBackendConfig()
	conf.StorageView = e.s
	conf.BackendUUID = testBackendUUID
	sv := logical.TestSystemView()
	sv.ReplicationStateVal = consts.ReplicationPerformanceStandby
	conf.System = sv
	conf.Logger = hclog.NewNullLogger()
	standby := newBackend(e.env)
	if err := standby.Setup(e.ctx, conf); err != nil {
		t.Fatal(err)
	}
	before := e.emu.Counters()
	for _, op := range []logical.Operation{logical.ReadOperation, logical.UpdateOperation} {
		for _, role := range []string{"sts", "ram"} {
			_, err := standby.HandleRequest(e.ctx, &logical.Request{Operation: op, Path: "creds/" + role, Storage: e.s, Data: map[string]interface{}{}})
			if err != logical.ErrReadOnly {
				t.Errorf("%s creds/%s on a standby: error %v, want logical.ErrReadOnly (forward to the active node)", op, role, err)
			}
		}
	}
	after := e.emu.Counters()
	for k, n := range after {
		if n != before[k] {
			t.Errorf("the standby called Alibaba: %s went from %d to %d", k, before[k], n)
		}
	}
}
