package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	alicreds "github.com/aliyun/credentials-go/credentials"
	"github.com/hashicorp/vault/api"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// sidecarSession is how long the emulator lets STS credentials live in these tests (Alibaba's minimum is 900 s), so
// that refreshes happen within seconds: the sidecar's cache refreshes at half the lifetime of short sessions.
const sidecarSession = 10 * time.Second

// sidecarPolicy is what a sidecar's Vault token needs: read creds, renew and revoke its leases.
const sidecarPolicy = `
path "` + mount + `/creds/*" { capabilities = ["read"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/revoke" { capabilities = ["update"] }
`

var sidecarBuild struct {
	once         sync.Once
	bin, demoBin string
	err          error
}

// sidecarBinaries builds cmd/alicloud-vault-credentials and the credentials-go demo once, from today's source.
func sidecarBinaries(t *testing.T) (bin, demo string) {
	t.Helper()
	sidecarBuild.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			sidecarBuild.err = err
			return
		}
		dir := filepath.Join(filepath.Dir(suite.pluginDir), "sidecar")
		for _, b := range []struct{ out, pkg string }{{"alicloud-vault-credentials", "./cmd/alicloud-vault-credentials"}, {"uridemo", "./e2e/testdata/uridemo"}} {
			args := []string{"build", "-o", filepath.Join(dir, b.out)}
			if raceEnabled {
				args = append(args, "-race")
			}
			cmd := exec.Command(goTool(), append(args, b.pkg)...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				sidecarBuild.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
		sidecarBuild.bin, sidecarBuild.demoBin = filepath.Join(dir, "alicloud-vault-credentials"), filepath.Join(dir, "uridemo")
	})
	if sidecarBuild.err != nil {
		t.Fatal(sidecarBuild.err)
	}
	return sidecarBuild.bin, sidecarBuild.demoBin
}

// sidecarToken creates a token with sidecarPolicy, as an operator would for a workload.
func sidecarToken(t *testing.T, v *vaultServer) string {
	t.Helper()
	if err := v.Client.Sys().PutPolicy("alicloud-sidecar", sidecarPolicy); err != nil {
		t.Fatal(err)
	}
	s, err := v.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"alicloud-sidecar"}, TTL: "1h", NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	return s.Auth.ClientToken
}

// replaceFile writes content to a new file and renames it over path, as Vault Agent's file sink does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	writeFile(t, path+".tmp", content)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

type sidecar struct {
	URL     string
	logPath string
	cmd     *exec.Cmd
	exited  chan error
}

// startSidecar runs `alicloud-vault-credentials serve` against v and waits until every role is ready.
func startSidecar(t *testing.T, v *vaultServer, tokenFile string, roles ...string) *sidecar {
	t.Helper()
	bin, _ := sidecarBinaries(t)
	port := freePort(t)
	args := []string{"serve", "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-token-file", tokenFile, "-log-level", "debug"}
	for _, r := range roles {
		args = append(args, "-role", r)
	}
	s := &sidecar{URL: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: filepath.Join(t.TempDir(), "sidecar.log"), exited: make(chan error, 1)}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(cleanEnv(), "VAULT_ADDR="+v.Addr)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	detach(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("--- sidecar log ---\n%s", s.Log())
		}
	})
	eventually(t, 30*time.Second, func() error {
		select {
		case err := <-s.exited:
			s.exited <- err
			t.Fatalf("the sidecar exited: %v\n%s", err, s.Log())
		default:
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %d %s", resp.StatusCode, body)
		}
		return nil
	})
	return s
}

// Stop sends SIGTERM and waits for the sidecar to exit, which it does after revoking its leases.
func (s *sidecar) Stop(t *testing.T) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("the sidecar exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the sidecar did not exit within 30s of SIGTERM")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *sidecar) Log() string {
	data, _ := os.ReadFile(s.logPath)
	return string(data)
}

// uriDoc fetches the credentials document the way an SDK does.
func uriDoc(t *testing.T, url string) (doc struct{ Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration string }, status int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
	}
	return doc, resp.StatusCode
}

// TestSidecarCredentialsURI runs `alicloud-vault-credentials serve` with a token file, points Alibaba's official
// credentials-go at it (both in this test and in an unmodified program configured only by
// ALIBABA_CLOUD_CREDENTIALS_URI), and checks that the credentials work and are replaced before they expire, across a
// restart of Vault and a rotation of the token file.
func TestSidecarCredentialsURI(t *testing.T) {
	requireSuite(t)
	t.Parallel() // each test has its own Vault and emulator
	_, demo := sidecarBinaries(t)
	c := newCloud(t, emulator.Options{MaxIssuedSessionDuration: sidecarSession})
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)
	v.MustCLI("write", mount+"/role/readonly", "role_arn="+c.ReadonlyARN)
	tokenFile := filepath.Join(t.TempDir(), "vault-token")
	tok1 := sidecarToken(t, v)
	replaceFile(t, tokenFile, tok1+"\n")
	sc := startSidecar(t, v, tokenFile, "readonly="+mount+"/creds/readonly")
	url := sc.URL + "/readonly"
	start := time.Now()

	// 1. An unmodified credentials-go program, given only ALIBABA_CLOUD_CREDENTIALS_URI, across two refreshes.
	cmd := exec.Command(demo, "-keys", "3", "-every", "500ms", "-deadline", "45s")
	cmd.Env = append(cleanEnv(), "ALIBABA_CLOUD_CREDENTIALS_URI="+url, "ALIBABA_CLOUD_STS_ENDPOINT="+c.URL)
	var demoOut, demoErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &demoOut, &demoErr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the credentials-go demo failed: %v\n%s%s", err, demoOut.String(), demoErr.String())
	}
	t.Logf("credentials-go demo (ALIBABA_CLOUD_CREDENTIALS_URI=%s), %s:\n%s", url, time.Since(start).Round(time.Second), demoOut.String())
	if n := strings.Count(demoOut.String(), "identity=AssumedRoleUser"); n != 3 {
		t.Errorf("the demo saw %d working keys, want 3", n)
	}

	// 2. credentials-go in this test; every key is checked against the emulator and its expiration noted.
	cred, err := alicreds.NewCredential(&alicreds.Config{Type: strPtr("credentials_uri"), Url: strPtr(url)})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{} // AccessKeyId -> Expiration
	var order []string
	var secrets []string
	observe := func(stage string) string {
		t.Helper()
		m, err := cred.GetCredential()
		if err != nil {
			t.Fatalf("%s: credentials-go: %v", stage, err)
		}
		id, err := c.Identity(aliyun.Credentials{AccessKeyID: *m.AccessKeyId, AccessKeySecret: *m.AccessKeySecret, SecurityToken: *m.SecurityToken})
		if err != nil || id.IdentityType != "AssumedRoleUser" {
			t.Fatalf("%s: key %s from credentials-go: identity %+v, %v", stage, *m.AccessKeyId, id, err)
		}
		if _, ok := seen[*m.AccessKeyId]; !ok {
			doc, _ := uriDoc(t, url)
			seen[*m.AccessKeyId] = doc.Expiration
			order = append(order, *m.AccessKeyId)
			secrets = append(secrets, *m.AccessKeySecret, *m.SecurityToken)
			t.Logf("%-22s %s key=%s expiration=%s", stage, time.Now().UTC().Format("15:04:05"), *m.AccessKeyId, doc.Expiration)
		}
		return *m.AccessKeyId
	}
	newKey := func(stage string) {
		t.Helper()
		before := len(seen)
		eventually(t, 2*sidecarSession+5*time.Second, func() error {
			observe(stage)
			if len(seen) == before {
				return fmt.Errorf("%s: no new key yet", stage)
			}
			return nil
		})
	}
	observe("credentials-go")
	newKey("refresh")

	// 3. Vault stops: the sidecar keeps serving the still-valid key; after Vault is back, keys are replaced again.
	v.Stop()
	downKey := observe("vault down")
	doc, status := uriDoc(t, url)
	if status != http.StatusOK || doc.AccessKeyId != downKey {
		t.Errorf("with Vault down: status %d, key %s; want 200 and the cached %s", status, doc.AccessKeyId, downKey)
	}
	v.Start()
	newKey("after vault restart")

	// 4. The token file is rotated (as Vault Agent re-authenticating does) and the old token revoked.
	tok2 := sidecarToken(t, v)
	replaceFile(t, tokenFile, tok2+"\n")
	if err := v.Client.Auth().Token().RevokeOrphan(tok1); err != nil {
		t.Fatal(err)
	}
	newKey("after token rotation")

	for _, k := range order {
		if seen[k] == "" {
			t.Errorf("no expiration noted for %s", k)
		}
	}
	log := sc.Log()
	for _, s := range append(secrets, tok1, tok2) {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("the sidecar log holds a secret or token")
		}
	}
	if !strings.Contains(log, "access_key_id="+order[0]) {
		t.Errorf("the sidecar log does not name the keys it fetched")
	}
	t.Logf("%d keys in %s", len(seen), time.Since(start).Round(time.Second))
}

// TestSidecarExternalAndLeases: `alicloud-vault-credentials print` as an aliyun CLI External-mode process_command,
// read through this project's CLI-profile provider (refreshed when its credentials expire); and `serve` with a RAM
// user role, whose lease it revokes when it receives SIGTERM.
func TestSidecarExternalAndLeases(t *testing.T) {
	requireSuite(t)
	t.Parallel()
	bin, _ := sidecarBinaries(t)
	c := newCloud(t, emulator.Options{MaxIssuedSessionDuration: sidecarSession})
	v := startVault(t)
	v.installPlugin()
	configure(t, v, c)
	v.MustCLI("write", mount+"/role/readonly", "role_arn="+c.ReadonlyARN)
	v.MustCLI("write", mount+"/role/developer", "remote_policies=name:ReadOnlyAccess,type:System", "ttl=1h", "max_ttl=2h")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "vault-token")
	replaceFile(t, tokenFile, sidecarToken(t, v)+"\n")

	// External mode: ~/.aliyun/config.json as `aliyun configure --mode External --process-command "..."` writes it.
	command := fmt.Sprintf("env VAULT_ADDR=%s %s print -path %s/creds/readonly -token-file %s", v.Addr, bin, mount, tokenFile)
	cfg, _ := json.Marshal(map[string]any{"current": "vault", "profiles": []map[string]any{
		{"name": "vault", "mode": "External", "process_command": command, "region_id": "cn-hangzhou"}}})
	cfgPath := filepath.Join(dir, "config.json")
	writeFile(t, cfgPath, string(cfg))
	p, err := credentials.NewCLIProfile(credentials.ProfileOptions{File: cfgPath, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	cache := credentials.NewCache(p, credentials.CacheOptions{Jitter: -1})
	defer cache.Close()
	ctx := context.Background()
	first, err := cache.Retrieve(ctx)
	if err != nil {
		t.Fatalf("External profile: %v", err)
	}
	check := func(cr credentials.Credentials, what, wantType string) {
		t.Helper()
		id, err := c.Identity(aliyun.Credentials{AccessKeyID: cr.AccessKeyID, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken})
		if err != nil || id.IdentityType != wantType {
			t.Fatalf("%s: key %s: identity %+v, %v", what, cr.AccessKeyID, id, err)
		}
		t.Logf("%s: key=%s source=%s expiration=%s identity=%s", what, cr.AccessKeyID, cr.Source, cr.Expiration.UTC().Format(time.RFC3339), id.IdentityType)
	}
	check(first, "External, first", "AssumedRoleUser")
	if first.Source != "cli_profile/external" || first.SecurityToken == "" || time.Until(first.Expiration) > sidecarSession+2*time.Second {
		t.Errorf("External credentials = %v", first)
	}
	var second credentials.Credentials
	eventually(t, 2*sidecarSession, func() error {
		second, err = cache.Retrieve(ctx)
		if err != nil {
			return err
		}
		if second.AccessKeyID == first.AccessKeyID {
			return fmt.Errorf("still %s", first.AccessKeyID)
		}
		return nil
	})
	if !time.Now().Before(first.Expiration) {
		t.Errorf("new External credentials came after the first ones expired")
	}
	check(second, "External, refreshed", "AssumedRoleUser")

	// A RAM user role: the sidecar holds the lease, and revokes it on SIGTERM, which deletes the user.
	sc := startSidecar(t, v, tokenFile, "dev="+mount+"/creds/developer")
	doc, status := uriDoc(t, sc.URL+"/")
	if status != http.StatusOK || doc.SecurityToken != "" || doc.Expiration == "" {
		t.Fatalf("RAM user document: %d %+v", status, doc.AccessKeyId)
	}
	check(credentials.Credentials{AccessKeyID: doc.AccessKeyId, AccessKeySecret: doc.AccessKeySecret}, "RAM user via serve", "RAMUser")
	if users := c.VaultUsers(); len(users) != 1 {
		t.Fatalf("Vault-made users while the sidecar runs: %v, want 1", users)
	}
	sc.Stop(t)
	if log := sc.Log(); !strings.Contains(log, "lease revoked") || strings.Contains(log, doc.AccessKeySecret) {
		t.Errorf("sidecar log after SIGTERM (revocation missing or secret present):\n%s", log)
	}
	eventually(t, 30*time.Second, func() error {
		if users := c.VaultUsers(); len(users) != 0 {
			return fmt.Errorf("users left after the sidecar revoked its lease: %v", users)
		}
		return nil
	})
}

func strPtr(s string) *string { return &s }
