package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, c *config)
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, c *config) {
			if c.listen != "127.0.0.1:8100" || c.tlsListen != "" || c.proxyListen != "" || c.caOut != "" ||
				c.stateInterval != 5*time.Second || c.stsMaxDur != 0 || c.faultSeed != 0 || c.quiet {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "proxy defaults the CA file", args: []string{"-proxy-listen", "127.0.0.1:8102"}, check: func(t *testing.T, c *config) {
			if c.caOut != defaultCAOut() {
				t.Errorf("caOut = %q, want %q", c.caOut, defaultCAOut())
			}
		}},
		{name: "a persisted CA is the CA file", args: []string{"-tls-listen", ":0", "-ca-cert", "c.pem", "-ca-key", "k.pem"}, check: func(t *testing.T, c *config) {
			if c.caOut != "" || c.caCert != "c.pem" || c.caKey != "k.pem" {
				t.Errorf("caOut %q caCert %q caKey %q", c.caOut, c.caCert, c.caKey)
			}
		}},
		{name: "all values", args: []string{"-listen", "127.0.0.1:9000", "-seed", "s.json", "-state", "st.json",
			"-state-interval", "1s", "-ca-out", "ca.pem", "-sts-max-duration", "2m", "-fault-seed", "42", "-quiet"},
			check: func(t *testing.T, c *config) {
				if c.listen != "127.0.0.1:9000" || c.seedFile != "s.json" || c.stateFile != "st.json" || c.stateInterval != time.Second ||
					c.caOut != "ca.pem" || c.stsMaxDur != 2*time.Minute || c.faultSeed != 42 || !c.quiet {
					t.Errorf("parsed: %+v", c)
				}
			}},
		{name: "ca cert without key", args: []string{"-ca-cert", "c.pem"}, wantErr: "go together"},
		{name: "negative sts max duration", args: []string{"-sts-max-duration", "-1s"}, wantErr: "must not be negative"},
		{name: "zero state interval", args: []string{"-state-interval", "0s"}, wantErr: "must be positive"},
		{name: "empty listen", args: []string{"-listen", ""}, wantErr: "must not be empty"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "not defined"},
		{name: "positional argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "bad duration", args: []string{"-sts-max-duration", "soon"}, wantErr: "invalid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-version"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := out.String(); got != "alicloud-emulator "+version+"\n" {
		t.Errorf("output %q", got)
	}
	if code := run(context.Background(), []string{"-listen"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("bad flags: exit code %d, want 2", code)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// banner holds what a test needs from the printed banner.
type banner struct {
	rpc, https, proxy, keyID, secret, caFile string
}

var bannerLine = regexp.MustCompile(`(?m)^\s+([a-zA-Z ()]+?):\s+(\S+)`)

// startRun runs the command in the background until the returned stop
// function is called, and parses its banner.
func startRun(t *testing.T, args []string) (banner, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("run did not return after cancel")
			return -1
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "ALIBABA_CLOUD_CREDENTIALS_URI") {
		select {
		case code := <-done:
			t.Fatalf("run exited with %d before serving: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no banner; stderr: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond) // waiting for start-up, not for an expiry
	}
	var b banner
	for _, m := range bannerLine.FindAllStringSubmatch(out.String(), -1) {
		switch m[1] {
		case "endpoint (RPC)":
			b.rpc = m[2]
		case "HTTPS endpoint":
			b.https = m[2]
		case "proxy":
			b.proxy = m[2]
		case "main AccessKey id":
			b.keyID = m[2]
		case "main AccessKey secret":
			b.secret = m[2]
		case "CA certificate":
			b.caFile = m[2]
		}
	}
	if b.rpc == "" || b.keyID == "" || b.secret == "" {
		cancel()
		t.Fatalf("banner not understood:\n%s", out.String())
	}
	return b, stop
}

func newClient(t *testing.T, endpoint string, hc *http.Client, b banner) *aliyun.Client {
	t.Helper()
	opts := aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: b.keyID, AccessKeySecret: b.secret}),
		HTTPClient:  hc,
		MaxRetries:  -1,
	}
	if endpoint != "" {
		opts.Endpoints = map[aliyun.Product]string{aliyun.STS: endpoint, aliyun.RAM: endpoint}
	}
	c, err := aliyun.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunServesAndPersists(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	caCert, caKey := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	args := []string{
		"-listen", "127.0.0.1:0", "-tls-listen", "127.0.0.1:0", "-proxy-listen", "127.0.0.1:0",
		"-state", statePath, "-ca-cert", caCert, "-ca-key", caKey, "-quiet",
	}
	ctx := context.Background()

	b, stop := startRun(t, args)
	if b.caFile != caCert {
		t.Errorf("CA file %q, want %q", b.caFile, caCert)
	}
	caPEM, err := os.ReadFile(caCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA file holds no certificate")
	}

	// Plain listener.
	if _, err := newClient(t, b.rpc, nil, b).CreateUser(ctx, aliyun.CreateUserInput{UserName: "persisted"}); err != nil {
		t.Fatal(err)
	}
	// HTTPS listener, trusting only the written CA.
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if id, err := newClient(t, b.https, tlsClient, b).GetCallerIdentity(ctx); err != nil || id.IdentityType != aliyun.IdentityAccount {
		t.Fatalf("over HTTPS: %+v %v", id, err)
	}
	// Proxy, with the client's default endpoints (https://sts.aliyuncs.com).
	pu, _ := url.Parse(b.proxy)
	proxyClient := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if u, err := newClient(t, "", proxyClient, b).GetUser(ctx, "persisted"); err != nil || u.UserName != "persisted" {
		t.Fatalf("through the proxy: %+v %v", u, err)
	}
	proxyClient.CloseIdleConnections() // the tunnel would otherwise hold shutdown until the proxy closes it

	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	st, err := os.Stat(statePath)
	if err != nil {
		t.Fatalf("state not saved on exit: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", st.Mode().Perm())
	}

	// A restart keeps the account, its key, the user and the CA.
	b2, stop2 := startRun(t, args)
	defer stop2()
	if b2.keyID != b.keyID || b2.secret != b.secret {
		t.Errorf("main key changed across restart: %s -> %s", b.keyID, b2.keyID)
	}
	if u, err := newClient(t, b2.rpc, nil, b2).GetUser(ctx, "persisted"); err != nil || u.UserName != "persisted" {
		t.Fatalf("user lost across restart: %+v %v", u, err)
	}
	caPEM2, _ := os.ReadFile(caCert)
	if !bytes.Equal(caPEM, caPEM2) {
		t.Error("the persisted CA was replaced on restart")
	}
}

func TestSaveStateOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-state", statePath, "-quiet"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown(context.Background())
	if s.stateNote != "new (will be created)" {
		t.Errorf("state note %q", s.stateNote)
	}
	if err := s.saveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(statePath); err != nil {
		t.Fatalf("first save: %v", err)
	}
	// Unchanged: nothing is written (the removed file stays removed).
	if err := os.Remove(statePath); err != nil {
		t.Fatal(err)
	}
	if err := s.saveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("unchanged state rewritten (stat err %v)", err)
	}
	// Changed: written again, and a new server loads it.
	s.emu.SetECS(emulator.ECSSettings{RoleName: "SomeRole", RequireToken: true})
	if err := s.saveState(); err != nil {
		t.Fatal(err)
	}
	s2, err := newServer(cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.shutdown(context.Background())
	if s2.stateNote != "loaded" {
		t.Errorf("state note %q, want loaded", s2.stateNote)
	}
	id1, _ := s.emu.MainAccessKey()
	id2, _ := s2.emu.MainAccessKey()
	if id1 != id2 {
		t.Errorf("main key %s after load, want %s", id2, id1)
	}
}

func TestBadStateFileRefused(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	if err := os.WriteFile(statePath, []byte(`{"format_version": 99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-state", statePath}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "format_version") {
		t.Fatalf("exit %d stderr %q, want 1 naming the problem", code, errOut.String())
	}
}

func TestRunWithSeed(t *testing.T) {
	dir := t.TempDir()
	seedPath := filepath.Join(dir, "seed.json")
	seed := `{
  "account_id": "5555666677778888",
  "main_access_key": {"id": "LTAISeedMainKey0001", "secret": "seed-main-secret-0001"},
  "users": [{"name": "alice", "policies": [{"name": "ReadOnlyAccess", "type": "System"}]}],
  "roles": [{"name": "InstanceRole", "max_session_duration": 3600,
    "trust_policy": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
      "Principal": {"Service": ["ecs.aliyuncs.com"]}}]}}],
  "ecs": {"role_name": "InstanceRole"}
}`
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	b, stop := startRun(t, []string{"-listen", "127.0.0.1:0", "-seed", seedPath, "-quiet"})
	defer stop()
	if b.keyID != "LTAISeedMainKey0001" || b.secret != "seed-main-secret-0001" {
		t.Errorf("banner key %s/%s, want the seeded main key", b.keyID, b.secret)
	}
	c := newClient(t, b.rpc, nil, b)
	id, err := c.GetCallerIdentity(context.Background())
	if err != nil || id.AccountID != "5555666677778888" {
		t.Fatalf("identity %+v %v, want the seeded account", id, err)
	}
	if u, err := c.GetUser(context.Background(), "alice"); err != nil || u.UserName != "alice" {
		t.Fatalf("seeded user: %+v %v", u, err)
	}
	resp, err := http.Get(b.rpc + "/latest/meta-data/ram/security-credentials/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "InstanceRole" {
		t.Errorf("metadata listing %d %q, want the seeded instance role", resp.StatusCode, body)
	}
}

func TestBadSeedRefused(t *testing.T) {
	seedPath := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seedPath, []byte(`{"account_id": "12ab"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-seed", seedPath}, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "account_id") {
		t.Fatalf("exit %d stderr %q, want 1 naming account_id", code, errOut.String())
	}
}

func TestSTSMaxDurationApplies(t *testing.T) {
	seedPath := filepath.Join(t.TempDir(), "seed.json")
	seed := `{"roles": [{"name": "InstanceRole", "trust_policy": {"Version": "1", "Statement": [{"Effect": "Allow",
  "Action": "sts:AssumeRole", "Principal": {"Service": ["ecs.aliyuncs.com"]}}]}}], "ecs": {"role_name": "InstanceRole"}}`
	if err := os.WriteFile(seedPath, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-listen", "127.0.0.1:0", "-seed", seedPath, "-sts-max-duration", "2m", "-quiet"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(cfg, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.shutdown(context.Background())
	rec := httptest.NewRecorder()
	s.emu.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/latest/meta-data/ram/security-credentials/InstanceRole", nil))
	var doc struct{ Expiration, LastUpdated string }
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
	exp, _ := time.Parse(time.RFC3339, doc.Expiration)
	upd, _ := time.Parse(time.RFC3339, doc.LastUpdated)
	if life := exp.Sub(upd); life > 2*time.Minute || life < 2*time.Minute-time.Second {
		t.Errorf("session lifetime %v, want 2m (the -sts-max-duration cap)", life)
	}
}

// TestAdminAPIRequestRules drives the admin API of the running command the way
// curl and a browser page would.
func TestAdminAPIRequestRules(t *testing.T) {
	b, stop := startRun(t, []string{"-listen", "127.0.0.1:0", "-proxy-listen", "127.0.0.1:0", "-ca-out", filepath.Join(t.TempDir(), "ca.pem"), "-quiet"})
	defer stop()
	send := func(c *http.Client, method, u, contentType, body string, hdr map[string]string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	faults := `{"rules":[{"action":"ListUsers","kind":"lost_answer","count":1}]}`
	c := &http.Client{}
	// curl -d without -H: form content type.
	if code, body := send(c, http.MethodPut, b.rpc+"/_emulator/faults", "application/x-www-form-urlencoded", faults, nil); code != http.StatusUnsupportedMediaType || !strings.Contains(body, `"json-content-type"`) {
		t.Fatalf("PUT faults as a form: %d %s", code, body)
	}
	if code, body := send(c, http.MethodPut, b.rpc+"/_emulator/faults", "application/json", faults, map[string]string{"Origin": "https://page.example"}); code != http.StatusForbidden || !strings.Contains(body, `"no-origin"`) {
		t.Fatalf("PUT faults from a page: %d %s", code, body)
	}
	if code, body := send(c, http.MethodPut, b.rpc+"/_emulator/faults", "application/json", faults, nil); code != http.StatusOK || !strings.Contains(body, `"lost_answer"`) {
		t.Fatalf("PUT faults: %d %s", code, body)
	}
	if code, body := send(c, http.MethodPost, b.rpc+"/_emulator/reset", "", "", nil); code != http.StatusNoContent {
		t.Fatalf("POST reset: %d %s", code, body)
	}
	// Through the proxy the admin API is addressed as an aliyuncs.com host:
	// not loopback, not a listener.
	pu, _ := url.Parse(b.proxy)
	viaProxy := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	if code, body := send(viaProxy, http.MethodGet, "http://sts.aliyuncs.com/_emulator/state", "", "", nil); code != http.StatusForbidden || !strings.Contains(body, `"loopback-host"`) {
		t.Fatalf("GET state through the proxy: %d %s", code, body)
	}
	viaProxy.CloseIdleConnections()
}
