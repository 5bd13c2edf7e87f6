package alicloud

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

func TestRotationSchedule_NeverFiringRefused(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
	}{
		{"0 0 30 2 *", "never fires"},
		{"0 0 31 4,6,9,11 *", "never fires"},
		{"0 0 29 2 *", ""}, // leap days come within five years
		{"0 3 * * 1", ""},
	}
	e := newTestEnv(t)
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := parseRotationSchedule(tc.spec)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("parseRotationSchedule(%q): %v", tc.spec, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseRotationSchedule(%q) = %v, want %q", tc.spec, err, tc.wantErr)
			}
			e.t = t
			e.badRequest(logical.UpdateOperation, "config", map[string]interface{}{
				"access_key": "LTAIxxxxxxxxxxxx", "secret_key": "sssssssssssssssss", "rotation_schedule": tc.spec,
			}, "rotation_schedule: ")
		})
	}
}
