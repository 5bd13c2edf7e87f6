package aliyun

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSecretsNeverFormatted(t *testing.T) {
	const id, secret, token = "LTAI5tKeyId", "SuperSecretValue", "TokenValueXYZ"
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	values := map[string]any{
		"Credentials":      Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token},
		"AccessKey":        AccessKey{AccessKeyID: id, AccessKeySecret: secret, Status: "Active", CreateDate: exp},
		"STSCredentials":   STSCredentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token, Expiration: exp},
		"AssumeRoleOutput": AssumeRoleOutput{RequestID: "R", Credentials: STSCredentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token}},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			for _, arg := range []any{v, &v} {
				out := fmt.Sprintf(verb, arg)
				if strings.Contains(out, secret) || strings.Contains(out, token) ||
					strings.Contains(out, fmt.Sprintf("%x", secret)) || strings.Contains(out, fmt.Sprintf("%X", secret)) {
					t.Errorf("%s %s: %s", name, verb, out)
				}
			}
		}
		if out := fmt.Sprintf("%+v", v); !strings.Contains(out, id) || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s %%+v = %s, want the key ID and [redacted]", name, out)
		}
	}
}
