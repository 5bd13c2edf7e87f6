package alicloud

import (
	"strings"
	"testing"
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
