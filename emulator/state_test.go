package emulator

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadStateRoundTrip(t *testing.T) {
	seed := oidcSeed()
	seed.Policies = []SeedPolicy{{Name: "bucket", Document: simpleDoc}}
	seed.Groups = []SeedGroup{{Name: "devs", Policies: []SeedPolicyRef{{Name: "bucket"}}}}
	seed.Users = append(seed.Users, SeedUser{Name: "dev", Groups: []string{"devs"}})
	seed.ECS = &ECSSettings{RoleName: "app", RequireToken: true}
	e, clock := newTestEmulator(t, seed)
	creds := assumeAppRole(t, e, "Policy", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers","Resource":"*"}]}`)
	if _, err := e.MintOIDCToken("cluster", "system:serviceaccount:apps:a", "", 0); err != nil {
		t.Fatal(err)
	}
	u := e.userClient(t, "rotator", "AliyunRAMReadOnlyAccess")
	u.call("ListUsers").ok(t)

	var buf bytes.Buffer
	if err := e.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()

	// A fresh emulator (another main key) loads the state and behaves the same.
	e2, err := New(Options{Clock: clock.Now, RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.LoadState(strings.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	v1, v2 := e.Snapshot(), e2.Snapshot()
	v1.Counters, v2.Counters = nil, nil
	if !reflect.DeepEqual(v1, v2) {
		t.Fatalf("snapshots differ after load:\n%+v\n%+v", v1, v2)
	}
	id1, secret1 := e.MainAccessKey()
	if id2, secret2 := e2.MainAccessKey(); id1 != id2 || secret1 != secret2 {
		t.Fatal("main key not restored")
	}
	// Keys, sessions (with their session policy) and the OIDC key survive.
	e2.keyClient(t, u.id, u.secret).call("ListUsers").ok(t)
	s := e2.sessionClient(t, creds)
	s.call("ListUsers").ok(t)
	s.call("ListGroups").expect(t, 403, "NoPermission")
	tok, err := e.MintOIDCToken("cluster", "system:serviceaccount:apps:a", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	anonymousCall(t, e2, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "after-restart")...).ok(t)
	if got := e2.ecsSettings(); got.RoleName != "app" || !got.RequireToken {
		t.Fatalf("ECS settings %+v", got)
	}

	// Saving again yields the same document (LastUsed aside, nothing changed).
	var buf2 bytes.Buffer
	if err := e2.SaveState(&buf2); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf2.String(), `"account_id": "`+DefaultAccountID+`"`) {
		t.Fatalf("saved state lacks the account: %.200s", buf2.String())
	}
}

func TestLoadStateRejectsBadInput(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	var buf bytes.Buffer
	if err := e.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	tests := []struct {
		name, doc, want string
	}{
		{"not json", "{", "load state"},
		{"unknown field", strings.Replace(good, `"format_version"`, `"surprise": 1, "format_version"`, 1), "surprise"},
		{"version", strings.Replace(good, `"format_version": 1`, `"format_version": 9`, 1), "format_version 9"},
		{"bad policy", strings.Replace(good, `"policies": {}`, `"policies": {"p": {"name":"p","type":"Custom","default_version":"v1","versions":[{"id":"v1","document":"{}"}]}}`, 1), "policies[p].versions[v1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.LoadState(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
	// A failed load leaves the state alone.
	e.rootClient(t).call("GetCallerIdentity").ok(t)
}

func TestReset(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	id, _ := e.MainAccessKey()
	assumeAppRole(t, e)
	if err := e.CreateUser("temp"); err != nil {
		t.Fatal(err)
	}
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "*", Kind: FaultThrottle}}})
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	v := e.Snapshot()
	if len(v.Users) != 1 || v.Users[0].Name != "caller" || len(v.Sessions) != 0 || len(v.Counters) != 0 {
		t.Fatalf("after reset: %+v", v)
	}
	if got, _ := e.MainAccessKey(); got != id {
		t.Fatal("reset changed the main key")
	}
	e.rootClient(t).call("GetCallerIdentity").ok(t)
}

func TestSeedValidation(t *testing.T) {
	tests := []struct {
		name string
		seed string
		want string
	}{
		{"unknown field", `{"users":[{"name":"a","colour":"red"}]}`, "colour"},
		{"account id", `{"account_id":"abc"}`, "account_id"},
		{"main key", `{"main_access_key":{"id":"LTAIabcd","secret":"x"}}`, "main_access_key.secret"},
		{"user name", `{"users":[{"name":"ok"},{"name":"bad name"}]}`, "users[1]: InvalidParameter.UserName.InvalidChars"},
		{"too many keys", `{"users":[{"name":"a","access_keys":[{"id":"LTAIkey00001","secret":"secret0001"},{"id":"LTAIkey00002","secret":"secret0002"},{"id":"LTAIkey00003","secret":"secret0003"}]}]}`, "users[0].access_keys[2]: LimitExceeded.User.AccessKey"},
		{"duplicate key", `{"users":[{"name":"a","access_keys":[{"id":"LTAIkey00001","secret":"secret0001"}]},{"name":"b","access_keys":[{"id":"LTAIkey00001","secret":"secret0002"}]}]}`, "users[1].access_keys[0]"},
		{"key status", `{"users":[{"name":"a","access_keys":[{"id":"LTAIkey00001","secret":"secret0001","status":"Off"}]}]}`, "users[0].access_keys[0].status"},
		{"unknown policy", `{"users":[{"name":"a","policies":[{"name":"Nope"}]}]}`, "users[0].policies[0]: EntityNotExist.Policy"},
		{"unknown group", `{"users":[{"name":"a","groups":["g"]}]}`, "users[0].groups[0]: EntityNotExist.Group"},
		{"policy grammar", `{"policies":[{"name":"p","document":{"Version":"2","Statement":[]}}]}`, "policies[0]: MalformedPolicyDocument"},
		{"trust policy", `{"roles":[{"name":"r","trust_policy":"{}"}]}`, "roles[0]: MalformedPolicyDocument"},
		{"role duration", `{"roles":[{"name":"r","trust_policy":{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["1"]}}]},"max_session_duration":60}]}`, "roles[0]: InvalidParameter.MaxSessionDuration"},
		{"ecs role", `{"ecs":{"role_name":"missing"}}`, "ecs.role_name"},
		{"oidc provider", `{"oidc_providers":[{"name":"p"}]}`, "oidc_providers[0]: MissingClientIds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSeed(strings.NewReader(tt.seed))
			if err == nil {
				_, err = New(Options{Seed: s})
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestSeedApplied(t *testing.T) {
	doc := `{
	  "account_id": "5555666677778888",
	  "main_access_key": {"id": "LTAImainkey0000000001", "secret": "mainsecret0000000000000000001"},
	  "policies": [{"name": "list-users", "description": "d", "document": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:ListUsers", "Resource": "*"}]}}],
	  "groups": [{"name": "ops", "policies": [{"name": "ReadOnlyAccess"}]}],
	  "users": [{"name": "vault", "display_name": "Vault", "access_keys": [{"id": "LTAIvault00000000001", "secret": "vaultsecret000000000001"}, {"id": "LTAIvault00000000002", "secret": "vaultsecret000000000002", "status": "Inactive"}],
	             "policies": [{"name": "list-users"}, {"name": "AliyunSTSAssumeRoleAccess", "type": "System"}], "groups": ["ops"]}],
	  "roles": [{"name": "app", "trust_policy": "{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"RAM\":[\"acs:ram::5555666677778888:root\"]}}]}", "max_session_duration": 43200}],
	  "oidc_providers": [{"name": "k8s", "client_ids": ["sts.aliyuncs.com"]}],
	  "ecs": {"role_name": "app"},
	  "credentials_uri": {"role_name": "app"}
	}`
	s, err := ParseSeed(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	e, err := New(Options{Seed: s, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if e.AccountID() != "5555666677778888" {
		t.Fatalf("account %s", e.AccountID())
	}
	if id, secret := e.MainAccessKey(); id != "LTAImainkey0000000001" || secret != "mainsecret0000000000000000001" {
		t.Fatalf("main key %s", id)
	}
	v := e.Snapshot()
	if len(v.Users) != 1 || len(v.Users[0].AccessKeys) != 2 || v.Users[0].AccessKeys[1].Status != "Inactive" ||
		len(v.Users[0].Policies) != 2 || len(v.Users[0].Groups) != 1 || v.Users[0].DisplayName != "Vault" {
		t.Fatalf("user %+v", v.Users)
	}
	if len(v.Roles) != 1 || v.Roles[0].MaxSessionDuration != 43200 || v.CredentialsURI.RoleName != "app" || v.ECS.RoleName != "app" {
		t.Fatalf("roles %+v ecs %+v", v.Roles, v.ECS)
	}
	if len(v.OIDCProviders) != 1 || v.OIDCProviders[0].Arn != "acs:ram::5555666677778888:oidc-provider/k8s" {
		t.Fatalf("providers %+v", v.OIDCProviders)
	}
	vault := e.keyClient(t, "LTAIvault00000000001", "vaultsecret000000000001")
	vault.call("ListUsers").ok(t)
	vault.call("GetUser", "UserName", "vault").ok(t) // via group ReadOnlyAccess
	vault.call("AssumeRole", "RoleArn", "acs:ram::5555666677778888:role/app", "RoleSessionName", "v1", "DurationSeconds", "43200").ok(t)
	e.keyClient(t, "LTAIvault00000000002", "vaultsecret000000000002").call("ListUsers").expect(t, 400, "InvalidAccessKeyId.Inactive")
	if !v.Users[0].CreateDate.Equal(clock.Now()) || v.Users[0].CreateDate.Location() != time.UTC {
		t.Fatalf("CreateDate %v", v.Users[0].CreateDate)
	}
}

func TestDefaultsWithoutSeed(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, secret := e.MainAccessKey()
	if e.AccountID() != DefaultAccountID || len(id) != 24 || !strings.HasPrefix(id, "LTAI") || len(secret) != 30 {
		t.Fatalf("defaults: %s %s (%d)", e.AccountID(), id, len(secret))
	}
	e2, _ := New(Options{})
	if id2, _ := e2.MainAccessKey(); id2 == id {
		t.Fatal("two unseeded emulators share a main key")
	}
	a, _ := New(Options{RandSeed: 3})
	b, _ := New(Options{RandSeed: 3})
	ida, _ := a.MainAccessKey()
	idb, _ := b.MainAccessKey()
	if ida != idb {
		t.Fatal("RandSeed does not make the main key deterministic")
	}
	for _, name := range []string{"AdministratorAccess", "ReadOnlyAccess", "AliyunRAMFullAccess", "AliyunRAMReadOnlyAccess",
		"AliyunSTSAssumeRoleAccess", "AliyunECSReadOnlyAccess", "AliyunOSSReadOnlyAccess"} {
		if systemPolicies[name] == nil {
			t.Errorf("system policy %s missing", name)
		}
	}
}
