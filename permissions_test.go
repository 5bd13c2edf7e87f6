package alicloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	rampolicies "github.com/alicloud-vault/vault-plugin-secrets-alicloud/docs/ram-policies"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// restrictEngine replaces the full-access system policies of the engine's
// RAM user with the documented policies of the given features
// (docs/ram-policies), attached as custom policies exactly as an operator
// would attach them. Their names stay outside the "vault-" prefix the
// ram-users document lets the engine manage.
func (e *testEnv) restrictEngine(features ...string) {
	e.t.Helper()
	for _, p := range []string{"AliyunRAMFullAccess", "AliyunSTSAssumeRoleAccess"} {
		if err := e.emu.DetachPolicy("user", engineUser, "System", p); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, f := range features {
		e.attachEngineDocument("engine-"+f, f, engineUser)
	}
}

// attachEngineDocument attaches a feature's document, rendered for the
// engine user name renderFor, to the engine's RAM user as policy name.
func (e *testEnv) attachEngineDocument(name, feature, renderFor string) {
	e.t.Helper()
	doc, err := rampolicies.Render(feature, renderFor)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.emu.CreatePolicy(name, doc); err != nil {
		e.t.Fatalf("creating policy %s from %s.json: %v", name, feature, err)
	}
	if err := e.emu.AttachPolicy("user", engineUser, "Custom", name); err != nil {
		e.t.Fatal(err)
	}
}

// hashiCorpPolicy is the RAM policy HashiCorp documents for its AliCloud
// plugin: nine actions on every resource.
const hashiCorpPolicy = `{"Version":"1","Statement":[{"Effect":"Allow","Resource":"*","Action":[
	"ram:CreateAccessKey","ram:DeleteAccessKey","ram:CreatePolicy","ram:DeletePolicy","ram:AttachPolicyToUser",
	"ram:DetachPolicyFromUser","ram:CreateUser","ram:DeleteUser","sts:AssumeRole"]}]}`

// deniedHint is the start of the message of a refusal of action for lack
// of the named feature's policy.
func deniedHint(action, feature string) string {
	return fmt.Sprintf(`%s denied for the engine's identity (NoPermission); attach the %q policy from README "RAM permissions"`, action, feature)
}

// failsDenied sends a request and checks that it fails with a 400 whose
// message starts with the permission hint for action and feature, and
// carries no secret the test has seen.
func (e *testEnv) failsDenied(op logical.Operation, path string, data map[string]interface{}, action, feature string) {
	e.t.Helper()
	req := &logical.Request{Operation: op, Path: path, Data: data, Storage: e.s, DisplayName: "token-alice"}
	resp, err := httpStatusBackend{e.b}.HandleRequest(e.ctx, req)
	if err != nil {
		e.t.Fatalf("%s %s: error %v, want a 400 response", op, path, err)
	}
	code, body := rawStatus(resp)
	if code != 400 {
		e.t.Fatalf("%s %s: status %d (%v), want 400 naming %s", op, path, code, resp, action)
	}
	if !strings.Contains(body, deniedHint(action, feature)) {
		e.t.Fatalf("%s %s: error %s, want it to contain %q", op, path, body, deniedHint(action, feature))
	}
	e.assertNoSecrets(body)
}

// rawStatus returns the status and body of a raw response of
// httpStatusBackend, or of an error response (400).
func rawStatus(resp *logical.Response) (int, string) {
	if resp == nil {
		return 0, ""
	}
	if c, ok := resp.Data[logical.HTTPStatusCode].(int); ok {
		raw, _ := resp.Data[logical.HTTPRawBody].(string)
		var body struct{ Errors []string }
		if err := json.Unmarshal([]byte(raw), &body); err != nil {
			return c, raw
		}
		return c, strings.Join(body.Errors, "; ")
	}
	if resp.IsError() {
		return 400, resp.Error().Error()
	}
	return 200, ""
}

// assertNoSecrets fails if a secret the test saw is in s.
func (e *testEnv) assertNoSecrets(s string) {
	e.t.Helper()
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	for _, sec := range e.secrets {
		if strings.Contains(s, sec) {
			e.t.Fatalf("a secret (starting %q) is in %q", sec[:4], s)
		}
	}
}

// TestPermissions_Documents checks the shipped policy documents: each
// parses as RAM parses a custom policy and fits in one (6144 characters),
// all.json is the union of the others, the README shows each as it is, and
// every RAM or STS action the engine's code calls is in a document.
func TestPermissions_Documents(t *testing.T) {
	type statement struct {
		Effect   string
		Action   interface{}
		Resource interface{}
	}
	var union []string
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, f := range append(append([]string{}, rampolicies.Features...), rampolicies.All) {
		doc, err := rampolicies.Document(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := emulator.ParsePolicy(doc); err != nil {
			t.Errorf("%s.json: %v", f, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(doc)); err != nil {
			t.Fatal(err)
		}
		if n := compact.Len(); n > 6144 {
			t.Errorf("%s.json is %d characters compacted; a RAM custom policy holds 6144", f, n)
		}
		if !strings.Contains(string(readme), "```json\n"+doc+"```") {
			t.Errorf("README.md does not show %s.json as it is", f)
		}
		var parsed struct{ Statement []statement }
		if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
			t.Fatal(err)
		}
		var stmts []string
		for _, s := range parsed.Statement {
			b, _ := json.Marshal(s)
			stmts = append(stmts, string(b))
			for _, a := range asList(s.Action) {
				documented[a] = true
			}
		}
		if f == rampolicies.All {
			sort.Strings(stmts)
			sort.Strings(union)
			if strings.Join(stmts, "\n") != strings.Join(union, "\n") {
				t.Errorf("all.json is not the union of the feature documents:\n%s\nwant\n%s", strings.Join(stmts, "\n"), strings.Join(union, "\n"))
			}
		} else {
			union = append(union, stmts...)
		}
	}

	// Every aliyun call of the engine's code, by its RAM or STS action.
	actionOf := map[string]string{
		"AssumeRole": "sts:AssumeRole", "GetCallerIdentity": "sts:GetCallerIdentity", "ListUsersPage": "ram:ListUsers",
	}
	// Calls that need no permission (GetCallerIdentity), or whose refusal
	// the engine accepts (the ram_endpoint check's one-item ListUsers).
	needless := map[string]bool{"sts:GetCallerIdentity": true, "ram:ListUsers": true}
	call := regexp.MustCompile(`\bapi\.([A-Z][A-Za-z]+)\(`)
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			if m[1] == "Endpoint" {
				continue
			}
			seen++
			a, ok := actionOf[m[1]]
			if !ok {
				a = "ram:" + m[1]
			}
			if !documented[a] && !needless[a] {
				t.Errorf("%s calls %s, which no document in docs/ram-policies allows", f.Name(), a)
			}
		}
	}
	if seen < 40 {
		t.Fatalf("found %d aliyun calls in the engine's code; the scan is broken", seen)
	}
}

func asList(v interface{}) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []interface{}:
		var out []string
		for _, s := range v {
			out = append(out, s.(string))
		}
		return out
	}
	return nil
}

// TestPermissions_ConfigNeedsNone: config writes and config/identity work
// with no policy at all (GetCallerIdentity needs none; a refused RAM read
// of a new ram_endpoint is accepted).
func TestPermissions_ConfigNeedsNone(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine()
	e.configure(nil)
	if got := e.ok(logical.ReadOperation, "config/identity", nil).Data["arn"]; got != "acs:ram::"+e.acct+":user/"+engineUser {
		t.Fatalf("config/identity arn = %v", got)
	}
	e.failsDenied(logical.UpdateOperation, "config/rotate-root", nil, "ram:ListAccessKeys", rampolicies.RotateRoot)
}

// TestPermissions_STSAssumeRole runs assumed_role roles with the
// sts-assume-role document alone, and with it narrowed to one role.
func TestPermissions_STSAssumeRole(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.STSAssumeRole)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN, "ttl": "30m"})
	e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/reader", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")
	e.ok(logical.CreateOperation, "role/partner", map[string]interface{}{"role_arn": e.partnerARN, "external_id": e.externalID})
	e.assertWorks(e.credsClient(e.ok(logical.UpdateOperation, "creds/partner", nil)), "acs:ram::"+e.acct+":assumed-role/partner/")

	// Not enough for ram_user roles: the first RAM call names its action.
	e.failsDenied(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"},
		"ram:CreatePolicy", rampolicies.RAMUsers)
	e.failsDenied(logical.CreateOperation, "role/dev", map[string]interface{}{"remote_policies": "name:ReadOnlyAccess,type:System"},
		"ram:GetPolicy", rampolicies.RAMUsers)

	// Narrowed to the reader role, as README suggests: the others are refused.
	narrow := newTestEnv(t)
	narrow.restrictEngine()
	if err := narrow.emu.CreatePolicy("engine-sts-narrow", strings.Replace(mustDocument(t, rampolicies.STSAssumeRole),
		"acs:ram:*:*:role/*", "acs:ram::"+narrow.acct+":role/reader", 1)); err != nil {
		t.Fatal(err)
	}
	if err := narrow.emu.AttachPolicy("user", engineUser, "Custom", "engine-sts-narrow"); err != nil {
		t.Fatal(err)
	}
	narrow.configure(nil)
	narrow.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": narrow.readerARN})
	narrow.ok(logical.CreateOperation, "role/wide", map[string]interface{}{"role_arn": narrow.wideARN})
	narrow.ok(logical.ReadOperation, "creds/reader", nil)
	narrow.failsDenied(logical.ReadOperation, "creds/wide", nil, "sts:AssumeRole", rampolicies.STSAssumeRole)
}

func mustDocument(t *testing.T, feature string) string {
	t.Helper()
	doc, err := rampolicies.Document(feature)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestPermissions_RAMUsers runs ram_user roles with the ram-users document
// alone: role writes (custom policy, new version, remote policy and group
// checks), issue, revocation from the lease and by listing (with a login
// profile, an MFA device, a key, a policy and a group added out of band),
// the rollback of a crashed issue and the role's deletion.
func TestPermissions_RAMUsers(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.RAMUsers)
	e.configure(nil)
	role := map[string]interface{}{
		"inline_policies": "[" + ecsDescribeDoc + "]",
		"remote_policies": "name:AliyunOSSReadOnlyAccess,type:System",
		"ram_groups":      "developers",
	}
	e.ok(logical.CreateOperation, "role/dev", role)
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":user/vault-")
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke from the lease: %v", err)
	}

	// A new document: a new version of the role's custom policy.
	role["inline_policies"] = "[" + ecsDescribeDoc + "," + ossDoc + "]"
	role["ram_groups"] = "developers,auditors"
	e.ok(logical.UpdateOperation, "role/dev", role)
	resp = e.ok(logical.ReadOperation, "creds/dev", nil)
	user := resp.Secret.InternalData["username"].(string)
	if err := e.emu.CreateLoginProfile(user); err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.BindMFADevice(user); err != nil {
		t.Fatal(err)
	}
	_, extra, err := e.emu.CreateAccessKey(user)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(extra)
	if err := e.emu.AttachPolicy("user", user, "System", "ReadOnlyAccess"); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.CreateGroup("extra"); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.AddUserToGroup(user, "extra"); err != nil {
		t.Fatal(err)
	}
	e.emu.ResetCounters()
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke of a user with additions: %v", err)
	}
	if e.user(user) != nil {
		t.Fatalf("user %s survived revocation", user)
	}
	if c := e.emu.Counters(); c["ram:ListAccessKeys"] == 0 || c["ram:DeleteLoginProfile"] == 0 || c["ram:UnbindMFADevice"] == 0 {
		t.Errorf("calls %v: the revocation did not take the listing path", c)
	}

	// A crash after CreateUser: the rollback removes the user.
	e.crashAtStep("ram_user:create_user")
	if _, err := e.do(logical.ReadOperation, "creds/dev", nil); err == nil {
		t.Fatal("issue survived the simulated crash")
	}
	e.crashAtStep("")
	if len(e.userNames()) != 1 {
		t.Fatalf("users after the crash: %v", e.userNames())
	}
	e.ageWALs(time.Hour)
	e.rollback()
	if got := e.userNames(); len(got) != 0 {
		t.Fatalf("users after the rollback: %v", got)
	}

	e.ok(logical.DeleteOperation, "role/dev", nil)
	for _, p := range e.policyNames() {
		if strings.HasPrefix(p, "vault-") {
			t.Errorf("managed policy %s survived the role's deletion", p)
		}
	}

	// Users outside the documented name prefix are refused, naming the action.
	e.ok(logical.CreateOperation, "role/other", map[string]interface{}{
		"remote_policies": "name:ReadOnlyAccess,type:System", "username_template": "app-{{ random 8 }}",
	})
	e.failsDenied(logical.ReadOperation, "creds/other", nil, "ram:CreateUser", rampolicies.RAMUsers)
	// And the document does not cover assumed_role roles.
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.failsDenied(logical.ReadOperation, "creds/reader", nil, "sts:AssumeRole", rampolicies.STSAssumeRole)
}

// TestPermissions_RAMUsersRevokeHint: a revocation the engine's identity
// may not carry out says which action and document are missing.
func TestPermissions_RAMUsersRevokeHint(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.RAMUsers)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"ram_groups": "developers"})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	if err := e.emu.DetachPolicy("user", engineUser, "Custom", "engine-"+rampolicies.RAMUsers); err != nil {
		t.Fatal(err)
	}
	err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)})
	// The lease's key first (refused), then the user's mark (refused).
	if err == nil || !strings.Contains(err.Error(), deniedHint("ram:GetUser", rampolicies.RAMUsers)) {
		t.Fatalf("revoke: %v, want the permission hint", err)
	}
	e.assertNoSecrets(err.Error())
}

// TestPermissions_StaticRoles runs static roles with the static-roles
// document alone: create, read, rotate by hand and on schedule, the
// previous key's retirement, delete.
func TestPermissions_StaticRoles(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.StaticRoles)
	e.configure(nil)
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h", "grace_period": "10m"})
	creds := e.staticCreds("app")
	e.assertKeyWorks("static-creds", creds["access_key"].(string), creds["secret_key"].(string))
	first := creds["access_key"].(string)
	e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	e.clock.Advance(61 * time.Minute)
	if err := e.tick(); err != nil {
		t.Fatal(err)
	}
	creds = e.staticCreds("app")
	if creds["access_key"] == first {
		t.Fatal("the scheduled rotation did not happen")
	}
	e.assertKeyWorks("after rotations", creds["access_key"].(string), creds["secret_key"].(string))
	if keys := e.keysOf(staticUser); len(keys) > 2 || !contains(keys, creds["access_key"].(string)) || contains(keys, first) {
		t.Fatalf("keys after rotations: %v (first %s, current %s)", keys, first, creds["access_key"])
	}
	e.ok(logical.DeleteOperation, "static-role/app", nil)

	// Not enough for ram_user roles.
	e.failsDenied(logical.CreateOperation, "role/dev", map[string]interface{}{"ram_groups": "developers"}, "ram:GetGroup", rampolicies.RAMUsers)
}

// TestPermissions_StaticRolesHint: a static role on a user the engine may
// not manage names the action and the document.
func TestPermissions_StaticRolesHint(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine()
	e.configure(nil)
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	e.failsDenied(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h"}, "ram:GetUser", rampolicies.StaticRoles)
}

// TestPermissions_RotateRoot runs config/rotate-root with the rotate-root
// document alone, rendered for the engine's user, including a crash and
// its rollback; rendered for another user it is refused with the hint.
func TestPermissions_RotateRoot(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.RotateRoot)
	e.configure(nil)
	newID := e.ok(logical.UpdateOperation, "config/rotate-root", nil).Data["access_key"].(string)
	if got := e.storedKeyWorks(); got != newID {
		t.Fatalf("stored key %s, want %s", got, newID)
	}
	e.crashAtStep("rotate_root:confirm")
	if _, err := e.do(logical.UpdateOperation, "config/rotate-root", nil); err == nil {
		t.Fatal("rotation survived the simulated crash")
	}
	e.crashAtStep("")
	e.ageWALs(time.Hour)
	e.rollback()
	if keys := e.engineKeys(); len(keys) != 1 || keys[0] != newID {
		t.Fatalf("keys after the rollback: %v, want only %s", keys, newID)
	}

	other := newTestEnv(t)
	other.restrictEngine()
	other.attachEngineDocument("engine-rotate-root", rampolicies.RotateRoot, "someone-else")
	other.configure(nil)
	other.failsDenied(logical.UpdateOperation, "config/rotate-root", nil, "ram:ListAccessKeys", rampolicies.RotateRoot)
}

// TestPermissions_All runs every feature with the union document.
func TestPermissions_All(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine()
	e.attachEngineDocument("engine-all", rampolicies.All, engineUser)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.assertWorks(e.credsClient(e.ok(logical.ReadOperation, "creds/reader", nil)), "acs:ram::"+e.acct+":assumed-role/reader/")
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{
		"inline_policies": "[" + ecsDescribeDoc + "]", "remote_policies": "name:AliyunOSSReadOnlyAccess,type:System", "ram_groups": "developers",
	})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	e.assertWorks(e.credsClient(resp), "acs:ram::"+e.acct+":user/vault-")
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.DeleteOperation, "role/dev", nil)
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h"})
	e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	e.ok(logical.DeleteOperation, "static-role/app", nil)
	if got := e.userNames(); len(got) != 1 || got[0] != staticUser {
		t.Fatalf("users left: %v", got)
	}
}

// TestPermissions_HashiCorpPolicy shows what HashiCorp's nine actions
// leave out: assumed_role credentials and a ram_user role with one inline
// policy work; remote policies, groups, revocation of a user with anything
// added, static roles and rotate-root are refused, naming the action.
func TestPermissions_HashiCorpPolicy(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine()
	if err := e.emu.CreatePolicy("hashicorp-nine", hashiCorpPolicy); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.AttachPolicy("user", engineUser, "Custom", "hashicorp-nine"); err != nil {
		t.Fatal(err)
	}
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.ReadOperation, "creds/reader", nil)
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	e.failsDenied(logical.CreateOperation, "role/remote", map[string]interface{}{"remote_policies": "name:ReadOnlyAccess,type:System"}, "ram:GetPolicy", rampolicies.RAMUsers)
	e.failsDenied(logical.CreateOperation, "role/grouped", map[string]interface{}{"ram_groups": "developers"}, "ram:GetGroup", rampolicies.RAMUsers)
	resp = e.ok(logical.ReadOperation, "creds/dev", nil)
	user := resp.Secret.InternalData["username"].(string)
	if err := e.emu.AttachPolicy("user", user, "System", "ReadOnlyAccess"); err != nil {
		t.Fatal(err)
	}
	err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)})
	// RAM refuses DeleteUser (the added policy), and the engine may not
	// check the user's mark (GetUser) before listing what it has.
	if err == nil || !strings.Contains(err.Error(), deniedHint("ram:GetUser", rampolicies.RAMUsers)) {
		t.Fatalf("revoke of a user with a policy added: %v, want the GetUser hint", err)
	}
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	e.failsDenied(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "24h"}, "ram:GetUser", rampolicies.StaticRoles)
	e.failsDenied(logical.UpdateOperation, "config/rotate-root", nil, "ram:ListAccessKeys", rampolicies.RotateRoot)
}

// TestPermissions_ScheduledHints: a scheduled rotation refused for lack of
// permission records the hint where an operator reads the failure
// (static-role last_error, config last_rotation_error).
func TestPermissions_ScheduledHints(t *testing.T) {
	e := newTestEnv(t)
	e.restrictEngine(rampolicies.StaticRoles)
	e.configure(map[string]interface{}{"rotation_period": "1h"})
	if err := e.emu.CreateUser(staticUser); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.UpdateOperation, "static-role/app", map[string]interface{}{"username": staticUser, "rotation_period": "1h"})
	if err := e.emu.DetachPolicy("user", engineUser, "Custom", "engine-"+rampolicies.StaticRoles); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	_ = e.tick()
	_ = e.rootTick()
	if got := e.ok(logical.ReadOperation, "static-role/app", nil).Data["last_error"].(string); !strings.Contains(got, deniedHint("ram:ListAccessKeys", rampolicies.StaticRoles)) {
		t.Errorf("static role last_error = %q, want the static-roles hint", got)
	}
	if got := e.ok(logical.ReadOperation, "config", nil).Data["last_rotation_error"].(string); !strings.Contains(got, deniedHint("ram:ListAccessKeys", rampolicies.RotateRoot)) {
		t.Errorf("config last_rotation_error = %q, want the rotate-root hint", got)
	}
}
