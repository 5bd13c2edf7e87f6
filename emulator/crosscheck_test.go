package emulator_test

// Cross-check against an independent implementation: Alibaba's official Go
// credentials library (github.com/aliyun/credentials-go, a test-only
// dependency) runs unmodified against the emulator through proxy mode, and the
// credentials it obtains are then used by our client.
//
// credentials-go has no hook for an HTTP client or a CA: it clones
// http.DefaultTransport, so it finds the proxy through HTTPS_PROXY/HTTP_PROXY
// and trusts certificates through SSL_CERT_FILE. Go reads both once per
// process (http.ProxyFromEnvironment caches the environment, crypto/x509
// loads the system roots once), so the library runs in a child process: this
// test binary re-executed with -test.run=TestCrossCheckChild and that
// environment. The parent owns the emulator; the child only talks to it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// crossCheckConfig is what the parent tells the child process.
type crossCheckConfig struct {
	UserKeyID, UserKeySecret string
	AssumeRoleARN            string
	OIDCRoleARN              string
	OIDCProviderARN          string
	OIDCTokenFile            string
	CredentialsURI           string
}

// crossCheckResult is one provider's outcome in the child process.
type crossCheckResult struct {
	Provider        string
	ProviderName    string
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Error           string
}

const (
	crossCheckConfigEnv = "ALICLOUD_EMULATOR_CROSSCHECK_CONFIG"
	crossCheckOutEnv    = "ALICLOUD_EMULATOR_CROSSCHECK_OUT"
)

func TestCrossCheckCredentialsGo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	e, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	e.SetOIDCIssuerURL(srv.URL + "/_emulator/oidc")
	ca, err := emulator.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := ca.WritePEM(caFile); err != nil {
		t.Fatal(err)
	}
	proxy := e.ProxyHandler(ca)
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(func() {
		_ = proxy.Close()
		proxySrv.Close()
	})

	// A RAM user allowed to assume roles, and the roles each provider uses.
	acct := e.AccountID()
	must(t, e.CreateUser("crosscheck"))
	keyID, keySecret, err := e.CreateAccessKey("crosscheck")
	must(t, err)
	must(t, e.AttachPolicy("user", "crosscheck", "System", "AliyunSTSAssumeRoleAccess"))
	assumeARN, err := e.CreateRole("CrossCheckAssume",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::`+acct+`:root"]}}]}`, time.Hour)
	must(t, err)
	providerARN, err := e.RegisterOIDCProvider("crosscheck-oidc", []string{"sts.aliyuncs.com"})
	must(t, err)
	oidcARN, err := e.CreateRole("CrossCheckOIDC",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["`+providerARN+`"]},`+
			`"Condition":{"StringEquals":{"oidc:aud":"sts.aliyuncs.com"}}}]}`, time.Hour)
	must(t, err)
	token, err := e.MintOIDCToken("crosscheck-oidc", "system:serviceaccount:default:crosscheck", "sts.aliyuncs.com", time.Hour)
	must(t, err)
	tokenFile := filepath.Join(dir, "oidc-token")
	must(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	_, err = e.CreateRole("CrossCheckECS", ecsTrust, time.Hour)
	must(t, err)
	e.SetECS(emulator.ECSSettings{RoleName: "CrossCheckECS", RequireToken: true})
	_, err = e.CreateRole("CrossCheckURI", ecsTrust, time.Hour)
	must(t, err)
	e.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: "CrossCheckURI"})

	cfg := crossCheckConfig{
		UserKeyID: keyID, UserKeySecret: keySecret,
		AssumeRoleARN: assumeARN, OIDCRoleARN: oidcARN, OIDCProviderARN: providerARN, OIDCTokenFile: tokenFile,
		CredentialsURI: srv.URL + "/credentials-uri",
	}
	cfgFile, outFile := filepath.Join(dir, "config.json"), filepath.Join(dir, "out.json")
	b, _ := json.Marshal(cfg)
	must(t, os.WriteFile(cfgFile, b, 0o600))

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrossCheckChild$", "-test.count=1", "-test.v")
	cmd.Env = childEnv(map[string]string{
		"HTTPS_PROXY":       proxySrv.URL,
		"HTTP_PROXY":        proxySrv.URL,
		"SSL_CERT_FILE":     caFile,
		"SSL_CERT_DIR":      filepath.Join(dir, "no-cert-dir"),
		"HOME":              dir,
		crossCheckConfigEnv: cfgFile,
		crossCheckOutEnv:    outFile,
	})
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		t.Fatalf("child process: %v\n%s", err, output.String())
	}
	var results []crossCheckResult
	b, err = os.ReadFile(outFile)
	must(t, err)
	must(t, json.Unmarshal(b, &results))

	want := map[string]string{
		"ram_role_arn":    ":assumed-role/crosscheckassume/",
		"oidc_role_arn":   ":assumed-role/crosscheckoidc/",
		"ecs_ram_role":    ":assumed-role/crosscheckecs/",
		"credentials_uri": ":assumed-role/crosscheckuri/",
	}
	seen := map[string]bool{}
	for _, r := range results {
		t.Run(r.Provider, func(t *testing.T) {
			seen[r.Provider] = true
			if r.Error != "" {
				t.Fatalf("credentials-go %s: %s", r.Provider, r.Error)
			}
			if !strings.HasPrefix(r.AccessKeyID, "STS.") || r.AccessKeySecret == "" || r.SecurityToken == "" {
				t.Fatalf("credentials-go %s returned incomplete credentials (key id %q)", r.Provider, r.AccessKeyID)
			}
			// Our client uses what the official library obtained.
			id, err := callerIdentity(t, nil, srv.URL, nil, aliyun.Credentials{
				AccessKeyID: r.AccessKeyID, AccessKeySecret: r.AccessKeySecret, SecurityToken: r.SecurityToken,
			})
			if err != nil {
				t.Fatalf("GetCallerIdentity with %s credentials: %v", r.Provider, err)
			}
			if id.IdentityType != aliyun.IdentityAssumedRoleUser || !strings.Contains(strings.ToLower(id.Arn), want[r.Provider]) {
				t.Errorf("identity %s %s, want an assumed-role ARN containing %s", id.IdentityType, id.Arn, want[r.Provider])
			}
		})
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("no result for provider %s", p)
		}
	}
	// The library went through the emulator's front doors, including the
	// hardened-mode token (the ECS role requires it).
	c := e.Counters()
	for _, name := range []string{"sts:AssumeRole", "sts:AssumeRoleWithOIDC", "ecs:GetToken", "ecs:ListRoles", "ecs:GetCredentials", "credentialsuri:GetCredentials"} {
		if c[name] < 1 {
			t.Errorf("counter %s = %d, want at least 1", name, c[name])
		}
	}
}

// childEnv is the parent's environment without proxy, certificate and
// Alibaba Cloud settings, plus set.
func childEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(k); {
		case strings.HasPrefix(up, "ALIBABA_CLOUD_"), strings.HasSuffix(up, "_PROXY"),
			up == "SSL_CERT_FILE", up == "SSL_CERT_DIR", up == "HOME":
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// TestCrossCheckChild runs inside the child process started by
// TestCrossCheckCredentialsGo; run directly, it skips.
func TestCrossCheckChild(t *testing.T) {
	cfgFile := os.Getenv(crossCheckConfigEnv)
	if cfgFile == "" {
		t.Skip("helper process of TestCrossCheckCredentialsGo")
	}
	var cfg crossCheckConfig
	b, err := os.ReadFile(cfgFile)
	must(t, err)
	must(t, json.Unmarshal(b, &cfg))

	str := func(s string) *string { return &s }
	configs := []struct {
		name string
		cfg  *credentials.Config
	}{
		{"ram_role_arn", &credentials.Config{
			Type: str("ram_role_arn"), AccessKeyId: str(cfg.UserKeyID), AccessKeySecret: str(cfg.UserKeySecret),
			RoleArn: str(cfg.AssumeRoleARN), RoleSessionName: str("crosscheck-session"),
		}},
		{"oidc_role_arn", &credentials.Config{
			Type: str("oidc_role_arn"), RoleArn: str(cfg.OIDCRoleARN), OIDCProviderArn: str(cfg.OIDCProviderARN),
			OIDCTokenFilePath: str(cfg.OIDCTokenFile), RoleSessionName: str("crosscheck-oidc"),
			// A regional endpoint: the proxy issues a certificate for the deeper name.
			STSEndpoint: str("sts.cn-hangzhou.aliyuncs.com"),
		}},
		{"ecs_ram_role", &credentials.Config{
			// No role name: the library reads it from the listing. IMDSv1 off:
			// every metadata call must carry the hardened-mode token.
			Type: str("ecs_ram_role"), DisableIMDSv1: ptr(true),
		}},
		{"credentials_uri", &credentials.Config{Type: str("credentials_uri"), Url: str(cfg.CredentialsURI)}},
	}
	var results []crossCheckResult
	for _, c := range configs {
		r := crossCheckResult{Provider: c.name}
		cred, err := credentials.NewCredential(c.cfg)
		if err == nil {
			var m *credentials.CredentialModel
			m, err = cred.GetCredential()
			if err == nil {
				r.AccessKeyID, r.AccessKeySecret, r.SecurityToken = deref(m.AccessKeyId), deref(m.AccessKeySecret), deref(m.SecurityToken)
				r.ProviderName = deref(m.ProviderName)
			}
		}
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	out, _ := json.Marshal(results)
	must(t, os.WriteFile(os.Getenv(crossCheckOutEnv), out, 0o600))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestCrossCheckSignedRequests checks our signer against the emulator's
// verifier in the other direction: a request signed with aliyun.SignParams is
// accepted, and the same request with one byte changed anywhere that is signed
// is refused.
func TestCrossCheckSignedRequests(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	id, secret := e.MainAccessKey()

	params := url.Values{
		"Format":           {"JSON"},
		"Version":          {"2015-04-01"},
		"Action":           {"GetCallerIdentity"},
		"AccessKeyId":      {id},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {"3b1c6f0e-crosscheck-" + strconv.FormatInt(clk.Now().UnixNano(), 10)},
		"Timestamp":        {clk.Now().UTC().Format("2006-01-02T15:04:05Z")},
		"Extra":            {"a value with spaces & symbols=/~"},
	}
	params.Set("Signature", aliyun.SignParams(http.MethodGet, params, secret))

	// flip changes the byte at i into another of its kind, so the request
	// stays well-formed (a timestamp stays a timestamp) and only the
	// signature check can catch it.
	flip := func(s string, i int) string {
		b := []byte(s)
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		case c == 'A':
			b[i] = 'B'
		default:
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name       string
		param      string
		index      int
		wantStatus int
		wantCode   string
	}{
		{"signature", "Signature", 5, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"nonce", "SignatureNonce", 0, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"extra parameter", "Extra", 3, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"timestamp second", "Timestamp", 18, http.StatusBadRequest, "SignatureDoesNotMatch"},
		{"key id", "AccessKeyId", 10, http.StatusNotFound, "InvalidAccessKeyId.NotFound"},
	}
	// The refused variants go first: a refused request must not use up the
	// nonce of the genuine one.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := cloneValues(params)
			p.Set(tc.param, flip(p.Get(tc.param), tc.index))
			r := do(t, nil, http.MethodGet, base+"/?"+p.Encode(), nil)
			var body struct{ Code string }
			_ = json.Unmarshal([]byte(r.body), &body)
			if r.status != tc.wantStatus || body.Code != tc.wantCode {
				t.Fatalf("status %d code %q, want %d %s (%s)", r.status, body.Code, tc.wantStatus, tc.wantCode, r.body)
			}
		})
	}
	t.Run("genuine request", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/?"+params.Encode(), nil)
		var body struct{ IdentityType, AccountId string }
		_ = json.Unmarshal([]byte(r.body), &body)
		if r.status != http.StatusOK || body.IdentityType != "Account" || body.AccountId != e.AccountID() {
			t.Fatalf("status %d body %s, want the account's identity", r.status, r.body)
		}
	})
	t.Run("the same request replayed", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/?"+params.Encode(), nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "SignatureNonceUsed") {
			t.Fatalf("replay: status %d body %s, want 400 SignatureNonceUsed", r.status, r.body)
		}
	})
	t.Run("POST form body", func(t *testing.T) {
		p := cloneValues(params)
		p.Del("Signature")
		p.Set("SignatureNonce", fmt.Sprintf("post-%d", clk.Now().UnixNano()))
		p.Set("Signature", aliyun.SignParams(http.MethodPost, p, secret))
		for _, tamper := range []bool{true, false} {
			q := cloneValues(p)
			if tamper {
				q.Set("Extra", flip(q.Get("Extra"), 0))
			}
			resp, err := http.Post(base+"/", "application/x-www-form-urlencoded", strings.NewReader(q.Encode()))
			must(t, err)
			resp.Body.Close()
			if want := map[bool]int{true: http.StatusBadRequest, false: http.StatusOK}[tamper]; resp.StatusCode != want {
				t.Errorf("tampered=%v: status %d, want %d", tamper, resp.StatusCode, want)
			}
		}
	})
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
