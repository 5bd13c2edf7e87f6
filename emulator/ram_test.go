package emulator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const simpleDoc = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:bucket/*"}]}`

var dateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

func TestUserLifecycle(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)

	res := c.call("CreateUser", "UserName", "alice", "DisplayName", "Alice A", "Comments", "test").ok(t)
	if res.str("User.UserName") != "alice" || res.str("User.DisplayName") != "Alice A" || res.str("User.UserId") == "" {
		t.Fatalf("CreateUser: %s", res.raw)
	}
	if !dateRE.MatchString(res.str("User.CreateDate")) {
		t.Errorf("CreateDate %q", res.str("User.CreateDate"))
	}
	c.call("CreateUser", "UserName", "alice").expect(t, 409, "EntityAlreadyExists.User")
	got := c.call("GetUser", "UserName", "alice").ok(t)
	if got.str("User.UserId") != res.str("User.UserId") || got.str("User.Comments") != "test" {
		t.Errorf("GetUser: %s", got.raw)
	}
	c.call("GetUser", "UserName", "bob").expect(t, 404, "EntityNotExist.User")

	// AccessKeys: two at most, secret only at creation.
	k1 := c.call("CreateAccessKey", "UserName", "alice").ok(t)
	if k1.str("AccessKey.AccessKeySecret") == "" || k1.str("AccessKey.Status") != "Active" || !strings.HasPrefix(k1.str("AccessKey.AccessKeyId"), "LTAI") {
		t.Fatalf("CreateAccessKey: %s", k1.raw)
	}
	c.call("CreateAccessKey", "UserName", "alice").ok(t)
	c.call("CreateAccessKey", "UserName", "alice").expect(t, 409, "LimitExceeded.User.AccessKey")
	list := c.call("ListAccessKeys", "UserName", "alice").ok(t)
	keys := list.list("AccessKeys.AccessKey")
	if len(keys) != 2 {
		t.Fatalf("ListAccessKeys: %s", list.raw)
	}
	if strings.Contains(list.raw, "AccessKeySecret") || strings.Contains(list.raw, k1.str("AccessKey.AccessKeySecret")) {
		t.Fatalf("ListAccessKeys returns a secret: %s", list.raw)
	}
	kid := k1.str("AccessKey.AccessKeyId")
	c.call("UpdateAccessKey", "UserName", "alice", "UserAccessKeyId", kid, "Status", "Disabled").expect(t, 400, "InvalidParameter.Status")
	c.call("UpdateAccessKey", "UserName", "alice", "UserAccessKeyId", "LTAInope", "Status", "Inactive").expect(t, 404, "EntityNotExist.User.AccessKey")
	c.call("UpdateAccessKey", "UserName", "alice", "UserAccessKeyId", kid, "Status", "Inactive").ok(t)
	e.keyClient(t, kid, k1.str("AccessKey.AccessKeySecret")).call("GetCallerIdentity").expect(t, 400, "InvalidAccessKeyId.Inactive")

	// DeleteUser conflicts: keys, then policies, then groups.
	c.call("AttachPolicyToUser", "PolicyType", "System", "PolicyName", "ReadOnlyAccess", "UserName", "alice").ok(t)
	c.call("CreateGroup", "GroupName", "devs").ok(t)
	c.call("AddUserToGroup", "UserName", "alice", "GroupName", "devs").ok(t)
	c.call("DeleteUser", "UserName", "alice").expect(t, 409, "DeleteConflict.User.AccessKey")
	for _, k := range keys {
		c.call("DeleteAccessKey", "UserName", "alice", "UserAccessKeyId", k["AccessKeyId"].(string)).ok(t)
	}
	c.call("DeleteAccessKey", "UserName", "alice", "UserAccessKeyId", kid).expect(t, 404, "EntityNotExist.User.AccessKey")
	e.keyClient(t, kid, k1.str("AccessKey.AccessKeySecret")).call("GetCallerIdentity").expect(t, 404, "InvalidAccessKeyId.NotFound")
	c.call("DeleteUser", "UserName", "alice").expect(t, 409, "DeleteConflict.User.Policy")
	c.call("DetachPolicyFromUser", "PolicyType", "System", "PolicyName", "ReadOnlyAccess", "UserName", "alice").ok(t)
	c.call("DeleteUser", "UserName", "alice").expect(t, 409, "DeleteConflict.User.Group")
	c.call("RemoveUserFromGroup", "UserName", "alice", "GroupName", "devs").ok(t)
	c.call("DeleteUser", "UserName", "alice").ok(t)
	c.call("DeleteUser", "UserName", "alice").expect(t, 404, "EntityNotExist.User")
}

func TestUserValidation(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	tests := []struct {
		name string
		kv   []string
		code string
	}{
		{"missing name", nil, "MissingUserName"},
		{"name too long", []string{"UserName", strings.Repeat("a", 65)}, "InvalidParameter.UserName.Length"},
		{"name chars", []string{"UserName", "al ice"}, "InvalidParameter.UserName.InvalidChars"},
		{"name slash", []string{"UserName", "a/b"}, "InvalidParameter.UserName.InvalidChars"},
		{"display name length", []string{"UserName", "ok", "DisplayName", strings.Repeat("d", 129)}, "InvalidParameter.DisplayName.Length"},
		{"comments length", []string{"UserName", "ok", "Comments", strings.Repeat("c", 129)}, "InvalidParameter.Comments.Length"},
		{"mobile phone", []string{"UserName", "ok", "MobilePhone", "12345"}, "InvalidParameter.MobilePhone.Format"},
		{"email", []string{"UserName", "ok", "Email", "nope"}, "InvalidParameter.Email.Format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.call("CreateUser", tt.kv...).expect(t, 400, tt.code)
		})
	}
	c.t = t
	c.call("CreateUser", "UserName", strings.Repeat("a", 64), "MobilePhone", "86-18600008888", "Email", "a@example.com").ok(t)
	c.call("CreateUser", "UserName", "a.b-c_d").ok(t)
}

func TestUserQuota(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	e.mu.Lock()
	for i := 0; i < maxUsers; i++ {
		if _, aerr := e.createUserLocked(userFields{name: "u" + strconv.Itoa(i)}, e.now()); aerr != nil {
			e.mu.Unlock()
			t.Fatalf("user %d: %v", i, aerr)
		}
	}
	e.mu.Unlock()
	e.rootClient(t).call("CreateUser", "UserName", "one-too-many").expect(t, 409, "LimitExceeded.User")
}

func TestListUsersPagination(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	for i := 0; i < 5; i++ {
		if err := e.CreateUser(fmt.Sprintf("user%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c := e.rootClient(t)
	var names []string
	marker := ""
	for pages := 0; pages < 10; pages++ {
		kv := []string{"MaxItems", "2"}
		if marker != "" {
			kv = append(kv, "Marker", marker)
		}
		res := c.call("ListUsers", kv...).ok(t)
		for _, u := range res.list("Users.User") {
			names = append(names, u["UserName"].(string))
		}
		if res.body["IsTruncated"] != true {
			break
		}
		marker = res.str("Marker")
	}
	if strings.Join(names, ",") != "user0,user1,user2,user3,user4" {
		t.Fatalf("pages gave %v", names)
	}
	c.call("ListUsers", "MaxItems", "0").expect(t, 400, "InvalidParameter.MaxItems")
}

func TestCreateAccessKeyForSelf(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	u := e.userClient(t, "self", "AliyunRAMFullAccess")
	res := u.call("CreateAccessKey").ok(t)
	if res.str("AccessKey.AccessKeyId") == "" {
		t.Fatalf("CreateAccessKey: %s", res.raw)
	}
	if n := len(e.Snapshot().Users[0].AccessKeys); n != 2 {
		t.Fatalf("user has %d keys", n)
	}
	// The new key works, and the old one can delete itself (rotation).
	nk := e.keyClient(t, res.str("AccessKey.AccessKeyId"), res.str("AccessKey.AccessKeySecret"))
	nk.call("GetCallerIdentity").ok(t)
	u.call("DeleteAccessKey", "UserAccessKeyId", u.id).ok(t)
	u.call("GetCallerIdentity").expect(t, 404, "InvalidAccessKeyId.NotFound")
	nk.call("GetCallerIdentity").ok(t)
	// The main account must name the user.
	e.rootClient(t).call("CreateAccessKey").expect(t, 400, "MissingUserName")
}

func TestGetAccessKeyLastUsed(t *testing.T) {
	e, clock := newTestEmulator(t, nil)
	u := e.userClient(t, "worker")
	root := e.rootClient(t)
	res := root.call("GetAccessKeyLastUsed", "UserName", "worker", "UserAccessKeyId", u.id).ok(t)
	if res.str("AccessKeyLastUsed.LastUsedDate") != "" {
		t.Fatalf("unused key has a date: %s", res.raw)
	}
	u.call("GetCallerIdentity").ok(t)
	used := clock.Now()
	clock.Advance(time.Minute)
	res = root.call("GetAccessKeyLastUsed", "UserName", "worker", "UserAccessKeyId", u.id).ok(t)
	if got := res.str("AccessKeyLastUsed.LastUsedDate"); got != used.Format("2006-01-02T15:04:05Z") {
		t.Fatalf("LastUsedDate %q", got)
	}
}

func TestPolicyLifecycle(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	res := c.call("CreatePolicy", "PolicyName", "read-bucket", "Description", "d", "PolicyDocument", simpleDoc).ok(t)
	if res.str("Policy.PolicyType") != "Custom" || res.str("Policy.DefaultVersion") != "v1" {
		t.Fatalf("CreatePolicy: %s", res.raw)
	}
	c.call("CreatePolicy", "PolicyName", "read-bucket", "PolicyDocument", simpleDoc).expect(t, 409, "EntityAlreadyExists.Policy")

	get := c.call("GetPolicy", "PolicyType", "Custom", "PolicyName", "read-bucket").ok(t)
	if get.str("DefaultPolicyVersion.PolicyDocument") != simpleDoc || get.str("DefaultPolicyVersion.VersionId") != "v1" || get.str("Policy.AttachmentCount") != "0" {
		t.Fatalf("GetPolicy: %s", get.raw)
	}
	c.call("GetPolicy", "PolicyType", "Custom", "PolicyName", "nope").expect(t, 404, "EntityNotExist.Policy")
	c.call("GetPolicy", "PolicyType", "Other", "PolicyName", "read-bucket").expect(t, 400, "InvalidParameter.PolicyType")
	sys := c.call("GetPolicy", "PolicyType", "System", "PolicyName", "AdministratorAccess").ok(t)
	if !strings.Contains(sys.str("DefaultPolicyVersion.PolicyDocument"), `"Action":"*"`) {
		t.Fatalf("system policy: %s", sys.raw)
	}

	// Versions: at most five.
	for i := 2; i <= 5; i++ {
		v := c.call("CreatePolicyVersion", "PolicyName", "read-bucket", "PolicyDocument", simpleDoc, "SetAsDefault", strconv.FormatBool(i == 3)).ok(t)
		if v.str("PolicyVersion.VersionId") != "v"+strconv.Itoa(i) {
			t.Fatalf("version %d: %s", i, v.raw)
		}
	}
	c.call("CreatePolicyVersion", "PolicyName", "read-bucket", "PolicyDocument", simpleDoc).expect(t, 409, "LimitExceeded.Policy.Version")
	rot := c.call("CreatePolicyVersion", "PolicyName", "read-bucket", "PolicyDocument", simpleDoc,
		"RotateStrategy", "DeleteOldestNonDefaultVersionWhenLimitExceeded").ok(t)
	if rot.str("PolicyVersion.VersionId") != "v6" {
		t.Fatalf("rotated: %s", rot.raw)
	}
	vers := c.call("ListPolicyVersions", "PolicyType", "Custom", "PolicyName", "read-bucket").ok(t).list("PolicyVersions.PolicyVersion")
	var ids []string
	for _, v := range vers {
		ids = append(ids, v["VersionId"].(string))
		if v["IsDefaultVersion"] == true && v["VersionId"] != "v3" {
			t.Errorf("default is %v", v["VersionId"])
		}
	}
	if strings.Join(ids, ",") != "v2,v3,v4,v5,v6" {
		t.Fatalf("versions after rotation: %v", ids)
	}
	c.call("GetPolicyVersion", "PolicyType", "Custom", "PolicyName", "read-bucket", "VersionId", "v1").expect(t, 404, "EntityNotExist.Policy.Version")
	c.call("DeletePolicyVersion", "PolicyName", "read-bucket", "VersionId", "v3").expect(t, 409, "DeleteConflict.Policy.Version.Default")
	c.call("DeletePolicyVersion", "PolicyName", "read-bucket", "VersionId", "v2").ok(t)
	c.call("SetDefaultPolicyVersion", "PolicyName", "read-bucket", "VersionId", "v6").ok(t)

	// Attachments block deletion, then non-default versions do unless cascading.
	if err := e.CreateGroup("g1"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateUser("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateRole("r1", trustAccount(DefaultAccountID), 0); err != nil {
		t.Fatal(err)
	}
	c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "read-bucket", "UserName", "u1").ok(t)
	c.call("AttachPolicyToGroup", "PolicyType", "Custom", "PolicyName", "read-bucket", "GroupName", "g1").ok(t)
	c.call("AttachPolicyToRole", "PolicyType", "Custom", "PolicyName", "read-bucket", "RoleName", "r1").ok(t)
	ents := c.call("ListEntitiesForPolicy", "PolicyType", "Custom", "PolicyName", "read-bucket").ok(t)
	if len(ents.list("Users.User")) != 1 || len(ents.list("Groups.Group")) != 1 || len(ents.list("Roles.Role")) != 1 {
		t.Fatalf("ListEntitiesForPolicy: %s", ents.raw)
	}
	if c.call("GetPolicy", "PolicyType", "Custom", "PolicyName", "read-bucket").ok(t).str("Policy.AttachmentCount") != "3" {
		t.Error("AttachmentCount is not 3")
	}
	c.call("DeletePolicy", "PolicyName", "read-bucket").expect(t, 409, "DeleteConflict.Policy.User")
	c.call("DetachPolicyFromUser", "PolicyType", "Custom", "PolicyName", "read-bucket", "UserName", "u1").ok(t)
	c.call("DeletePolicy", "PolicyName", "read-bucket").expect(t, 409, "DeleteConflict.Policy.Group")
	c.call("DetachPolicyFromGroup", "PolicyType", "Custom", "PolicyName", "read-bucket", "GroupName", "g1").ok(t)
	c.call("DeletePolicy", "PolicyName", "read-bucket").expect(t, 409, "DeleteConflict.Policy.Role")
	c.call("DeleteRole", "RoleName", "r1").expect(t, 409, "DeleteConflict.Role.Policy")
	c.call("DetachPolicyFromRole", "PolicyType", "Custom", "PolicyName", "read-bucket", "RoleName", "r1").ok(t)
	c.call("DeletePolicy", "PolicyName", "read-bucket").expect(t, 409, "DeleteConflict.Policy.Version")
	c.call("DeletePolicy", "PolicyName", "read-bucket", "CascadingDelete", "true").ok(t)
	c.call("GetPolicy", "PolicyType", "Custom", "PolicyName", "read-bucket").expect(t, 404, "EntityNotExist.Policy")
}

func TestPolicyValidation(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	big := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:` + strings.Repeat("b", 6100) + `"}]}`
	tests := []struct {
		name string
		kv   []string
		code string
	}{
		{"name chars", []string{"PolicyName", "a_b", "PolicyDocument", simpleDoc}, "InvalidParameter.PolicyName.InvalidChars"},
		{"name length", []string{"PolicyName", strings.Repeat("p", 129), "PolicyDocument", simpleDoc}, "InvalidParameter.PolicyName.Length"},
		{"description length", []string{"PolicyName", "p", "Description", strings.Repeat("d", 1025), "PolicyDocument", simpleDoc}, "InvalidParameter.Description.Length"},
		{"document length", []string{"PolicyName", "p", "PolicyDocument", big}, "InvalidParameter.PolicyDocument.Length"},
		{"document grammar", []string{"PolicyName", "p", "PolicyDocument", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss","Resource":"*"}]}`}, "MalformedPolicyDocument"},
		{"missing document", []string{"PolicyName", "p"}, "MissingPolicyDocument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.call("CreatePolicy", tt.kv...).expect(t, 400, tt.code)
		})
	}
	c.t = t
	c.call("CreatePolicy", "PolicyName", strings.Repeat("p", 128), "PolicyDocument", simpleDoc).ok(t)
}

func TestCustomPolicyQuota(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	for i := 0; i < maxCustomPolicies; i++ {
		if err := e.CreatePolicy("p"+strconv.Itoa(i), simpleDoc); err != nil {
			t.Fatalf("policy %d: %v", i, err)
		}
	}
	e.rootClient(t).call("CreatePolicy", "PolicyName", "extra", "PolicyDocument", simpleDoc).expect(t, 409, "LimitExceeded.Policy")
}

func TestAttachmentRules(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	if err := e.CreateUser("u"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 11; i++ {
		if err := e.CreatePolicy("c"+strconv.Itoa(i), simpleDoc); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "c"+strconv.Itoa(i), "UserName", "u").ok(t)
	}
	c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "c10", "UserName", "u").expect(t, 409, "LimitExceeded.User.Policy")
	c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "c0", "UserName", "u").expect(t, 409, "EntityAlreadyExists.User.Policy")
	// System policies count separately: 20 more fit, the 21st does not.
	systemNames := sortedKeys(systemPolicies)
	if len(systemNames) <= maxSystemPerPrincipal {
		t.Fatalf("only %d system policies; the limit cannot be reached", len(systemNames))
	}
	for _, name := range systemNames[:maxSystemPerPrincipal] {
		c.call("AttachPolicyToUser", "PolicyType", "System", "PolicyName", name, "UserName", "u").ok(t)
	}
	c.call("AttachPolicyToUser", "PolicyType", "System", "PolicyName", systemNames[maxSystemPerPrincipal], "UserName", "u").
		expect(t, 409, "LimitExceeded.User.Policy")
	c.call("AttachPolicyToUser", "PolicyType", "System", "PolicyName", "NoSuchPolicy", "UserName", "u").expect(t, 404, "EntityNotExist.Policy")
	c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "c0", "UserName", "nobody").expect(t, 404, "EntityNotExist.User")
	c.call("AttachPolicyToUser", "PolicyType", "Bad", "PolicyName", "c0", "UserName", "u").expect(t, 400, "InvalidParameter.PolicyType")
	c.call("DetachPolicyFromUser", "PolicyType", "Custom", "PolicyName", "c10", "UserName", "u").expect(t, 404, "EntityNotExist.User.Policy")
	pols := c.call("ListPoliciesForUser", "UserName", "u").ok(t).list("Policies.Policy")
	if len(pols) != 10+maxSystemPerPrincipal {
		t.Fatalf("ListPoliciesForUser: %d policies", len(pols))
	}
	if pols[0]["AttachDate"] == "" || pols[0]["PolicyType"] != "Custom" {
		t.Errorf("first policy %v", pols[0])
	}
	c.call("AttachPolicyToGroup", "PolicyType", "Custom", "PolicyName", "c0", "GroupName", "nogroup").expect(t, 404, "EntityNotExist.Group")
	c.call("AttachPolicyToRole", "PolicyType", "Custom", "PolicyName", "c0", "RoleName", "norole").expect(t, 404, "EntityNotExist.Role")
}

func TestGroupRules(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	if err := e.CreateUser("u"); err != nil {
		t.Fatal(err)
	}
	g := c.call("CreateGroup", "GroupName", "g0", "Comments", "first").ok(t)
	if !strings.HasPrefix(g.str("Group.GroupId"), "g-") || g.str("Group.Comments") != "first" {
		t.Fatalf("CreateGroup: %s", g.raw)
	}
	c.call("CreateGroup", "GroupName", "g0").expect(t, 409, "EntityAlreadyExists.Group")
	c.call("CreateGroup", "GroupName", "bad name").expect(t, 400, "InvalidParameter.GroupName.InvalidChars")
	for i := 1; i <= 10; i++ {
		c.call("CreateGroup", "GroupName", "g"+strconv.Itoa(i)).ok(t)
	}
	for i := 0; i < 10; i++ {
		c.call("AddUserToGroup", "UserName", "u", "GroupName", "g"+strconv.Itoa(i)).ok(t)
	}
	c.call("AddUserToGroup", "UserName", "u", "GroupName", "g10").expect(t, 409, "LimitExceeded.User.Group")
	c.call("AddUserToGroup", "UserName", "u", "GroupName", "g0").expect(t, 409, "EntityAlreadyExists.User.Group")
	c.call("AddUserToGroup", "UserName", "u", "GroupName", "nope").expect(t, 404, "EntityNotExist.Group")
	c.call("AddUserToGroup", "UserName", "nobody", "GroupName", "g0").expect(t, 404, "EntityNotExist.User")
	c.call("RemoveUserFromGroup", "UserName", "u", "GroupName", "g10").expect(t, 404, "EntityNotExist.User.Group")
	groups := c.call("ListGroupsForUser", "UserName", "u").ok(t).list("Groups.Group")
	if len(groups) != 10 || groups[0]["JoinDate"] == "" {
		t.Fatalf("ListGroupsForUser: %v", groups)
	}
	users := c.call("ListUsersForGroup", "GroupName", "g0").ok(t).list("Users.User")
	if len(users) != 1 || users[0]["UserName"] != "u" {
		t.Fatalf("ListUsersForGroup: %v", users)
	}
	c.call("AttachPolicyToGroup", "PolicyType", "System", "PolicyName", "ReadOnlyAccess", "GroupName", "g10").ok(t)
	c.call("DeleteGroup", "GroupName", "g0").expect(t, 409, "DeleteConflict.Group.User")
	c.call("DeleteGroup", "GroupName", "g10").expect(t, 409, "DeleteConflict.Group.Policy")
	c.call("GetGroup", "GroupName", "nope").expect(t, 404, "EntityNotExist.Group")
	if n := len(c.call("ListGroups").ok(t).list("Groups.Group")); n != 11 {
		t.Fatalf("ListGroups: %d", n)
	}
}

func TestGroupPoliciesApplyToMembers(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	u := e.userClient(t, "member")
	u.call("ListUsers").expect(t, 403, "NoPermission")
	if err := e.CreateGroup("readers"); err != nil {
		t.Fatal(err)
	}
	if err := e.AttachPolicy("group", "readers", "System", "AliyunRAMReadOnlyAccess"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddUserToGroup("member", "readers"); err != nil {
		t.Fatal(err)
	}
	u.call("ListUsers").ok(t)
	u.call("CreateUser", "UserName", "x").expect(t, 403, "NoPermission")
}

func TestRoleRules(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	trust := trustAccount(DefaultAccountID)
	res := c.call("CreateRole", "RoleName", "Deployer", "AssumeRolePolicyDocument", trust, "MaxSessionDuration", "7200", "Description", "d").ok(t)
	if res.str("Role.Arn") != "acs:ram::"+DefaultAccountID+":role/Deployer" || res.str("Role.MaxSessionDuration") != "7200" || res.str("Role.RoleId") == "" {
		t.Fatalf("CreateRole: %s", res.raw)
	}
	tests := []struct {
		name   string
		kv     []string
		status int
		code   string
	}{
		{"exists", []string{"RoleName", "Deployer", "AssumeRolePolicyDocument", trust}, 409, "EntityAlreadyExists.Role"},
		{"name chars", []string{"RoleName", "a_b", "AssumeRolePolicyDocument", trust}, 400, "InvalidParameter.RoleName.InvalidChars"},
		{"missing trust", []string{"RoleName", "r"}, 400, "MissingAssumeRolePolicyDocument"},
		{"trust without principal", []string{"RoleName", "r", "AssumeRolePolicyDocument", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`}, 400, "MalformedPolicyDocument"},
		{"trust with resource", []string{"RoleName", "r", "AssumeRolePolicyDocument", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Principal":{"RAM":"1"}}]}`}, 400, "MalformedPolicyDocument"},
		{"max session low", []string{"RoleName", "r", "AssumeRolePolicyDocument", trust, "MaxSessionDuration", "3599"}, 400, "InvalidParameter.MaxSessionDuration"},
		{"max session high", []string{"RoleName", "r", "AssumeRolePolicyDocument", trust, "MaxSessionDuration", "43201"}, 400, "InvalidParameter.MaxSessionDuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.call("CreateRole", tt.kv...).expect(t, tt.status, tt.code)
		})
	}
	c.t = t
	get := c.call("GetRole", "RoleName", "Deployer").ok(t)
	if get.str("Role.AssumeRolePolicyDocument") != trust {
		t.Fatalf("GetRole: %s", get.raw)
	}
	c.call("UpdateRole", "RoleName", "Deployer", "NewMaxSessionDuration", "43200").ok(t)
	if c.call("GetRole", "RoleName", "Deployer").ok(t).str("Role.MaxSessionDuration") != "43200" {
		t.Fatal("UpdateRole did not change MaxSessionDuration")
	}
	if n := len(c.call("ListRoles").ok(t).list("Roles.Role")); n != 1 {
		t.Fatalf("ListRoles: %d", n)
	}
	c.call("DeleteRole", "RoleName", "Deployer").ok(t)
	c.call("GetRole", "RoleName", "Deployer").expect(t, 404, "EntityNotExist.Role")
}

func TestRAMAuthorization(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	if err := e.CreatePolicy("manage-app-users", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["ram:CreateUser","ram:GetUser","ram:DeleteUser","ram:*AccessKey*"],"Resource":"acs:ram:*:*:user/app-*"},
		{"Effect":"Deny","Action":"ram:DeleteUser","Resource":"acs:ram::`+DefaultAccountID+`:user/app-keep"}]}`); err != nil {
		t.Fatal(err)
	}
	u := e.userClient(t, "operator", "manage-app-users")
	tests := []struct {
		action string
		kv     []string
		status int
		code   string
	}{
		{"CreateUser", []string{"UserName", "app-1"}, 200, ""},
		{"CreateUser", []string{"UserName", "app-keep"}, 200, ""},
		{"CreateUser", []string{"UserName", "admin"}, 403, "NoPermission"},
		{"CreateAccessKey", []string{"UserName", "app-1"}, 200, ""},
		{"ListAccessKeys", []string{"UserName", "app-1"}, 200, ""},
		{"ListUsers", nil, 403, "NoPermission"},
		{"DeleteUser", []string{"UserName", "app-keep"}, 403, "NoPermission"},
		{"DeleteUser", []string{"UserName", "app-none"}, 404, "EntityNotExist.User"},
		{"AttachPolicyToUser", []string{"PolicyType", "System", "PolicyName", "AdministratorAccess", "UserName", "app-1"}, 403, "NoPermission"},
	}
	for _, tt := range tests {
		t.Run(tt.action+" "+strings.Join(tt.kv, " "), func(t *testing.T) {
			u.t = t
			res := u.call(tt.action, tt.kv...)
			if tt.status == 200 {
				res.ok(t)
				return
			}
			res.expect(t, tt.status, tt.code)
			if tt.code == "NoPermission" {
				if !strings.Contains(res.str("Message"), "Action: ram:"+tt.action) {
					t.Errorf("message %q", res.str("Message"))
				}
				want := "ImplicitDeny"
				if tt.action == "DeleteUser" {
					want = "ExplicitDeny"
				}
				if got := res.str("AccessDeniedDetail.NoPermissionType"); got != want {
					t.Errorf("NoPermissionType %q, want %q", got, want)
				}
			}
		})
	}
}

func TestLoginProfileAndMFAConflicts(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	if err := e.CreateUser("human"); err != nil {
		t.Fatal(err)
	}
	c.call("CreateLoginProfile", "UserName", "human", "Password", "short").expect(t, 400, "InvalidParameter.Password.Length")
	lp := c.call("CreateLoginProfile", "UserName", "human", "Password", "Correct-Horse-9", "PasswordResetRequired", "true").ok(t)
	if lp.str("LoginProfile.UserName") != "human" || lp.body["LoginProfile"].(map[string]any)["PasswordResetRequired"] != true {
		t.Fatalf("CreateLoginProfile: %s", lp.raw)
	}
	if strings.Contains(lp.raw, "Correct-Horse-9") {
		t.Fatal("password echoed")
	}
	c.call("CreateLoginProfile", "UserName", "human", "Password", "Correct-Horse-9").expect(t, 409, "EntityAlreadyExists.User.LoginProfile")
	serial, err := e.BindMFADevice("human")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.call("GetUserMFAInfo", "UserName", "human").ok(t).str("MFADevice.SerialNumber"); got != serial {
		t.Fatalf("serial %q, want %q", got, serial)
	}
	if v, _ := e.Snapshot().userByName("human"); !v.LoginProfile || !v.MFADevice {
		t.Fatalf("snapshot %+v", v)
	}

	c.call("DeleteUser", "UserName", "human").expect(t, 409, "DeleteConflict.User.LoginProfile")
	c.call("DeleteLoginProfile", "UserName", "human").ok(t)
	c.call("DeleteLoginProfile", "UserName", "human").expect(t, 404, "EntityNotExist.User.LoginProfile")
	c.call("GetLoginProfile", "UserName", "human").expect(t, 404, "EntityNotExist.User.LoginProfile")
	c.call("DeleteUser", "UserName", "human").expect(t, 409, "DeleteConflict.User.MFADevice")
	if got := c.call("UnbindMFADevice", "UserName", "human").ok(t).str("MFADevice.SerialNumber"); got != serial {
		t.Fatalf("unbound serial %q", got)
	}
	c.call("UnbindMFADevice", "UserName", "human").expect(t, 404, "EntityNotExist.User.MFADevice")
	c.call("DeleteUser", "UserName", "human").ok(t)
}

func TestGroupAndRoleQuotas(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	for i := 0; i < maxGroups; i++ {
		if err := e.CreateGroup("g" + strconv.Itoa(i)); err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
	}
	for i := 0; i < maxRoles; i++ {
		if _, err := e.CreateRole("r"+strconv.Itoa(i), trustAccount(DefaultAccountID), 0); err != nil {
			t.Fatalf("role %d: %v", i, err)
		}
	}
	c := e.rootClient(t)
	c.call("CreateGroup", "GroupName", "extra").expect(t, 409, "LimitExceeded.Group")
	c.call("CreateRole", "RoleName", "extra", "AssumeRolePolicyDocument", trustAccount(DefaultAccountID)).expect(t, 409, "LimitExceeded.Role")
}
