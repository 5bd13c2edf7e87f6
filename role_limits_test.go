package alicloud

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

func TestParseRemotePolicies_RepeatedKeyRefused(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"name:A,type:System,name:B", `remote_policies[0]: key "name" given twice`},
		{"type:System,name:A,type:Custom", `remote_policies[0]: key "type" given twice`},
		{" name : A , name : A , type:System", `remote_policies[0]: key "name" given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRemotePolicies([]string{tc.in})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseRemotePolicies(%q) = %v, %v; want error %q", tc.in, got, err, tc.want)
			}
		})
	}
	got, err := parseRemotePolicies([]string{"name:A,type:System", "type:Custom,name:B"})
	if err != nil || len(got) != 2 || got[0].Name != "A" || got[1].Type != "Custom" {
		t.Fatalf("valid entries: %v, %v", got, err)
	}
}

func TestRole_RAMAttachmentLimits(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	docs := func(n int) string {
		var d []string
		for i := 0; i < n; i++ {
			d = append(d, fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeRegions","Resource":"acs:ecs:*:*:instance/i-%d"}]}`, i))
		}
		return "[" + strings.Join(d, ",") + "]"
	}
	remote := func(typ string, n int) []string {
		var r []string
		for i := 0; i < n; i++ {
			r = append(r, fmt.Sprintf("name:P%d,type:%s", i, typ))
		}
		return r
	}
	groups := func(n int) []string {
		var g []string
		for i := 0; i < n; i++ {
			g = append(g, fmt.Sprintf("group-%d", i))
		}
		return g
	}
	tests := []struct {
		name string
		data map[string]interface{}
		want string
	}{
		{"custom policies", map[string]interface{}{"inline_policies": docs(6), "remote_policies": remote("Custom", 5)},
			"remote_policies: with inline_policies, 11 custom policies; RAM attaches at most 10 custom policies to a user"},
		{"system policies", map[string]interface{}{"remote_policies": remote("System", 21)},
			"remote_policies: 21 system policies; RAM attaches at most 20 system policies to a user"},
		{"groups", map[string]interface{}{"ram_groups": groups(11)},
			"ram_groups: 11 groups; RAM adds a user to at most 10 groups"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.badRequest(logical.UpdateOperation, "role/many", tc.data, tc.want)
		})
	}
}
