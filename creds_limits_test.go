package alicloud

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// TestCreds_PrettySessionPolicyIssues: a session policy whose compacted
// form fits STS's limit passes the role write, so it must also issue.
func TestCreds_PrettySessionPolicyIssues(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	var resources []string
	for i := 0; i < 40; i++ {
		resources = append(resources, fmt.Sprintf("acs:ecs:*:*:instance/i-%020d", i))
	}
	doc := map[string]interface{}{"Version": "1", "Statement": []interface{}{map[string]interface{}{
		"Effect": "Allow", "Action": []string{"ecs:DescribeRegions"}, "Resource": resources}}}
	pretty, _ := json.MarshalIndent(doc, "", "        ")
	compact, _ := json.Marshal(doc)
	if len(pretty) <= maxSessionPolicyLen || len(compact) > maxSessionPolicyLen {
		t.Fatalf("fixture: pretty %d, compact %d bytes; want pretty > %d >= compact", len(pretty), len(compact), maxSessionPolicyLen)
	}
	e.ok(logical.CreateOperation, "role/pretty", map[string]interface{}{"role_arn": e.wideARN, "policy": string(pretty)})
	resp := e.ok(logical.ReadOperation, "creds/pretty", nil)
	if s, _ := resp.Data["security_token"].(string); s == "" {
		t.Fatalf("no credentials: %v", resp.Data)
	}
	// A role stored before the fix, with the pretty document as written,
	// issues too.
	entry, err := logical.StorageEntryJSON("role/legacy-pretty", map[string]interface{}{"role_arn": e.wideARN, "policy": string(pretty), "credential_type": "assumed_role"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.Put(e.ctx, entry); err != nil {
		t.Fatal(err)
	}
	resp = e.ok(logical.ReadOperation, "creds/legacy-pretty", nil)
	if s, _ := resp.Data["security_token"].(string); s == "" || !strings.HasPrefix(resp.Data["access_key"].(string), "STS.") {
		t.Fatalf("no credentials: %v", resp.Data)
	}
}
