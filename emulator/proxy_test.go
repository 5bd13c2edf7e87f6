package emulator_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// proxyFixture is an emulator behind its proxy, and an HTTP client that uses
// the proxy and trusts only the emulator's CA, as a program run with
// HTTPS_PROXY, HTTP_PROXY and SSL_CERT_FILE would.
type proxyFixture struct {
	e        *emulator.Emulator
	clk      *testClock
	proxy    *emulator.Proxy
	proxyURL *url.URL
	client   *http.Client
	mainKey  aliyun.Credentials
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	clk := newTestClock()
	e, err := emulator.New(emulator.Options{Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := emulator.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	p := e.ProxyHandler(ca)
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		_ = p.Close()
		srv.Close()
	})
	pu, _ := url.Parse(srv.URL)
	tr := &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: ca.ClientTLSConfig(),
		// Reach nothing but the proxy, whatever the URL says.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, pu.Host)
		},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	id, secret := e.MainAccessKey()
	return &proxyFixture{
		e: e, clk: clk, proxy: p, proxyURL: pu,
		client:  &http.Client{Transport: tr, Timeout: 10 * time.Second},
		mainKey: aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret},
	}
}

func TestProxyConnectRoundTrip(t *testing.T) {
	f := newProxyFixture(t)
	tests := []struct {
		name     string
		endpoint string // "" = the client's default, https://sts.aliyuncs.com
	}{
		{"central endpoint", ""},
		{"regional endpoint", "https://sts.cn-hangzhou.aliyuncs.com"},
		{"VPC endpoint", "https://sts-vpc.cn-shanghai.aliyuncs.com"},
		{"plain http through the proxy", "http://sts.aliyuncs.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := callerIdentity(t, f.clk, tc.endpoint, f.client, f.mainKey)
			if err != nil {
				t.Fatal(err)
			}
			if id.IdentityType != aliyun.IdentityAccount || id.AccountID != f.e.AccountID() {
				t.Errorf("identity %s %s, want the account %s", id.IdentityType, id.AccountID, f.e.AccountID())
			}
		})
	}
	if got := f.e.Counters()["sts:GetCallerIdentity"]; got != int64(len(tests)) {
		t.Errorf("sts:GetCallerIdentity = %d, want %d", got, len(tests))
	}

	t.Run("errors name the product host", func(t *testing.T) {
		_, err := callerIdentity(t, f.clk, "", f.client, aliyun.Credentials{AccessKeyID: f.mainKey.AccessKeyID, AccessKeySecret: "wrong"})
		var aerr *aliyun.Error
		if !errors.As(err, &aerr) {
			t.Fatalf("err = %v, want an aliyun.Error", err)
		}
		if aerr.Code != "SignatureDoesNotMatch" || aerr.HostID != "sts.aliyuncs.com" {
			t.Errorf("code %s host %s, want SignatureDoesNotMatch from sts.aliyuncs.com", aerr.Code, aerr.HostID)
		}
	})

	t.Run("the tunnel terminates TLS with the emulator's CA", func(t *testing.T) {
		resp, err := f.client.Get("https://ram.aliyuncs.com/?Format=JSON")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
			t.Fatal("no TLS state")
		}
		if err := resp.TLS.PeerCertificates[0].VerifyHostname("ram.aliyuncs.com"); err != nil {
			t.Error(err)
		}
		if resp.ProtoMajor != 1 {
			t.Errorf("protocol %s, want HTTP/1.1 inside the tunnel", resp.Proto)
		}
	})
}

func TestProxyMetadata(t *testing.T) {
	f := newProxyFixture(t)
	createRole(t, f.e, "EcsRole", ecsTrust)
	f.e.SetECS(emulator.ECSSettings{RoleName: "EcsRole", RequireToken: true})

	tok := do(t, f.client, http.MethodPut, "http://100.100.100.200/latest/api/token",
		map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": "21600"})
	if tok.status != http.StatusOK || tok.body == "" {
		t.Fatalf("token: %d %q", tok.status, tok.body)
	}
	hdr := map[string]string{"X-aliyun-ecs-metadata-token": tok.body}
	if r := do(t, f.client, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/", hdr); r.status != 200 || r.body != "EcsRole" {
		t.Fatalf("listing: %d %q", r.status, r.body)
	}
	if r := do(t, f.client, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/EcsRole", nil); r.status != http.StatusUnauthorized {
		t.Errorf("tokenless GET through the proxy: %d, want 401", r.status)
	}
	r := do(t, f.client, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/EcsRole", hdr)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"Code": "Success"`) {
		t.Fatalf("credentials: %d %s", r.status, r.body)
	}
	// Only the metadata service lives on 100.100.100.200, not the RPC API or the admin API.
	for _, path := range []string{"/_emulator/state", "/?Action=GetCallerIdentity&Version=2015-04-01", "/credentials-uri"} {
		if r := do(t, f.client, http.MethodGet, "http://100.100.100.200"+path, hdr); r.status != http.StatusNotFound {
			t.Errorf("GET http://100.100.100.200%s: %d, want 404", path, r.status)
		}
	}

	f.e.SetECS(emulator.ECSSettings{RoleName: "EcsRole", Disabled: true})
	if resp, err := f.client.Get("http://100.100.100.200/latest/meta-data/ram/security-credentials/"); err == nil {
		resp.Body.Close()
		t.Errorf("disabled metadata answered HTTP %d through the proxy", resp.StatusCode)
	}
}

func TestProxyRefusals(t *testing.T) {
	f := newProxyFixture(t)
	tests := []struct {
		name       string
		url        string
		wantStatus int // for plain requests; CONNECT refusals surface as client errors
	}{
		{"foreign https host", "https://example.com/", http.StatusForbidden},
		{"look-alike https host", "https://sts.aliyuncs.com.evil.example/", http.StatusForbidden},
		{"aliyuncs.com on another port", "https://sts.aliyuncs.com:8443/", http.StatusForbidden},
		{"foreign plain host", "http://example.com/", http.StatusForbidden},
		{"look-alike plain host", "http://evilaliyuncs.com/", http.StatusForbidden},
		{"metadata on another port", "http://100.100.100.200:8080/latest/", http.StatusForbidden},
		{"loopback through the proxy", "http://127.0.0.1:1/", http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := f.client.Get(tc.url)
			if strings.HasPrefix(tc.url, "https://") {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("CONNECT to %s succeeded", tc.url)
				}
				if !strings.Contains(err.Error(), http.StatusText(tc.wantStatus)) {
					t.Fatalf("error %v, want the proxy's %d", err, tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), "nothing is forwarded off this machine") {
				t.Fatalf("status %d body %q, want %d with the refusal text", resp.StatusCode, body, tc.wantStatus)
			}
		})
	}

	t.Run("direct request to the proxy", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, f.proxyURL.String()+"/latest/meta-data/", nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "proxy") {
			t.Errorf("status %d body %q, want 400", r.status, r.body)
		}
	})
	if c := f.e.Counters(); len(c) != 0 {
		t.Errorf("refused requests reached the emulator: %v", c)
	}
}

func TestProxyCloseEndsTunnels(t *testing.T) {
	f := newProxyFixture(t)
	// Open a tunnel by hand and keep it: CONNECT, then TLS inside.
	raw, err := net.Dial("tcp", f.proxyURL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := io.WriteString(raw, "CONNECT sts.aliyuncs.com:443 HTTP/1.1\r\nHost: sts.aliyuncs.com:443\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(raw)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	cfg := f.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.ServerName = "sts.aliyuncs.com"
	tunnel := tls.Client(raw, cfg)
	if err := tunnel.Handshake(); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		_ = f.proxy.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a tunnel was open")
	}
	// The open tunnel was ended by Close.
	_ = tunnel.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := tunnel.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("tunnel still open after Close (read %d, %v)", n, err)
	}
	// New tunnels are refused.
	f.client.CloseIdleConnections()
	_, err = callerIdentity(t, f.clk, "", f.client, f.mainKey)
	if err == nil || !strings.Contains(err.Error(), "Service Unavailable") {
		t.Fatalf("after Close: err %v, want the proxy's 503 refusal", err)
	}
}

// TestProxyTunnelConnectionFaults: faults that end the connection reach the
// client through a CONNECT tunnel too: a reset is an RST on the client's TCP
// connection to the proxy, and a lost answer still applies the request.
func TestProxyTunnelConnectionFaults(t *testing.T) {
	f := newProxyFixture(t)
	c, err := aliyun.NewClient(aliyun.Options{Credentials: aliyun.StaticCredentials(f.mainKey), MaxRetries: -1, HTTPClient: f.client, Clock: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	f.e.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "CreateUser", Kind: emulator.FaultReset, Count: 1}}})
	_, err = c.CreateUser(ctx, aliyun.CreateUserInput{UserName: "tunnel-user"})
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("CreateUser under reset through the proxy: %v, want a connection reset", err)
	}
	if len(f.e.Snapshot().Users) != 0 {
		t.Fatal("a reset request was applied")
	}

	f.e.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "CreateUser", Kind: emulator.FaultLostAnswer, Count: 1}}})
	_, err = c.CreateUser(ctx, aliyun.CreateUserInput{UserName: "tunnel-user"})
	var ne *aliyun.NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("CreateUser under lost_answer through the proxy: %v, want a transport error", err)
	}
	if users := f.e.Snapshot().Users; len(users) != 1 || users[0].Name != "tunnel-user" {
		t.Fatalf("users %+v, want the one whose answer was lost", users)
	}
	if _, err := c.CreateUser(ctx, aliyun.CreateUserInput{UserName: "tunnel-user"}); aliyun.ErrorCode(err) != "EntityAlreadyExists.User" {
		t.Fatalf("retry: %v", err)
	}
}
