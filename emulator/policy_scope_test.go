package emulator

import (
	"strings"
	"testing"
	"time"
)

// TestScopedResources checks custom policies whose Resource names users,
// policies, groups and roles by name or prefix, the way the secrets
// engine's documented policies do: an action on two entities (attach a
// policy to a user, add a user to a group) needs both allowed; both ARN
// spellings (empty region or "*", account id or "*") match; another
// account's ARN does not.
func TestScopedResources(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	acct := DefaultAccountID
	if err := e.CreatePolicy("engine", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["ram:CreateUser","ram:DeleteUser","ram:*AccessKey*"],"Resource":"acs:ram:*:*:user/vault-*"},
		{"Effect":"Allow","Action":["ram:AttachPolicyToUser","ram:DetachPolicyFromUser"],"Resource":["acs:ram:*:*:user/vault-*","acs:ram::`+acct+`:policy/ReadOnlyAccess"]},
		{"Effect":"Allow","Action":"ram:AddUserToGroup","Resource":["acs:ram:*:`+acct+`:user/vault-*","acs:ram:*:*:group/dev*"]},
		{"Effect":"Allow","Action":"ram:GetPolicy","Resource":"acs:ram:*:999999999999:policy/*"},
		{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"acs:ram::`+acct+`:role/app"}]}`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice"} {
		if err := e.CreateUser(name); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"developers", "admins"} {
		if err := e.CreateGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	trust := trustAccount(acct)
	for _, r := range []string{"app", "admin"} {
		if _, err := e.CreateRole(r, trust, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	u := e.userClient(t, "engine-user", "engine")
	tests := []struct {
		action string
		kv     []string
		denied string // the resource named in the denial; "" when allowed
	}{
		{"CreateUser", []string{"UserName", "vault-1"}, ""},
		{"CreateUser", []string{"UserName", "alice2"}, "user/alice2"},
		{"CreateAccessKey", []string{"UserName", "vault-1"}, ""},
		{"CreateAccessKey", []string{"UserName", "alice"}, "user/alice"},
		// The caller's own user when UserName is omitted.
		{"ListAccessKeys", nil, "user/engine-user"},
		{"AttachPolicyToUser", []string{"PolicyType", "System", "PolicyName", "ReadOnlyAccess", "UserName", "vault-1"}, ""},
		{"AttachPolicyToUser", []string{"PolicyType", "System", "PolicyName", "AdministratorAccess", "UserName", "vault-1"}, "policy/AdministratorAccess"},
		{"AttachPolicyToUser", []string{"PolicyType", "System", "PolicyName", "ReadOnlyAccess", "UserName", "alice"}, "user/alice"},
		{"AddUserToGroup", []string{"UserName", "vault-1", "GroupName", "developers"}, ""},
		{"AddUserToGroup", []string{"UserName", "vault-1", "GroupName", "admins"}, "group/admins"},
		{"AddUserToGroup", []string{"UserName", "alice", "GroupName", "developers"}, "user/alice"},
		{"GetPolicy", []string{"PolicyType", "System", "PolicyName", "ReadOnlyAccess"}, "policy/ReadOnlyAccess"},
		{"AssumeRole", []string{"RoleArn", "acs:ram::" + acct + ":role/app", "RoleSessionName", "s-1"}, ""},
		{"AssumeRole", []string{"RoleArn", "acs:ram::" + acct + ":role/admin", "RoleSessionName", "s-1"}, "role/admin"},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+strings.Join(tt.kv, " "), func(t *testing.T) {
			u.t = t
			res := u.call(tt.action, tt.kv...)
			if tt.denied == "" {
				res.ok(t)
				return
			}
			res.expect(t, 403, "NoPermission")
			if got := res.str("AccessDeniedDetail.AuthAction"); !strings.EqualFold(got, map[bool]string{true: "sts:", false: "ram:"}[tt.action == "AssumeRole"]+tt.action) {
				t.Errorf("AuthAction %q", got)
			}
			if tt.action != "AssumeRole" && !strings.Contains(res.str("Message"), tt.denied) {
				t.Errorf("message %q does not name %s", res.str("Message"), tt.denied)
			}
		})
	}
}
