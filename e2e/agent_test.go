package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// agentSession is how long the emulator lets the STS credentials in this test live, so Vault Agent's re-render
// before expiry happens within the test instead of after the 15-minute minimum Alibaba Cloud allows.
const agentSession = 20 * time.Second

// renderedCreds is what the Agent template writes: the secret's data as JSON.
type renderedCreds struct {
	AccessKey     string `json:"access_key"`
	SecretKey     string `json:"secret_key"`
	SecurityToken string `json:"security_token"`
	Expiration    string `json:"expiration"`
}

// TestVaultAgent runs Vault Agent with a template over alicloud/creds/readonly, as an application host would, and
// checks that it renders working credentials and replaces them with fresh ones before they expire.
func TestVaultAgent(t *testing.T) {
	requireSuite(t)
	t.Parallel() // each test has its own Vault and emulator
	c := newCloud(t, emulator.Options{MaxIssuedSessionDuration: agentSession})
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)
	v.MustCLI("write", mount+"/role/readonly", "role_arn="+c.ReadonlyARN)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	tmpl := filepath.Join(dir, "creds.tmpl")
	dest := filepath.Join(dir, "creds.json")
	writeFile(t, tokenFile, v.RootToken)
	writeFile(t, tmpl, `{{ with secret "`+mount+`/creds/readonly" }}{{ .Data | toJSON }}{{ end }}`)
	cfg := filepath.Join(dir, "agent.hcl")
	writeFile(t, cfg, fmt.Sprintf(`
vault {
  address = %q
}
auto_auth {
  method "token_file" {
    config = {
      token_file_path = %q
    }
  }
}
template_config {
  exit_on_retry_failure = true
}
template {
  source      = %q
  destination = %q
  perms       = "0600"
}
`, v.Addr, tokenFile, tmpl, dest))

	logPath := filepath.Join(dir, "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(suite.vaultBin, "agent", "-config="+cfg)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting vault agent: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("--- vault agent log ---\n%s", data)
		}
	})

	read := func() (renderedCreds, error) {
		var rc renderedCreds
		data, err := os.ReadFile(dest)
		if err != nil {
			return rc, err
		}
		if err := json.Unmarshal(data, &rc); err != nil {
			return rc, fmt.Errorf("rendered file is not the expected JSON: %w", err)
		}
		if rc.AccessKey == "" || rc.SecretKey == "" || rc.SecurityToken == "" || rc.Expiration == "" {
			return rc, fmt.Errorf("rendered credentials lack fields")
		}
		return rc, nil
	}
	var first renderedCreds
	eventually(t, 30*time.Second, func() error {
		select {
		case err := <-exited:
			t.Fatalf("vault agent exited: %v", err)
		default:
		}
		var err error
		first, err = read()
		return err
	})
	firstExp, err := time.Parse(time.RFC3339, first.Expiration)
	if err != nil {
		t.Fatalf("expiration %q: %v", first.Expiration, err)
	}
	if left := time.Until(firstExp); left > agentSession+2*time.Second {
		t.Fatalf("rendered credentials expire in %s; the emulator should cap them at %s", left, agentSession)
	}
	checkSTS(t, c, first, "first render")

	var second renderedCreds
	eventually(t, time.Until(firstExp)+15*time.Second, func() error {
		var err error
		second, err = read()
		if err != nil {
			return err
		}
		if second.AccessKey == first.AccessKey {
			return fmt.Errorf("vault agent has not re-rendered the credentials that expire at %s", firstExp)
		}
		return nil
	})
	if seen := time.Now(); !seen.Before(firstExp) {
		t.Errorf("fresh credentials appeared at %s, after the first ones expired at %s", seen.Format(time.RFC3339), firstExp.Format(time.RFC3339))
	}
	checkSTS(t, c, second, "re-render")
}

func checkSTS(t *testing.T, c *cloud, rc renderedCreds, what string) {
	t.Helper()
	id, err := c.Identity(aliyun.Credentials{AccessKeyID: rc.AccessKey, AccessKeySecret: rc.SecretKey, SecurityToken: rc.SecurityToken})
	if err != nil {
		t.Fatalf("%s: the rendered credentials do not work: %v", what, err)
	}
	if id.IdentityType != "AssumedRoleUser" {
		t.Errorf("%s: identity type %s, want AssumedRoleUser", what, id.IdentityType)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
