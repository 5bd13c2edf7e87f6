package alicloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestLogs_NoSecrets runs the engine through everything it does, at trace
// level, and checks that no secret (secret keys, security tokens, the OIDC
// token) appears in its log, in an error or in a read response.
func TestLogs_NoSecrets(t *testing.T) {
	e := newTestEnv(t)
	var responses []string
	record := func(resp *logical.Response, err error) {
		if err != nil {
			responses = append(responses, err.Error())
		}
		if resp != nil {
			if resp.IsError() {
				responses = append(responses, resp.Error().Error())
			}
			responses = append(responses, resp.Warnings...)
		}
	}

	// A config write with a wrong secret: the error must not echo it.
	wrong := "WrongSecretValue0123456789abcdef"
	e.addSecret(wrong)
	record(e.do(logical.UpdateOperation, "config", map[string]interface{}{"access_key": e.engineKeyID, "secret_key": wrong, "sts_endpoint": e.url, "ram_endpoint": e.url}))

	// An OIDC engine identity, then the AccessKey one.
	tok, err := e.emu.MintOIDCToken(oidcProvider, oidcSubject, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(tok)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok(logical.UpdateOperation, "config", map[string]interface{}{"credential_type": "oidc_role_arn", "role_arn": e.oidcRoleARN,
		"oidc_provider_arn": e.oidcProvARN, "oidc_token_file": tokenFile, "sts_endpoint": e.url, "ram_endpoint": e.url})
	e.ok(logical.ReadOperation, "config/identity", nil)
	e.configure(map[string]interface{}{"credential_type": "access_key"})

	e.ok(logical.CreateOperation, "role/reader", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]", "ram_groups": "developers"})
	sts := e.ok(logical.ReadOperation, "creds/reader", nil)
	user := e.ok(logical.ReadOperation, "creds/dev", nil)
	record(e.renew(user))
	record(nil, e.revoke(user))
	record(nil, e.revoke(sts))

	// Failures: a throttled issue, a crashed issue rolled back, a rotation.
	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "AssumeRole", Kind: emulator.FaultThrottle}}})
	record(e.do(logical.ReadOperation, "creds/reader", nil))
	e.emu.SetFaults(emulator.FaultConfig{})
	e.crashAtStep("ram_user:create_access_key")
	record(e.do(logical.ReadOperation, "creds/dev", nil))
	e.crashAtStep("")
	e.ageWALs(walRollbackMinAge + time.Minute)
	e.rollback()
	record(e.do(logical.UpdateOperation, "config/rotate-root", nil))
	cfg, _ := readConfig(e.ctx, e.s)
	e.addSecret(cfg.SecretKey)
	record(e.do(logical.ReadOperation, "config", nil))
	record(e.do(logical.ReadOperation, "role/dev", nil))

	logs := e.logs.String()
	if os.Getenv("PEEK_LOGS") != "" {
		t.Log(logs)
	}
	for _, want := range []string{"config written", "issued a RAM user", "revoked a RAM user", "rolling back a RAM user", "rotated the root AccessKey"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the trace log lacks %q; the test did not exercise what it claims", want)
		}
	}
	if !strings.Contains(logs, "[DEBUG]") {
		t.Errorf("the log lacks debug lines")
	}
	e.secretsMu.Lock()
	secrets := append([]string(nil), e.secrets...)
	e.secretsMu.Unlock()
	if len(secrets) < 6 {
		t.Fatalf("only %d secrets recorded", len(secrets))
	}
	all := strings.Join(responses, "\n")
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a secret starting %q appears in an error or warning", s[:4])
		}
		if strings.Contains(logs, s) {
			t.Errorf("a secret starting %q appears in the log", s[:4])
		}
	}
	// Reads never return secrets.
	read := e.ok(logical.ReadOperation, "config", nil).Data
	for k, v := range read {
		for _, s := range secrets {
			if str, ok := v.(string); ok && str == s {
				t.Errorf("config read field %s returns a secret", k)
			}
		}
	}
}
