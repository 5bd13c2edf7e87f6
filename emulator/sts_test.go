package emulator

import (
	"strings"
	"testing"
	"time"
)

const (
	callerKeyID  = "LTAIcaller0000000001"
	callerSecret = "callersecret000000000000000000"
)

// trustSeed: a user "caller" allowed sts:AssumeRole, and a role "app" (max
// session 2 h, RAM read-only) trusted by the whole account.
func trustSeed() *Seed {
	return &Seed{
		Users: []SeedUser{{
			Name:       "caller",
			AccessKeys: []SeedAccessKey{{ID: callerKeyID, Secret: callerSecret}},
			Policies:   []SeedPolicyRef{{Name: "AliyunSTSAssumeRoleAccess"}},
		}},
		Roles: []SeedRole{{
			Name: "app", TrustPolicy: JSONDocument(trustAccount(DefaultAccountID)), MaxSessionDuration: 7200,
			Policies: []SeedPolicyRef{{Name: "AliyunRAMReadOnlyAccess"}},
		}},
	}
}

func appRoleARN() string { return "acs:ram::" + DefaultAccountID + ":role/app" }

// assumeAppRole assumes "app" as "caller" and returns the Credentials object.
func assumeAppRole(t testing.TB, e *Emulator, kv ...string) map[string]any {
	t.Helper()
	c := e.keyClient(t, callerKeyID, callerSecret)
	args := append([]string{"RoleArn", appRoleARN(), "RoleSessionName", "app-session"}, kv...)
	res := c.call("AssumeRole", args...).ok(t)
	return res.body["Credentials"].(map[string]any)
}

func TestAssumeRoleResponse(t *testing.T) {
	e, clock := newTestEmulator(t, trustSeed())
	c := e.keyClient(t, callerKeyID, callerSecret)
	res := c.call("AssumeRole", "RoleArn", appRoleARN(), "RoleSessionName", "s-1", "DurationSeconds", "1800").ok(t)
	id, secret, token := res.str("Credentials.AccessKeyId"), res.str("Credentials.AccessKeySecret"), res.str("Credentials.SecurityToken")
	if !strings.HasPrefix(id, "STS.") || secret == "" || !strings.HasPrefix(token, "CAIS") {
		t.Fatalf("credentials %q %q %q", id, secret, token)
	}
	wantExp := clock.Now().Add(30 * time.Minute).Format("2006-01-02T15:04:05Z")
	if got := res.str("Credentials.Expiration"); got != wantExp {
		t.Errorf("Expiration %q, want %q", got, wantExp)
	}
	if got, want := res.str("AssumedRoleUser.Arn"), "acs:ram::"+DefaultAccountID+":role/app/s-1"; got != want {
		t.Errorf("Arn %q, want %q", got, want)
	}
	if got := res.str("AssumedRoleUser.AssumedRoleId"); !strings.HasSuffix(got, ":s-1") || len(got) < 10 {
		t.Errorf("AssumedRoleId %q", got)
	}
	if n := e.Counters()["sts:AssumeRole"]; n != 1 {
		t.Errorf("counter sts:AssumeRole = %d", n)
	}
	sessions := e.Snapshot().Sessions
	if len(sessions) != 1 || sessions[0].AccessKeyID != id || sessions[0].Caller != "acs:ram::"+DefaultAccountID+":user/caller" {
		t.Errorf("sessions %+v", sessions)
	}
}

func TestAssumeRoleRules(t *testing.T) {
	extSeed := trustSeed()
	extSeed.Roles = append(extSeed.Roles,
		SeedRole{Name: "ext", TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` + DefaultAccountID + `:root"]},"Condition":{"StringEquals":{"sts:ExternalId":"abc123"}}}],"Version":"1"}`)},
		SeedRole{Name: "onlybob", TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` + DefaultAccountID + `:user/bob"]}}],"Version":"1"}`)},
		SeedRole{Name: "ecsrole", TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}`)},
		SeedRole{Name: "denycaller", TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` + DefaultAccountID + `:root"]}},{"Action":"sts:AssumeRole","Effect":"Deny","Principal":{"RAM":["acs:ram::` + DefaultAccountID + `:user/caller"]}}],"Version":"1"}`)},
	)
	extSeed.Users = append(extSeed.Users, SeedUser{Name: "noperm", AccessKeys: []SeedAccessKey{{ID: "LTAInoperm0000000001", Secret: "nopermsecret0000000000"}}})
	e, _ := newTestEmulator(t, extSeed)
	arn := func(role string) string { return "acs:ram::" + DefaultAccountID + ":role/" + role }
	caller := func(t *testing.T) *client { return e.keyClient(t, callerKeyID, callerSecret) }

	tests := []struct {
		name   string
		client func(t *testing.T) *client
		kv     []string
		status int
		code   string
	}{
		{"ok", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "ok"}, 200, ""},
		{"root refused", func(t *testing.T) *client { return e.rootClient(t) }, []string{"RoleArn", arn("app"), "RoleSessionName", "x1"}, 403, "NoPermission"},
		{"missing session name", caller, []string{"RoleArn", arn("app")}, 400, "MissingRoleSessionName"},
		{"bad role arn", caller, []string{"RoleArn", "arn:aws:iam::1:role/app", "RoleSessionName", "x1"}, 400, "InvalidParameter.RoleArn"},
		{"role does not exist", caller, []string{"RoleArn", arn("nope"), "RoleSessionName", "x1"}, 404, "EntityNotExist.Role"},
		{"role of another account", caller, []string{"RoleArn", "acs:ram::999999999999:role/app", "RoleSessionName", "x1"}, 404, "EntityNotExist.Role"},
		{"session name too short", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "x"}, 400, "InvalidParameter.RoleSessionName"},
		{"session name 64", caller, []string{"RoleArn", arn("app"), "RoleSessionName", strings.Repeat("a", 64)}, 200, ""},
		{"session name 65", caller, []string{"RoleArn", arn("app"), "RoleSessionName", strings.Repeat("a", 65)}, 400, "InvalidParameter.RoleSessionName"},
		{"session name chars", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "a b"}, 400, "InvalidParameter.RoleSessionName"},
		{"session name specials", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "a.b@c_d-e"}, 200, ""},
		{"duration 899", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "d1", "DurationSeconds", "899"}, 400, "InvalidParameter.DurationSeconds"},
		{"duration 900", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "d1", "DurationSeconds", "900"}, 200, ""},
		{"duration max", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "d1", "DurationSeconds", "7200"}, 200, ""},
		{"duration above role max", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "d1", "DurationSeconds", "7201"}, 400, "InvalidParameter.DurationSeconds"},
		{"duration above default max", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "d1", "DurationSeconds", "3601", "ExternalId", "abc123"}, 400, "InvalidParameter.DurationSeconds"},
		{"duration not a number", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "d1", "DurationSeconds", "1h"}, 400, "InvalidParameter.DurationSeconds"},
		{"policy too large", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "p1", "Policy", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:Get*","Resource":"` + strings.Repeat("a", 2100) + `"}]}`}, 400, "InvalidParameter.PolicySize"},
		{"policy grammar", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "p1", "Policy", `{"Version":"1","Statement":[{"Effect":"Maybe","Action":"ram:Get*","Resource":"*"}]}`}, 400, "InvalidParameter.PolicyGrammar"},
		{"policy not json", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "p1", "Policy", `{`}, 400, "InvalidParameter.PolicyGrammar"},
		{"external id required", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "e1"}, 403, "NoPermission"},
		{"external id wrong", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "e1", "ExternalId", "abc124"}, 403, "NoPermission"},
		{"external id right", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "e1", "ExternalId", "abc123"}, 200, ""},
		{"external id format", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "e1", "ExternalId", "abc 123"}, 400, "InvalidParameter.ExternalId"},
		{"external id too short", caller, []string{"RoleArn", arn("ext"), "RoleSessionName", "e1", "ExternalId", "a"}, 400, "InvalidParameter.ExternalId"},
		{"not trusted: other user only", caller, []string{"RoleArn", arn("onlybob"), "RoleSessionName", "t1"}, 403, "NoPermission"},
		{"not trusted: service role", caller, []string{"RoleArn", arn("ecsrole"), "RoleSessionName", "t1"}, 403, "NoPermission"},
		{"trust policy deny wins", caller, []string{"RoleArn", arn("denycaller"), "RoleSessionName", "t1"}, 403, "NoPermission"},
		{"caller lacks sts:AssumeRole", func(t *testing.T) *client { return e.keyClient(t, "LTAInoperm0000000001", "nopermsecret0000000000") },
			[]string{"RoleArn", arn("app"), "RoleSessionName", "t1"}, 403, "NoPermission"},
		{"source identity", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "s1", "SourceIdentity", "alice@example.com"}, 200, ""},
		{"source identity reserved prefix", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "s1", "SourceIdentity", "acs:alice"}, 400, "InvalidParameter.SourceIdentity"},
		{"source identity chars", caller, []string{"RoleArn", arn("app"), "RoleSessionName", "s1", "SourceIdentity", "a/b"}, 400, "InvalidParameter.SourceIdentity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.client(t).call("AssumeRole", tt.kv...)
			if tt.status == 200 {
				res.ok(t)
				return
			}
			res.expect(t, tt.status, tt.code)
		})
	}
}

func TestAssumeRoleTrustsUserAndRoleChain(t *testing.T) {
	seed := trustSeed()
	seed.Roles = append(seed.Roles, SeedRole{
		Name:        "chained",
		TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` + DefaultAccountID + `:role/app"]}}],"Version":"1"}`),
	})
	// app may assume further roles.
	seed.Roles[0].Policies = append(seed.Roles[0].Policies, SeedPolicyRef{Name: "AliyunSTSAssumeRoleAccess"})
	e, _ := newTestEmulator(t, seed)

	app := e.sessionClient(t, assumeAppRole(t, e, "SourceIdentity", "alice"))
	res := app.call("AssumeRole", "RoleArn", "acs:ram::"+DefaultAccountID+":role/chained", "RoleSessionName", "hop2").ok(t)
	if got := res.str("SourceIdentity"); got != "alice" {
		t.Errorf("SourceIdentity not inherited: %q", got)
	}
	app.call("AssumeRole", "RoleArn", "acs:ram::"+DefaultAccountID+":role/chained", "RoleSessionName", "hop2", "SourceIdentity", "mallory").
		expect(t, 400, "InvalidParameter.SourceIdentity")
	// The user itself is not trusted by "chained".
	e.keyClient(t, callerKeyID, callerSecret).call("AssumeRole", "RoleArn", "acs:ram::"+DefaultAccountID+":role/chained", "RoleSessionName", "x1").
		expect(t, 403, "NoPermission")
}

func TestSessionPermissions(t *testing.T) {
	seed := trustSeed()
	// app: RAM read-only plus ECS DescribeRegions, minus ListRoles.
	seed.Policies = []SeedPolicy{
		{Name: "ecs-regions", Document: `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeRegions","Resource":"*"}]}`},
		{Name: "no-list-roles", Document: `{"Version":"1","Statement":[{"Effect":"Deny","Action":"ram:ListRoles","Resource":"*"}]}`},
	}
	seed.Roles[0].Policies = append(seed.Roles[0].Policies, SeedPolicyRef{Name: "ecs-regions"}, SeedPolicyRef{Name: "no-list-roles"})
	e, _ := newTestEmulator(t, seed)

	full := e.sessionClient(t, assumeAppRole(t, e))
	scoped := e.sessionClient(t, assumeAppRole(t, e, "Policy",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:ListUsers","ram:CreateUser","ram:ListRoles"],"Resource":"*"}]}`))
	denyInSession := e.sessionClient(t, assumeAppRole(t, e, "Policy",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ecs:*","Resource":"*"}]}`))

	tests := []struct {
		name   string
		c      *client
		action string
		kv     []string
		status int
		code   string
	}{
		{"role allows ListUsers", full, "ListUsers", nil, 200, ""},
		{"role allows DescribeRegions", full, "DescribeRegions", nil, 200, ""},
		{"role lacks CreateUser", full, "CreateUser", []string{"UserName", "u1"}, 403, "NoPermission"},
		{"role denies ListRoles", full, "ListRoles", nil, 403, "NoPermission"},
		{"GetCallerIdentity needs no permission", scoped, "GetCallerIdentity", nil, 200, ""},
		{"both allow ListUsers", scoped, "ListUsers", nil, 200, ""},
		{"session allows CreateUser, role does not", scoped, "CreateUser", []string{"UserName", "u2"}, 403, "NoPermission"},
		{"role allows ListGroups, session does not", scoped, "ListGroups", nil, 403, "NoPermission"},
		{"role allows DescribeRegions, session does not", scoped, "DescribeRegions", nil, 403, "Forbidden.RAM"},
		{"role deny beats session allow", scoped, "ListRoles", nil, 403, "NoPermission"},
		{"session deny beats role allow", denyInSession, "DescribeRegions", nil, 403, "Forbidden.RAM"},
		{"session wildcard within role", denyInSession, "ListGroups", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.t = t
			res := tt.c.call(tt.action, tt.kv...)
			if tt.status == 200 {
				res.ok(t)
				return
			}
			res.expect(t, tt.status, tt.code)
			if tt.code == "NoPermission" && tt.action != "AssumeRole" {
				if res.str("AccessDeniedDetail.AuthAction") == "" {
					t.Errorf("no AccessDeniedDetail: %s", res.raw)
				}
			}
		})
	}
}

func TestMaxIssuedSessionDuration(t *testing.T) {
	clock := newFakeClock()
	e, err := New(Options{Seed: trustSeed(), Clock: clock.Now, RandSeed: 7, MaxIssuedSessionDuration: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	creds := assumeAppRole(t, e, "DurationSeconds", "3600")
	if got, want := creds["Expiration"], clock.Now().Add(90*time.Second).Format("2006-01-02T15:04:05Z"); got != want {
		t.Fatalf("Expiration %v, want %v", got, want)
	}
	c := e.sessionClient(t, creds)
	c.call("ListUsers").ok(t)
	clock.Advance(91 * time.Second)
	c.call("ListUsers").expect(t, 403, "InvalidSecurityToken.Expired")

	// The next issue prunes the expired session; its token still reads as
	// expired rather than unknown.
	assumeAppRole(t, e)
	e.mu.RLock()
	n, pending := len(e.st.Sessions), len(e.expiries)
	e.mu.RUnlock()
	if n != 1 || pending != 1 {
		t.Fatalf("%d sessions, %d expiries after pruning, want 1 and 1", n, pending)
	}
	c.call("ListUsers").expect(t, 403, "InvalidSecurityToken.Expired")
}

func TestIssueServiceSession(t *testing.T) {
	seed := trustSeed()
	seed.Roles = append(seed.Roles, SeedRole{
		Name:        "EcsRole",
		TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}`),
		Policies:    []SeedPolicyRef{{Name: "AliyunECSReadOnlyAccess"}},
	})
	e, clock := newTestEmulator(t, seed)
	creds, err := e.issueServiceSession("EcsRole", "ecs.aliyuncs.com")
	if err != nil {
		t.Fatal(err)
	}
	if !creds.Expiration.Equal(clock.Now().Add(6 * time.Hour)) {
		t.Errorf("Expiration %v", creds.Expiration)
	}
	c := &client{t: t, e: e, id: creds.AccessKeyID, secret: creds.AccessKeySecret, token: creds.SecurityToken}
	c.call("DescribeRegions").ok(t)
	c.call("ListUsers").expect(t, 403, "NoPermission")
	if got := c.call("GetCallerIdentity").ok(t).str("Arn"); !strings.HasPrefix(got, "acs:ram::"+DefaultAccountID+":assumed-role/EcsRole/i-") {
		t.Errorf("Arn %q", got)
	}

	if _, err := e.issueServiceSession("app", "ecs.aliyuncs.com"); err == nil {
		t.Error("a role that does not trust ECS issued a service session")
	}
	if _, err := e.issueServiceSession("missing", "ecs.aliyuncs.com"); err == nil {
		t.Error("a missing role issued a service session")
	}
}

func TestAssumeRoleWithSAMLHasNoProviders(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	c := &client{t: t, e: e}
	p := c.params("AssumeRoleWithSAML", "SAMLProviderArn", "acs:ram::"+DefaultAccountID+":saml-provider/idp", "RoleArn", appRoleARN(), "SAMLAssertion", "PHNhbWw+")
	for _, k := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce"} {
		p.Del(k)
	}
	c.send(p).expect(t, 403, "AuthenticationFail.NoPermission")
}
