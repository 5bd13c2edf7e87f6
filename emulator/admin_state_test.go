package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestStateViewForAudit checks that GET /_emulator/state shows, under its
// JSON names, what an audit for leftovers needs: every RAM user with its
// comments, AccessKeys (id, status), attached policies and groups, and every
// custom policy with its description.
func TestStateViewForAudit(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	c := e.rootClient(t)
	c.call("CreateUser", "UserName", "vault-dyn-1", "DisplayName", "dyn", "Comments", "lease abc").ok(t)
	c.call("CreateUser", "UserName", "vault-dyn-2", "Comments", "first").ok(t)
	c.call("UpdateUser", "UserName", "vault-dyn-2", "NewComments", "second").ok(t)
	c.call("CreatePolicy", "PolicyName", "vault-dyn-1-p", "Description", "Created by Vault for lease abc.", "PolicyDocument", simpleDoc).ok(t)
	c.call("CreatePolicy", "PolicyName", "unattached", "PolicyDocument", simpleDoc).ok(t)
	c.call("AttachPolicyToUser", "PolicyType", "Custom", "PolicyName", "vault-dyn-1-p", "UserName", "vault-dyn-1").ok(t)
	c.call("AttachPolicyToUser", "PolicyType", "System", "PolicyName", "ReadOnlyAccess", "UserName", "vault-dyn-1").ok(t)
	c.call("CreateGroup", "GroupName", "vault-users", "Comments", "dynamic users").ok(t)
	c.call("AddUserToGroup", "GroupName", "vault-users", "UserName", "vault-dyn-1").ok(t)
	c.call("CreateRole", "RoleName", "audited", "Description", "a role", "AssumeRolePolicyDocument", trustAccount(DefaultAccountID)).ok(t)
	k1 := c.call("CreateAccessKey", "UserName", "vault-dyn-1").ok(t)
	k2 := c.call("CreateAccessKey", "UserName", "vault-dyn-1").ok(t)
	id1, id2 := k1.str("AccessKey.AccessKeyId"), k2.str("AccessKey.AccessKeyId")
	c.call("UpdateAccessKey", "UserName", "vault-dyn-1", "UserAccessKeyId", id2, "Status", "Inactive").ok(t)

	res := adminCall(t, e, http.MethodGet, "/_emulator/state", "")
	if res.status != http.StatusOK {
		t.Fatalf("state: %d %s", res.status, res.raw)
	}
	for _, secret := range []string{k1.str("AccessKey.AccessKeySecret"), k2.str("AccessKey.AccessKeySecret")} {
		if secret == "" || strings.Contains(res.raw, secret) {
			t.Fatal("the state view holds an AccessKey secret (or the key had none)")
		}
	}
	// Decoded generically, as a soak test in another language would read it.
	var doc struct {
		Users []struct {
			Name       string `json:"name"`
			Comments   string `json:"comments"`
			AccessKeys []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"access_keys"`
			Policies []struct {
				Type string `json:"type"`
				Name string `json:"name"`
			} `json:"policies"`
			Groups []string `json:"groups"`
		} `json:"users"`
		Groups []struct {
			Name     string   `json:"name"`
			Comments string   `json:"comments"`
			Users    []string `json:"users"`
		} `json:"groups"`
		Policies []struct {
			Name            string `json:"name"`
			Description     string `json:"description"`
			AttachmentCount int    `json:"attachment_count"`
		} `json:"policies"`
		Roles []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"roles"`
	}
	dec := json.NewDecoder(strings.NewReader(res.raw))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}

	var names []string
	for _, u := range doc.Users {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"caller", "vault-dyn-1", "vault-dyn-2"}) {
		t.Fatalf("users %v", names)
	}
	dyn1, dyn2 := doc.Users[1], doc.Users[2]
	if dyn1.Comments != "lease abc" || dyn2.Comments != "second" {
		t.Errorf("comments %q, %q; want \"lease abc\", \"second\"", dyn1.Comments, dyn2.Comments)
	}
	if len(dyn1.AccessKeys) != 2 || dyn1.AccessKeys[0].ID != id1 || dyn1.AccessKeys[0].Status != "Active" ||
		dyn1.AccessKeys[1].ID != id2 || dyn1.AccessKeys[1].Status != "Inactive" {
		t.Errorf("access keys %+v, want %s Active and %s Inactive", dyn1.AccessKeys, id1, id2)
	}
	if len(dyn2.AccessKeys) != 0 || dyn2.AccessKeys == nil {
		t.Errorf("vault-dyn-2 keys %#v, want an empty list", dyn2.AccessKeys)
	}
	var pols []string
	for _, p := range dyn1.Policies {
		pols = append(pols, p.Type+":"+p.Name)
	}
	slices.Sort(pols)
	if !slices.Equal(pols, []string{"Custom:vault-dyn-1-p", "System:ReadOnlyAccess"}) {
		t.Errorf("policies of vault-dyn-1 %v", pols)
	}
	if !slices.Equal(dyn1.Groups, []string{"vault-users"}) {
		t.Errorf("groups of vault-dyn-1 %v", dyn1.Groups)
	}
	if len(doc.Groups) != 1 || doc.Groups[0].Comments != "dynamic users" || !slices.Equal(doc.Groups[0].Users, []string{"vault-dyn-1"}) {
		t.Errorf("groups %+v", doc.Groups)
	}
	if len(doc.Policies) != 2 || doc.Policies[0].Name != "unattached" || doc.Policies[0].Description != "" || doc.Policies[0].AttachmentCount != 0 ||
		doc.Policies[1].Name != "vault-dyn-1-p" || doc.Policies[1].Description != "Created by Vault for lease abc." || doc.Policies[1].AttachmentCount != 1 {
		t.Errorf("custom policies %+v", doc.Policies)
	}
	var roleDesc string
	for _, r := range doc.Roles {
		if r.Name == "audited" {
			roleDesc = r.Description
		}
	}
	if roleDesc != "a role" {
		t.Errorf("role description %q", roleDesc)
	}

	// The fields are always present, empty or not, so an audit can tell "no
	// comments" from "not reported".
	for _, field := range []string{`"comments": ""`, `"description": ""`} {
		if !strings.Contains(res.raw, field) {
			t.Errorf("state view lacks %s", field)
		}
	}
}
