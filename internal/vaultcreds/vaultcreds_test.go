package vaultcreds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeVault issues STS credentials (sts) or RAM-user keys with renewable
// leases, and records renewals and revocations.
type fakeVault struct {
	mu       sync.Mutex
	clock    *fakeClock
	sts      bool
	session  time.Duration // STS session length
	lease    time.Duration // lease duration
	grant    func(n int) time.Duration
	readErr  error
	reads    int
	renews   []string
	revoked  []string
	renewErr error
}

func secretOf(n int) string { return fmt.Sprintf("FakeSecret%03dXYZ", n) }
func tokenOf(n int) string  { return fmt.Sprintf("FakeToken%03dXYZ", n) }

func (f *fakeVault) Read(_ context.Context, path string) (*api.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return nil, f.readErr
	}
	f.reads++
	n := f.reads
	s := &api.Secret{LeaseID: fmt.Sprintf("%s/lease%d", path, n), LeaseDuration: int(f.lease / time.Second)}
	if f.sts {
		s.Data = map[string]any{"access_key": fmt.Sprintf("STS.key%d", n), "secret_key": secretOf(n), "security_token": tokenOf(n),
			"expiration": f.clock.Now().Add(f.session).UTC().Format(time.RFC3339)}
		return s, nil
	}
	s.Renewable = true
	s.Data = map[string]any{"access_key": fmt.Sprintf("LTAIkey%d", n), "secret_key": secretOf(n)}
	return s, nil
}

func (f *fakeVault) Renew(_ context.Context, leaseID string, increment int) (*api.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renews = append(f.renews, fmt.Sprintf("%s+%d", leaseID, increment))
	if f.renewErr != nil {
		return nil, f.renewErr
	}
	return &api.Secret{LeaseID: leaseID, Renewable: true, LeaseDuration: int(f.grant(len(f.renews)) / time.Second)}, nil
}

func (f *fakeVault) Revoke(_ context.Context, leaseID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, leaseID)
	return nil
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

// TestRoleSTSRefresh: STS credentials are read again once they near expiry,
// and served in the credentials-URI format.
func TestRoleSTSRefresh(t *testing.T) {
	clock := newClock()
	fv := &fakeVault{clock: clock, sts: true, session: 20 * time.Minute, lease: time.Hour}
	r := NewRole(RoleOptions{Name: "app", Path: "alicloud/creds/app", Vault: fv, Clock: clock.Now})
	c := credentials.NewCache(r, credentials.CacheOptions{Jitter: -1, Clock: clock.Now})
	defer c.Close()
	srv, err := NewServer(ServerOptions{Roles: []Served{{r, c}}, Clock: clock.Now, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, URIDocument) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9911"+path, nil))
		var d URIDocument
		if rec.Code == 200 {
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
		}
		return rec.Code, d
	}
	code, d := get("/app")
	want := URIDocument{Code: "Success", AccessKeyID: "STS.key1", AccessKeySecret: secretOf(1), SecurityToken: tokenOf(1),
		Expiration: clock.Now().Add(20 * time.Minute).Format("2006-01-02T15:04:05Z")}
	if code != 200 || d != want {
		t.Fatalf("GET /app = %d %+v, want %+v", code, d, want)
	}
	if code, d := get("/"); code != 200 || d.AccessKeyID != "STS.key1" {
		t.Errorf("GET / with one role = %d %+v", code, d)
	}
	clock.Advance(16 * time.Minute)
	if _, d := get("/app"); d.AccessKeyID != "STS.key1" {
		t.Errorf("before the refresh window: %s", d.AccessKeyID)
	}
	clock.Advance(2 * time.Minute) // 2 minutes left
	if _, d := get("/app"); d.AccessKeyID != "STS.key2" {
		t.Errorf("inside the refresh window: %s", d.AccessKeyID)
	}
	// Vault unreachable: the valid credentials keep being served, never expired ones.
	fv.mu.Lock()
	fv.readErr = errors.New("connection refused")
	fv.mu.Unlock()
	clock.Advance(18 * time.Minute)
	if code, d := get("/app"); code != 200 || d.AccessKeyID != "STS.key2" {
		t.Errorf("Vault down, credentials valid for 2 more minutes: %d %s", code, d.AccessKeyID)
	}
	clock.Advance(3 * time.Minute)
	if code, _ := get("/app"); code != http.StatusServiceUnavailable {
		t.Errorf("Vault down, credentials expired: status %d, want 503", code)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz with expired credentials = %d", rec.Code)
	}
	if len(fv.revoked) != 0 {
		t.Errorf("STS leases revoked: %v", fv.revoked)
	}
	for _, tt := range []struct {
		method, url string
		want        int
	}{
		{"GET", "http://localhost:9911/healthz", 200},
		{"GET", "http://[::1]:9911/nope", 404},
		{"POST", "http://127.0.0.1:9911/app", 405},
		{"GET", "http://evil.example:9911/app", 403}, // DNS rebinding
	} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.url, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.url, rec.Code, tt.want)
		}
	}
}

// TestRoleRAMUserLease: a RAM user's lease is renewed while Vault extends
// it, replaced when it cannot be extended much further, and every live
// lease is revoked at Close.
func TestRoleRAMUserLease(t *testing.T) {
	clock := newClock()
	fv := &fakeVault{clock: clock, lease: time.Hour, grant: func(n int) time.Duration {
		if n == 1 {
			return time.Hour
		}
		return 10 * time.Minute // near max_ttl
	}}
	r := NewRole(RoleOptions{Name: "dev", Path: "alicloud/creds/dev", Vault: fv, Clock: clock.Now})
	c := credentials.NewCache(r, credentials.CacheOptions{Jitter: -1, Clock: clock.Now})
	defer c.Close()
	ctx := context.Background()
	got, err := c.Retrieve(ctx)
	if err != nil || got.AccessKeyID != "LTAIkey1" || got.SecurityToken != "" || !got.Expiration.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("first = %v, %v", got, err)
	}
	clock.Advance(58 * time.Minute)
	got, err = c.Retrieve(ctx)
	if err != nil || got.AccessKeyID != "LTAIkey1" || !got.Expiration.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("after renewal = %v, %v (renewals %v)", got, err, fv.renews)
	}
	clock.Advance(58 * time.Minute)
	got, err = c.Retrieve(ctx)
	if err != nil || got.AccessKeyID != "LTAIkey2" {
		t.Fatalf("after a short renewal = %v, %v", got, err)
	}
	if want := "[alicloud/creds/dev/lease1+3600 alicloud/creds/dev/lease1+3600]"; fmt.Sprint(fv.renews) != want {
		t.Errorf("renewals = %v, want %s", fv.renews, want)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "[alicloud/creds/dev/lease1 alicloud/creds/dev/lease2]"; fmt.Sprint(fv.revoked) != want {
		t.Errorf("revoked = %v, want %s", fv.revoked, want)
	}
	if _, err := r.Retrieve(ctx); err == nil {
		t.Error("Retrieve after Close succeeded")
	}
	// A replaced lease that has expired by Close is not revoked.
	fv2 := &fakeVault{clock: clock, lease: time.Hour, renewErr: errors.New("lease not found")}
	r2 := NewRole(RoleOptions{Name: "dev", Path: "p/creds/dev", Vault: fv2, Clock: clock.Now})
	r2.Retrieve(ctx)
	clock.Advance(50 * time.Minute)
	r2.Retrieve(ctx) // renewal refused: new lease
	clock.Advance(20 * time.Minute)
	r2.Close(ctx)
	if want := "[p/creds/dev/lease2]"; fmt.Sprint(fv2.revoked) != want {
		t.Errorf("revoked = %v, want %s", fv2.revoked, want)
	}
}

// TestServeShutdownRevokes: Serve fetches at start, serves over HTTP, and
// revokes the RAM user's lease when its context ends; no secret reaches the
// log at debug level.
func TestServeShutdownRevokes(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	fv := &fakeVault{clock: clock, lease: time.Hour, grant: func(int) time.Duration { return time.Hour }}
	l, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeConfig{Listener: l, Vault: fv, Logger: log, LoopbackOnly: true,
			Roles: []RoleSpec{{"dev", "alicloud/creds/dev"}, {"other", "alicloud/creds/other"}}})
	}()
	url := "http://" + l.Addr().String()
	p, _ := credentials.NewCredentialsURI(credentials.CredentialsURIOptions{URL: url + "/dev"})
	var got credentials.Credentials
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err = p.Retrieve(context.Background())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || !strings.HasPrefix(got.AccessKeyID, "LTAIkey") || got.SecurityToken != "" {
		t.Fatalf("GET /dev: %v, %v", got, err)
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"dev","other"`) {
		t.Errorf("GET / with two roles = %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	fv.mu.Lock()
	revoked := fmt.Sprint(fv.revoked)
	fv.mu.Unlock()
	for _, want := range []string{"alicloud/creds/dev/lease", "alicloud/creds/other/lease"} {
		if !strings.Contains(revoked, want) {
			t.Errorf("revoked %s, want a lease of %s", revoked, want)
		}
	}
	logs := logBuf.String()
	for n := 1; n <= 4; n++ {
		if strings.Contains(logs, secretOf(n)) || strings.Contains(logs, tokenOf(n)) {
			t.Errorf("the log holds a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "access_key_id=LTAIkey") || !strings.Contains(logs, "lease revoked") {
		t.Errorf("the log lacks the key id or the revocation:\n%s", logs)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.10:0", "[::]:0", "example.com:0"} {
		l, err := Listen(addr, false)
		if err == nil {
			l.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
			continue
		}
		if !strings.Contains(err.Error(), "needs -allow-non-loopback") {
			t.Errorf("Listen(%q): %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "127.0.0.2:0"} {
		l, err := Listen(addr, false)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		l.Close()
	}
	l, err := Listen("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	sock := filepath.Join(t.TempDir(), "creds.sock")
	l, err = Listen("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A stale socket left by a killed process is replaced.
	ul, err := net.Listen("unix", sock)
	if err == nil {
		ul.(*net.UnixListener).SetUnlinkOnClose(false)
		ul.Close()
	}
	l, err = Listen("unix:"+sock, false)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	l.Close()
}

// TestFileTokenReread: the token file is read for every request, so a
// token Vault Agent rewrites is used from the next request on.
func TestFileTokenReread(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Vault-Token")+" "+r.Header.Get("X-Vault-Namespace"))
		mu.Unlock()
		fmt.Fprint(w, `{"lease_id":"","lease_duration":900,"data":{"access_key":"STS.a","secret_key":"s","security_token":"t","expiration":"2030-01-01T00:00:00Z"}}`)
	}))
	defer srv.Close()
	cfg := api.DefaultConfig()
	cfg.Address = srv.URL
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	client.SetNamespace("team")
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	write := func(tok string) {
		// As Vault Agent's file sink does: a new file renamed over the old one.
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write("hvs.first")
	v := NewAPIVault(client, FileToken(file))
	ctx := context.Background()
	if _, err := v.Read(ctx, "alicloud/creds/app"); err != nil {
		t.Fatal(err)
	}
	write("hvs.second")
	if _, err := v.Read(ctx, "alicloud/creds/app"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Read(ctx, "alicloud/creds/app"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty token file: %v", err)
	}
	if got := fmt.Sprint(seen); got != "[hvs.first team hvs.second team]" {
		t.Errorf("tokens seen = %s", got)
	}
	// No token at all (Vault Agent's API proxy adds it).
	client.ClearToken()
	seen = nil
	if _, err := NewAPIVault(client, nil).Read(ctx, "alicloud/creds/app"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(seen); got != "[ team]" {
		t.Errorf("tokens seen without a token = %s", got)
	}
}

func TestExternalDocument(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sts, _ := json.Marshal(NewExternalDocument(credentials.Credentials{AccessKeyID: "STS.a", AccessKeySecret: "s", SecurityToken: "t", Expiration: exp}))
	if want := `{"mode":"StsToken","access_key_id":"STS.a","access_key_secret":"s","sts_token":"t","expiration":"2030-01-01T00:00:00Z"}`; string(sts) != want {
		t.Errorf("STS document = %s, want %s", sts, want)
	}
	ak, _ := json.Marshal(NewExternalDocument(credentials.Credentials{AccessKeyID: "LTAIa", AccessKeySecret: "s", Expiration: exp}))
	if want := `{"mode":"AK","access_key_id":"LTAIa","access_key_secret":"s","expiration":"2030-01-01T00:00:00Z"}`; string(ak) != want {
		t.Errorf("AK document = %s, want %s", ak, want)
	}
	uri, _ := json.Marshal(NewURIDocument(credentials.Credentials{AccessKeyID: "LTAIa", AccessKeySecret: "s", Expiration: exp}))
	if want := `{"Code":"Success","AccessKeyId":"LTAIa","AccessKeySecret":"s","SecurityToken":"","Expiration":"2030-01-01T00:00:00Z"}`; string(uri) != want {
		t.Errorf("URI document = %s, want %s", uri, want)
	}
}
