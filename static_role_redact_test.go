package alicloud

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestStaticRoleEntry_NeverFormatsTheSecret(t *testing.T) {
	const secret = "StaticSecretValue99"
	e := staticRoleEntry{Username: "app", RotationPeriod: 86400, AccessKeyID: "LTAI5tCurrent", SecretKey: secret,
		LastRotated: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), PreviousAccessKeyID: "LTAI5tOld"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		for _, arg := range []any{e, &e, map[string]*staticRoleEntry{"r": &e}} {
			out := fmt.Sprintf(verb, arg)
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) || strings.Contains(out, fmt.Sprintf("%X", secret)) {
				t.Errorf("%s of %T: %s", verb, arg, out)
			}
		}
	}
	if out := fmt.Sprintf("%+v", &e); !strings.Contains(out, "LTAI5tCurrent") || !strings.Contains(out, "app") || !strings.Contains(out, "[redacted]") {
		t.Errorf("%%+v = %s, want the user, the key ID and [redacted]", out)
	}
}
