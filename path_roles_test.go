package alicloud

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

const (
	ecsDescribeDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:DescribeRegions"],"Resource":["*"]}]}`
	ecsAllDoc      = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:Describe*"],"Resource":["*"]}]}`
	ossDoc         = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["*"]}]}`
)

func TestRole_AssumedRoleCRUD(t *testing.T) {
	e := newTestEnv(t)
	sessionPolicy := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeRegions","Resource":"*"}]}`

	resp := e.ok(logical.CreateOperation, "role/Deploy", map[string]interface{}{
		"role_arn": e.readerARN, "policy": sessionPolicy, "ttl": "2h", "max_ttl": "4h",
		"role_session_name_template": "{{ .RoleName }}-{{ unix_time }}",
	})
	if resp != nil {
		t.Fatalf("create response = %v, want none", resp)
	}
	// Names are lowercased, as in HashiCorp's plugin.
	if entry, _ := e.s.Get(e.ctx, "role/deploy"); entry == nil {
		t.Fatal("role not stored under role/deploy")
	}
	read := e.ok(logical.ReadOperation, "role/DEPLOY", nil).Data
	want := map[string]interface{}{
		"credential_type": "assumed_role", "role_arn": e.readerARN, "policy": sessionPolicy, "ttl": int64(7200), "max_ttl": int64(14400),
		"role_session_name_template": "{{ .RoleName }}-{{ unix_time }}", "external_id": "", "username_template": "",
	}
	for k, v := range want {
		if !reflect.DeepEqual(read[k], v) {
			t.Errorf("read %s = %#v, want %#v", k, read[k], v)
		}
	}

	// A partial update keeps the other fields.
	e.ok(logical.UpdateOperation, "role/deploy", map[string]interface{}{"external_id": e.externalID})
	read = e.ok(logical.ReadOperation, "role/deploy", nil).Data
	if read["role_arn"] != e.readerARN || read["policy"] != sessionPolicy || read["external_id"] != e.externalID || read["ttl"] != int64(7200) {
		t.Errorf("after partial update: %v", read)
	}

	e.ok(logical.CreateOperation, "role/other", map[string]interface{}{"role_arn": e.wideARN, "credential_type": "assumed_role"})
	list := e.ok(logical.ListOperation, "role/", nil).Data["keys"]
	if !reflect.DeepEqual(list, []string{"deploy", "other"}) {
		t.Errorf("list = %v", list)
	}
	e.ok(logical.DeleteOperation, "role/deploy", nil)
	if resp := e.ok(logical.ReadOperation, "role/deploy", nil); resp != nil {
		t.Errorf("read after delete = %v", resp.Data)
	}
	e.ok(logical.DeleteOperation, "role/deploy", nil) // deleting twice is fine
	e.badRequest(logical.ReadOperation, "creds/deploy", nil, `role "deploy" does not exist`)
}

func TestRole_Validation(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/sts", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/ram", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess,type:System"}})
	big := `[{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:Describe*","Resource":"` + strings.Repeat("r", 6200) + `"}]}]`
	tests := []struct {
		name, path string
		data       map[string]interface{}
		want       string
	}{
		{"unknown type", "role/x", map[string]interface{}{"credential_type": "federation_token"}, `credential_type: must be "assumed_role" or "ram_user"`},
		{"assumed_role without arn", "role/x", map[string]interface{}{"credential_type": "assumed_role"}, `role_arn: required for credential_type "assumed_role"`},
		{"bad arn", "role/x", map[string]interface{}{"role_arn": "acs:ram::123:user/bob"}, "role_arn: must look like acs:ram::<account>:role/<name>"},
		{"inline on sts", "role/x", map[string]interface{}{"role_arn": e.readerARN, "inline_policies": "[" + ecsDescribeDoc + "]"}, `inline_policies: does not apply to credential_type "assumed_role"`},
		{"remote on sts", "role/x", map[string]interface{}{"role_arn": e.readerARN, "remote_policies": []string{"name:A,type:System"}}, `remote_policies: does not apply to credential_type "assumed_role"`},
		{"groups on sts", "role/x", map[string]interface{}{"role_arn": e.readerARN, "ram_groups": "developers"}, `ram_groups: does not apply to credential_type "assumed_role"`},
		{"username template on sts", "role/x", map[string]interface{}{"role_arn": e.readerARN, "username_template": "x"}, `username_template: does not apply to credential_type "assumed_role"`},
		{"policy on ram_user", "role/x", map[string]interface{}{"credential_type": "ram_user", "policy": ecsDescribeDoc, "ram_groups": "developers"}, `policy: does not apply to credential_type "ram_user"`},
		{"external id on ram_user", "role/x", map[string]interface{}{"ram_groups": "developers", "external_id": "abc"}, `external_id: does not apply to credential_type "ram_user"`},
		{"session template on ram_user", "role/x", map[string]interface{}{"ram_groups": "developers", "role_session_name_template": "x"}, `role_session_name_template: does not apply to credential_type "ram_user"`},
		{"role_arn on ram_user", "role/x", map[string]interface{}{"credential_type": "ram_user", "role_arn": e.readerARN}, `role_arn: does not apply to credential_type "ram_user"`},
		{"session policy not JSON", "role/x", map[string]interface{}{"role_arn": e.readerARN, "policy": "allow all"}, "policy: must be a JSON policy document"},
		{"session policy too long", "role/x", map[string]interface{}{"role_arn": e.readerARN, "policy": `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"` + strings.Repeat("r", 2048) + `"}]}`}, "more than the 2048 allowed"},
		{"bad external id", "role/x", map[string]interface{}{"role_arn": e.readerARN, "external_id": "x"}, "external_id: must be 2-1224 characters"},
		{"sts ttl too short", "role/x", map[string]interface{}{"role_arn": e.readerARN, "ttl": 600}, `ttl: must be between 900 and 43200 seconds for credential_type "assumed_role"`},
		{"sts max_ttl too long", "role/x", map[string]interface{}{"role_arn": e.readerARN, "max_ttl": "13h"}, `max_ttl: must be between 900 and 43200 seconds`},
		{"ttl over max_ttl", "role/x", map[string]interface{}{"role_arn": e.readerARN, "ttl": "2h", "max_ttl": "1h"}, "ttl: 7200 seconds exceeds max_ttl of 3600 seconds"},
		{"bad session template", "role/x", map[string]interface{}{"role_arn": e.readerARN, "role_session_name_template": "a b c"}, "role_session_name_template: produced \"a b c\", which is not a valid role session name"},
		{"ram_user with nothing", "role/x", map[string]interface{}{"ttl": 60}, "inline_policies: a ram_user role needs at least one of inline_policies, remote_policies or ram_groups"},
		{"inline not an array", "role/x", map[string]interface{}{"inline_policies": ecsDescribeDoc}, "inline_policies: must be a JSON array of policy documents"},
		{"inline bad JSON", "role/x", map[string]interface{}{"inline_policies": "[{"}, "inline_policies: must be a JSON array of policy documents: invalid JSON"},
		{"inline null doc", "role/x", map[string]interface{}{"inline_policies": "[null]"}, "inline_policies[0]: must be a JSON object"},
		{"inline without statement", "role/x", map[string]interface{}{"inline_policies": `[{"Version":"1"}]`}, `inline_policies[0]: must be a policy document with a "Statement" list`},
		{"inline empty statement", "role/x", map[string]interface{}{"inline_policies": `[{"Version":"1","Statement":[]}]`}, `inline_policies[0]: "Statement" must be a non-empty list`},
		{"inline too long", "role/x", map[string]interface{}{"inline_policies": big}, "inline_policies[0]: is 62"},
		{"too many inline", "role/x", map[string]interface{}{"inline_policies": "[" + strings.Repeat(ecsDescribeDoc+",", 10) + ecsDescribeDoc + "]"}, "inline_policies: at most 10 documents"},
		{"remote not a pair", "role/x", map[string]interface{}{"remote_policies": []string{"AliyunECSReadOnlyAccess"}}, `remote_policies[0]: "AliyunECSReadOnlyAccess" is not "name:<name>,type:<System|Custom>"`},
		{"remote unknown key", "role/x", map[string]interface{}{"remote_policies": []string{"name:A,kind:System"}}, `remote_policies[0]: unknown key "kind"`},
		{"remote without name", "role/x", map[string]interface{}{"remote_policies": []string{"type:System"}}, "remote_policies[0]: policy name is required"},
		{"remote without type", "role/x", map[string]interface{}{"remote_policies": []string{"name:AliyunECSReadOnlyAccess"}}, "remote_policies[0]: policy type is required"},
		{"remote bad type", "role/x", map[string]interface{}{"remote_policies": []string{"name:A,type:Managed"}}, `remote_policies[0]: policy type must be System or Custom, not "Managed"`},
		{"remote bad name", "role/x", map[string]interface{}{"remote_policies": []string{"name:A_B,type:System"}}, `remote_policies[0]: policy name "A_B" must be 1-128 letters`},
		{"remote missing in RAM", "role/x", map[string]interface{}{"remote_policies": []string{"name:NoSuchPolicy,type:System"}}, `remote_policies: policy "NoSuchPolicy" of type System does not exist in RAM`},
		{"bad group name", "role/x", map[string]interface{}{"ram_groups": "dev ops"}, `ram_groups: "dev ops" is not a valid group name`},
		{"group missing in RAM", "role/x", map[string]interface{}{"ram_groups": "nosuchgroup"}, `ram_groups: group "nosuchgroup" does not exist in RAM`},
		{"bad username template", "role/x", map[string]interface{}{"ram_groups": "developers", "username_template": "{{ .RoleName }}/{{ .DisplayName }}"}, "username_template: produced \"sample-role-name/token-sample-display-name\""},
		{"RAM refuses the document", "role/x", map[string]interface{}{"inline_policies": `[{"Version":"1","Statement":[{"Effect":"Perhaps","Action":"ecs:*","Resource":"*"}]}]`}, "inline_policies[0]: RAM refused the document"},
		{"type change without the new type's fields", "role/sts", map[string]interface{}{"credential_type": "ram_user"}, "inline_policies: a ram_user role needs at least one of inline_policies, remote_policies or ram_groups"},
		{"ram field on sts update", "role/sts", map[string]interface{}{"ram_groups": "developers"}, `ram_groups: does not apply to credential_type "assumed_role"`},
		{"arn on ram update keeping its policies", "role/ram", map[string]interface{}{"role_arn": e.readerARN}, `role_arn: makes the role "assumed_role", but its remote_policies (of "ram_user") are still set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			before := e.emu.Snapshot()
			e.badRequest(logical.UpdateOperation, tc.path, tc.data, tc.want)
			after := e.emu.Snapshot()
			if len(after.Policies) != len(before.Policies) {
				t.Errorf("a refused write left custom policies: %v", e.policyNames())
			}
		})
	}
	e.t = t
	list := e.ok(logical.ListOperation, "role/", nil).Data["keys"]
	if !reflect.DeepEqual(list, []string{"ram", "sts"}) {
		t.Errorf("roles after refused writes = %v", list)
	}
	if kinds := e.walEntries(); len(kinds) != 0 {
		t.Errorf("refused writes left WAL entries %v", kinds)
	}

	// ram_user roles are checked against RAM, so they need a config.
	e.ok(logical.DeleteOperation, "config", nil)
	e.badRequest(logical.UpdateOperation, "role/x", map[string]interface{}{"ram_groups": "developers"}, "config: a ram_user role is checked against RAM when written")

	// A ttl above the mount's maximum is accepted with a warning.
	e.configure(nil)
	resp := e.ok(logical.UpdateOperation, "role/long", map[string]interface{}{"ram_groups": "developers", "ttl": "72h"})
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "exceeds the mount's maximum lease TTL") {
		t.Errorf("warnings = %v", resp)
	}
}

// TestRole_ManagedPolicies follows the custom policies of a ram_user role:
// created once at role write, a new version when a document changes (old
// versions rotated out), removed when unused, kept while a user holds them.
func TestRole_ManagedPolicies(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	p0, p1 := "vault-5f0c1a2b-web-0", "vault-5f0c1a2b-web-1"

	e.ok(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "," + ossDoc + "]"})
	read := e.ok(logical.ReadOperation, "role/web", nil).Data
	if !reflect.DeepEqual(read["inline_policy_names"], []string{p0, p1}) {
		t.Fatalf("inline_policy_names = %v", read["inline_policy_names"])
	}
	pol := e.policy(p0)
	if pol == nil || len(pol.Versions) != 1 || !sameJSON(pol.Versions[0].Document, ecsDescribeDoc) || !strings.Contains(pol.Description, "role web") {
		t.Fatalf("policy %s = %+v", p0, pol)
	}
	if e.policy(p1) == nil {
		t.Fatalf("policy %s missing; policies: %v", p1, e.policyNames())
	}
	inline := read["inline_policies"].([]*inlinePolicy)
	hash0 := inline[0].UUID
	if len(hash0) != 32 {
		t.Errorf("inline policy hash = %q, want a 32-character id", hash0)
	}

	// Issuing uses the shared policies: no policy is created per lease.
	creates := e.emu.Counters()["ram:CreatePolicy"]
	var leases []*logical.Response
	for i := 0; i < 3; i++ {
		leases = append(leases, e.ok(logical.ReadOperation, "creds/web", nil))
	}
	if got := e.emu.Counters()["ram:CreatePolicy"]; got != creates {
		t.Fatalf("issuing 3 users created %d policies, want 0", got-creates)
	}
	if got := e.policy(p0).AttachmentCount; got != 3 {
		t.Fatalf("%s attachment count = %d, want 3", p0, got)
	}
	e.assertWorks(e.credsClient(leases[0]), "acs:ram::"+e.acct+":user/vault-token-alice-web-")

	// Rewriting an unchanged document keeps its version and hash.
	e.ok(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "," + ossDoc + "]"})
	if v := e.policy(p0).Versions; len(v) != 1 {
		t.Errorf("unchanged document made versions %v", v)
	}
	if got := e.ok(logical.ReadOperation, "role/web", nil).Data["inline_policies"].([]*inlinePolicy)[0].UUID; got != hash0 {
		t.Errorf("hash of an unchanged document changed: %s -> %s", hash0, got)
	}

	// A changed document becomes a new default version; at most five are kept.
	for i := 0; i < 6; i++ {
		doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:Describe*"],"Resource":["*"]},` +
			`{"Effect":"Allow","Action":["oss:GetObject"],"Resource":["acs:oss:*:*:bucket-` + strconv.Itoa(i) + `/*"]}]}`
		e.ok(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + doc + "," + ossDoc + "]"})
	}
	pol = e.policy(p0)
	if len(pol.Versions) != 5 {
		t.Errorf("%s has %d versions, want 5 (oldest rotated out)", p0, len(pol.Versions))
	}
	for _, v := range pol.Versions {
		if v.Default && !strings.Contains(v.Document, "bucket-5") {
			t.Errorf("default version %s is %s, want the last document", v.ID, v.Document)
		}
	}
	// The existing users hold the new version at once.
	if err := describeRegions(e.ctx, e.credsClient(leases[1])); err != nil {
		t.Fatalf("a user lost the permission after a version change: %v", err)
	}

	// Dropping a document retires its policy; it is still attached, so it
	// waits for the users' revocation.
	resp := e.ok(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], p1) {
		t.Fatalf("warnings = %v", resp)
	}
	if e.policy(p1) == nil {
		t.Fatal("a policy still attached to users was deleted")
	}
	if entry, _ := e.s.Get(e.ctx, policyGCPrefix+p1); entry == nil {
		t.Fatal("no clean-up marker for the retired policy")
	}
	for _, l := range leases {
		if err := e.revoke(l); err != nil {
			t.Fatal(err)
		}
	}
	if e.policy(p1) != nil {
		t.Fatal("the retired policy was not deleted with its last holder")
	}
	if entry, _ := e.s.Get(e.ctx, policyGCPrefix+p1); entry != nil {
		t.Fatal("the clean-up marker was not removed")
	}
	if e.policy(p0) == nil {
		t.Fatal("a policy the role still uses was deleted by a revocation")
	}

	// Deleting the role while a user holds its policy keeps the policy until
	// the revocation; a role without holders loses its policies at once.
	held := e.ok(logical.ReadOperation, "creds/web", nil)
	resp = e.ok(logical.DeleteOperation, "role/web", nil)
	if resp == nil || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "still attached") {
		t.Fatalf("delete warnings = %v", resp)
	}
	if e.policy(p0) == nil {
		t.Fatal("a held policy was deleted with its role")
	}
	if err := e.revoke(held); err != nil {
		t.Fatal(err)
	}
	if e.policy(p0) != nil {
		t.Fatalf("policy of a deleted role survived its last holder: %v", e.policyNames())
	}

	e.ok(logical.CreateOperation, "role/idle", map[string]interface{}{"inline_policies": "[" + ossDoc + "]"})
	if e.policy("vault-5f0c1a2b-idle-0") == nil {
		t.Fatal("idle role policy not created")
	}
	if resp := e.ok(logical.DeleteOperation, "role/idle", nil); resp != nil {
		t.Errorf("delete of an idle role warned: %v", resp.Warnings)
	}
	if len(e.policyNames()) != 0 {
		t.Fatalf("policies left: %v", e.policyNames())
	}
}

// TestRole_ManagedPolicyTakeoverAndGC covers a role re-created while users of
// its predecessor still hold the policy, and the periodic clean-up.
func TestRole_ManagedPolicyTakeoverAndGC(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	p0 := "vault-5f0c1a2b-app-0"
	e.ok(logical.CreateOperation, "role/app", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	held := e.ok(logical.ReadOperation, "creds/app", nil)
	e.ok(logical.DeleteOperation, "role/app", nil)

	// Re-created: the existing policy is taken over with a new version and
	// its clean-up marker is dropped.
	e.ok(logical.CreateOperation, "role/app", map[string]interface{}{"inline_policies": "[" + ecsAllDoc + "]"})
	pol := e.policy(p0)
	if pol == nil || len(pol.Versions) != 2 {
		t.Fatalf("policy after take-over = %+v", pol)
	}
	if entry, _ := e.s.Get(e.ctx, policyGCPrefix+p0); entry != nil {
		t.Fatal("clean-up marker kept after take-over")
	}
	if err := e.revoke(held); err != nil {
		t.Fatal(err)
	}
	if e.policy(p0) == nil {
		t.Fatal("a policy in use by the re-created role was deleted")
	}

	// A user removed outside Vault leaves the marker; the periodic clean-up
	// deletes the policy (at most every 10 minutes).
	held = e.ok(logical.ReadOperation, "creds/app", nil)
	e.ok(logical.DeleteOperation, "role/app", nil)
	c, _ := e.b.getClient(e.ctx, e.s)
	if _, err := e.b.removeRAMUser(e.ctx, c, held.Secret.InternalData["username"].(string)); err != nil {
		t.Fatal(err)
	}
	if e.policy(p0) == nil {
		t.Fatal("policy deleted without the engine's clean-up")
	}
	periodic := func() {
		if err := e.b.periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
			t.Fatal(err)
		}
	}
	periodic()
	if e.policy(p0) != nil {
		t.Fatal("periodic clean-up did not delete the unused policy")
	}
	if names, _ := e.s.List(e.ctx, policyGCPrefix); len(names) != 0 {
		t.Fatalf("markers left: %v", names)
	}

	// The clean-up runs at most every 10 minutes.
	e.ok(logical.CreateOperation, "role/app", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	held = e.ok(logical.ReadOperation, "creds/app", nil)
	e.ok(logical.DeleteOperation, "role/app", nil)
	if _, err := e.b.removeRAMUser(e.ctx, c, held.Secret.InternalData["username"].(string)); err != nil {
		t.Fatal(err)
	}
	periodic()
	if e.policy(p0) == nil {
		t.Fatal("clean-up ran again within 10 minutes")
	}
	e.clock.Advance(11 * time.Minute)
	periodic()
	if e.policy(p0) != nil {
		t.Fatal("clean-up did not run after 10 minutes")
	}
}

// TestRole_PolicyWriteFailureUndone checks that a role write failing part way
// leaves RAM as it was: created policies removed, new versions undone.
func TestRole_PolicyWriteFailureUndone(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ok(logical.CreateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
	bad := `{"Version":"1","Statement":[{"Effect":"Perhaps","Action":"ecs:*","Resource":"*"}]}`
	// Document 0 changes (a version), document 1 is new (created), document
	// 2 is refused by RAM: all of it is undone.
	e.badRequest(logical.UpdateOperation, "role/web", map[string]interface{}{"inline_policies": "[" + ecsAllDoc + "," + ossDoc + "," + bad + "]"}, "inline_policies[2]: RAM refused the document")
	pol := e.policy("vault-5f0c1a2b-web-0")
	if pol == nil || len(pol.Versions) != 1 || !sameJSON(pol.Versions[0].Document, ecsDescribeDoc) || !pol.Versions[0].Default {
		t.Fatalf("policy 0 after a failed write = %+v, want only its first version", pol)
	}
	if e.policy("vault-5f0c1a2b-web-1") != nil {
		t.Fatal("policy 1 created by the failed write was kept")
	}
	if kinds := e.walEntries(); len(kinds) != 0 {
		t.Errorf("WAL entries left: %v", kinds)
	}
	read := e.ok(logical.ReadOperation, "role/web", nil).Data
	raw, _ := json.Marshal(read["inline_policies"])
	if !strings.Contains(string(raw), "ecs:DescribeRegions") || strings.Contains(string(raw), "oss:") {
		t.Errorf("stored role changed: %s", raw)
	}
}
