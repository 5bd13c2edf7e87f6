package alicloud

import (
	"strings"
	"testing"
	"time"
)

func TestPluginSettings_WALRollbackMinAge(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", walRollbackMinAge, false},
		{"30s", 30 * time.Second, false},
		{" 2m ", 2 * time.Minute, false},
		{"500ms", 0, true},
		{"-1m", 0, true},
		{"ten minutes", 0, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			s, err := loadPluginSettings(func(k string) string {
				if k == envWALRollbackMinAge {
					return tc.value
				}
				return ""
			})
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), envWALRollbackMinAge) {
					t.Fatalf("err = %v, want an error naming %s", err, envWALRollbackMinAge)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.WALRollbackMinAge != tc.want {
				t.Errorf("WALRollbackMinAge = %s, want %s", s.WALRollbackMinAge, tc.want)
			}
			b := newBackend(backendEnv{Settings: s})
			if b.WALRollbackMinAge != tc.want {
				t.Errorf("backend WALRollbackMinAge = %s, want %s", b.WALRollbackMinAge, tc.want)
			}
		})
	}
}
