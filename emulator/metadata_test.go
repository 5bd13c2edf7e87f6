package emulator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// testClock is a settable clock shared by the emulator and the clients.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ecsTrust trusts the ECS service, as an instance role's trust policy does.
const ecsTrust = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`

// rootTrust trusts only the account itself, not the ECS service.
const rootTrust = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1234567890123456:root"]}}]}`

var metadataTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// newEdgeEmulator starts an emulator on a loopback httptest server.
func newEdgeEmulator(t *testing.T, clk *testClock) (*emulator.Emulator, string) {
	t.Helper()
	e, err := emulator.New(emulator.Options{Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv.URL
}

func createRole(t *testing.T, e *emulator.Emulator, name, trust string) {
	t.Helper()
	if _, err := e.CreateRole(name, trust, time.Hour); err != nil {
		t.Fatalf("CreateRole(%s): %v", name, err)
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request with the given headers and returns status and body.
func do(t *testing.T, client *http.Client, method, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func getToken(t *testing.T, base string, ttl string) string {
	t.Helper()
	r := do(t, nil, http.MethodPut, base+"/latest/api/token", map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": ttl})
	if r.status != http.StatusOK {
		t.Fatalf("token PUT: status %d: %s", r.status, r.body)
	}
	return r.body
}

// callerIdentity makes a signed GetCallerIdentity call with creds.
func callerIdentity(t *testing.T, clk *testClock, stsEndpoint string, hc *http.Client, creds aliyun.Credentials) (*aliyun.CallerIdentity, error) {
	t.Helper()
	opts := aliyun.Options{
		Credentials: aliyun.StaticCredentials(creds),
		MaxRetries:  -1,
		HTTPClient:  hc,
	}
	if clk != nil {
		opts.Clock = clk.Now
	}
	if stsEndpoint != "" {
		opts.Endpoints = map[aliyun.Product]string{aliyun.STS: stsEndpoint}
	}
	c, err := aliyun.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c.GetCallerIdentity(context.Background())
}

func TestMetadataTokenTTL(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	tests := []struct {
		name       string
		ttl        *string
		wantStatus int
	}{
		{"missing header", nil, http.StatusBadRequest},
		{"zero", ptr("0"), http.StatusBadRequest},
		{"negative", ptr("-1"), http.StatusBadRequest},
		{"above 21600", ptr("21601"), http.StatusBadRequest},
		{"not a number", ptr("6h"), http.StatusBadRequest},
		{"empty", ptr(""), http.StatusBadRequest},
		{"minimum", ptr("1"), http.StatusOK},
		{"maximum", ptr("21600"), http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.ttl != nil {
				hdr["X-aliyun-ecs-metadata-token-ttl-seconds"] = *tc.ttl
			}
			r := do(t, nil, http.MethodPut, base+"/latest/api/token", hdr)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus != http.StatusOK {
				return
			}
			if len(r.body) < 32 || strings.ContainsAny(r.body, "\r\n \t") {
				t.Errorf("token %q: want a long token without whitespace or newline", r.body)
			}
			if got := r.header.Get("X-aliyun-ecs-metadata-token-ttl-seconds"); got != *tc.ttl {
				t.Errorf("TTL header echoed as %q, want %q", got, *tc.ttl)
			}
		})
	}
	t.Run("GET on the token path", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+"/latest/api/token", nil)
		if r.status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d, want 405", r.status)
		}
	})
	if got := e.Counters()["ecs:GetToken"]; got != int64(len(tests)+1) {
		t.Errorf("ecs:GetToken = %d, want %d", got, len(tests)+1)
	}
}

func ptr[T any](v T) *T { return &v }

func TestMetadataTokenChecks(t *testing.T) {
	tests := []struct {
		name         string
		requireToken bool
		token        string // "", "valid", "expired", "garbage", "tampered", "almost-expired"
		wantStatus   int
	}{
		{"optional, no token", false, "", http.StatusOK},
		{"optional, valid token", false, "valid", http.StatusOK},
		{"optional, garbage token", false, "garbage", http.StatusUnauthorized},
		{"optional, tampered token", false, "tampered", http.StatusUnauthorized},
		{"optional, expired token", false, "expired", http.StatusUnauthorized},
		{"required, no token", true, "", http.StatusUnauthorized},
		{"required, valid token", true, "valid", http.StatusOK},
		{"required, token one second before expiry", true, "almost-expired", http.StatusOK},
		{"required, expired token", true, "expired", http.StatusUnauthorized},
		{"required, garbage token", true, "garbage", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newTestClock()
			e, base := newEdgeEmulator(t, clk)
			createRole(t, e, "EcsRole", ecsTrust)
			e.SetECS(emulator.ECSSettings{RoleName: "EcsRole", RequireToken: tc.requireToken})

			hdr := map[string]string{}
			switch tc.token {
			case "valid":
				hdr["X-aliyun-ecs-metadata-token"] = getToken(t, base, "60")
			case "almost-expired":
				hdr["X-aliyun-ecs-metadata-token"] = getToken(t, base, "60")
				clk.Advance(59 * time.Second)
			case "expired":
				hdr["X-aliyun-ecs-metadata-token"] = getToken(t, base, "60")
				clk.Advance(60 * time.Second)
			case "garbage":
				hdr["X-aliyun-ecs-metadata-token"] = "not-a-token"
			case "tampered":
				tok := []byte(getToken(t, base, "60"))
				tok[3] ^= 1 // still base64url, different expiry
				hdr["X-aliyun-ecs-metadata-token"] = string(tok)
			}
			for _, path := range []string{
				"/latest/meta-data/ram/security-credentials/",
				"/latest/meta-data/ram/security-credentials/EcsRole",
			} {
				r := do(t, nil, http.MethodGet, base+path, hdr)
				if r.status != tc.wantStatus {
					t.Errorf("GET %s: status %d, want %d (%s)", path, r.status, tc.wantStatus, r.body)
				}
				if r.status != http.StatusOK && strings.Contains(r.body, "AccessKeySecret") {
					t.Errorf("GET %s refused but returned credentials", path)
				}
			}
		})
	}
}

func TestMetadataCredentials(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	const list = "/latest/meta-data/ram/security-credentials/"

	t.Run("no role attached", func(t *testing.T) {
		for _, path := range []string{list, list + "EcsRole"} {
			if r := do(t, nil, http.MethodGet, base+path, nil); r.status != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", path, r.status)
			}
		}
	})

	createRole(t, e, "EcsRole", ecsTrust)
	createRole(t, e, "NotForEcs", rootTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})

	t.Run("listing", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+list, nil)
		if r.status != http.StatusOK || r.body != "EcsRole" {
			t.Fatalf("listing: %d %q, want 200 \"EcsRole\"", r.status, r.body)
		}
	})

	t.Run("document", func(t *testing.T) {
		tok := getToken(t, base, "21600")
		r := do(t, nil, http.MethodGet, base+list+"EcsRole", map[string]string{"X-aliyun-ecs-metadata-token": tok})
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(doc))
		for k, v := range doc {
			keys = append(keys, k)
			if s, ok := v.(string); !ok || s == "" {
				t.Errorf("%s = %v, want a non-empty string", k, v)
			}
		}
		slices.Sort(keys)
		want := []string{"AccessKeyId", "AccessKeySecret", "Code", "Expiration", "LastUpdated", "SecurityToken"}
		if !slices.Equal(keys, want) {
			t.Fatalf("keys %v, want exactly %v", keys, want)
		}
		if doc["Code"] != "Success" {
			t.Errorf("Code = %v", doc["Code"])
		}
		for _, k := range []string{"Expiration", "LastUpdated"} {
			if !metadataTime.MatchString(doc[k].(string)) {
				t.Errorf("%s = %q, want yyyy-MM-ddTHH:mm:ssZ", k, doc[k])
			}
		}
		if doc["LastUpdated"] != clk.Now().Format("2006-01-02T15:04:05Z") {
			t.Errorf("LastUpdated = %v, want the issue time %v", doc["LastUpdated"], clk.Now())
		}
		exp, _ := time.Parse(time.RFC3339, doc["Expiration"].(string))
		if !exp.After(clk.Now().Add(15 * time.Minute)) {
			t.Errorf("Expiration %v is too close to now %v", exp, clk.Now())
		}
		if !strings.HasPrefix(doc["AccessKeyId"].(string), "STS.") {
			t.Errorf("AccessKeyId %q, want an STS. key", doc["AccessKeyId"])
		}

		// The session is a real one: it signs a call as the assumed role.
		id, err := callerIdentity(t, clk, base, nil, aliyun.Credentials{
			AccessKeyID:     doc["AccessKeyId"].(string),
			AccessKeySecret: doc["AccessKeySecret"].(string),
			SecurityToken:   doc["SecurityToken"].(string),
		})
		if err != nil {
			t.Fatalf("GetCallerIdentity with the instance role session: %v", err)
		}
		if id.IdentityType != aliyun.IdentityAssumedRoleUser || !strings.Contains(strings.ToLower(id.Arn), ":assumed-role/ecsrole/") {
			t.Errorf("caller identity = %s %s, want an assumed-role session of EcsRole", id.IdentityType, id.Arn)
		}
	})

	t.Run("other role name", func(t *testing.T) {
		r := do(t, nil, http.MethodGet, base+list+"NotForEcs", nil)
		if r.status != http.StatusNotFound || strings.Contains(r.body, "AccessKeyId") {
			t.Errorf("status %d body %q, want 404 without credentials", r.status, r.body)
		}
	})

	t.Run("role not trusting ECS", func(t *testing.T) {
		e.SetECS(emulator.ECSSettings{RoleName: "NotForEcs"})
		defer e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})
		r := do(t, nil, http.MethodGet, base+list+"NotForEcs", nil)
		var doc struct{ Code, Message, AccessKeyId string }
		_ = json.Unmarshal([]byte(r.body), &doc)
		if r.status != http.StatusForbidden || doc.Code == "" || doc.AccessKeyId != "" {
			t.Errorf("status %d body %q, want 403 with an error Code", r.status, r.body)
		}
	})

	t.Run("unknown paths and methods", func(t *testing.T) {
		tests := []struct {
			method, path string
			want         int
		}{
			{http.MethodPost, list + "EcsRole", http.StatusMethodNotAllowed},
			{http.MethodDelete, list, http.StatusMethodNotAllowed},
			{http.MethodGet, "/latest/meta-data/instance-id", http.StatusNotFound},
			{http.MethodGet, list + "EcsRole/extra", http.StatusNotFound},
			{http.MethodGet, "/latest/meta-data/", http.StatusOK},
		}
		for _, tc := range tests {
			if r := do(t, nil, tc.method, base+tc.path, nil); r.status != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, r.status, tc.want)
			}
		}
	})

	c := e.Counters()
	// listing: 1 (no role) + 1; credentials: 1 (no role) + 1 + 1 + 1 + 2 (POST, extra path).
	if c["ecs:ListRoles"] != 3 || c["ecs:GetCredentials"] != 6 {
		t.Errorf("counters ListRoles=%d GetCredentials=%d, want 3 and 6", c["ecs:ListRoles"], c["ecs:GetCredentials"])
	}
}

// metadataDoc fetches the instance role's credentials document.
func metadataDoc(t *testing.T, base string) map[string]string {
	t.Helper()
	r := do(t, nil, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/EcsRole", nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestMetadataSessionReuseAndRefresh(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	createRole(t, e, "EcsRole", ecsTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})

	first := metadataDoc(t, base)
	issued, _ := time.Parse(time.RFC3339, first["LastUpdated"])
	exp, _ := time.Parse(time.RFC3339, first["Expiration"])
	lifetime := exp.Sub(issued)
	if lifetime < 15*time.Minute {
		t.Fatalf("session lifetime %v, want at least 15m", lifetime)
	}

	// Until a third of the lifetime remains, every caller gets the same session.
	clk.Advance(lifetime/2 - time.Second)
	if again := metadataDoc(t, base); again["AccessKeyId"] != first["AccessKeyId"] || again["LastUpdated"] != first["LastUpdated"] {
		t.Fatalf("session not reused at half its lifetime")
	}
	clk.Advance(issued.Add(lifetime*2/3 - time.Second).Sub(clk.Now()))
	if again := metadataDoc(t, base); again["AccessKeyId"] != first["AccessKeyId"] {
		t.Fatalf("session not reused just before the refresh point")
	}
	clk.Advance(2 * time.Second)
	second := metadataDoc(t, base)
	if second["AccessKeyId"] == first["AccessKeyId"] {
		t.Fatal("session not refreshed once less than a third of its lifetime remained")
	}
	if second["LastUpdated"] != clk.Now().Format("2006-01-02T15:04:05Z") {
		t.Errorf("LastUpdated %s, want now %v", second["LastUpdated"], clk.Now())
	}
	// The old session stays valid until its own expiry, like on ECS.
	if _, err := callerIdentity(t, clk, base, nil, aliyun.Credentials{
		AccessKeyID: first["AccessKeyId"], AccessKeySecret: first["AccessKeySecret"], SecurityToken: first["SecurityToken"],
	}); err != nil {
		t.Errorf("previous session refused before its expiry: %v", err)
	}

	// After a reset of the account the cached session no longer exists, so a
	// new one is issued rather than a dead one handed out.
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	createRole(t, e, "EcsRole", ecsTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})
	third := metadataDoc(t, base)
	if third["AccessKeyId"] == second["AccessKeyId"] {
		t.Fatal("a session dropped by Reset was handed out again")
	}
	if _, err := callerIdentity(t, clk, base, nil, aliyun.Credentials{
		AccessKeyID: third["AccessKeyId"], AccessKeySecret: third["AccessKeySecret"], SecurityToken: third["SecurityToken"],
	}); err != nil {
		t.Errorf("session issued after Reset refused: %v", err)
	}
	if got := e.Counters()["ecs:GetCredentials"]; got != 1 {
		t.Errorf("ecs:GetCredentials after Reset = %d, want 1", got)
	}
}

func TestMetadataDisabled(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	createRole(t, e, "EcsRole", ecsTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole", Disabled: true})
	for _, req := range []struct{ method, path string }{
		{http.MethodPut, "/latest/api/token"},
		{http.MethodGet, "/latest/meta-data/ram/security-credentials/"},
		{http.MethodGet, "/latest/meta-data/ram/security-credentials/EcsRole"},
	} {
		r, _ := http.NewRequest(req.method, base+req.path, nil)
		r.Header.Set("X-aliyun-ecs-metadata-token-ttl-seconds", "60")
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s %s: got HTTP %d from a disabled metadata service, want no answer", req.method, req.path, resp.StatusCode)
		}
	}
	if c := e.Counters(); c["ecs:GetToken"]+c["ecs:ListRoles"]+c["ecs:GetCredentials"] != 0 {
		t.Errorf("a disabled service counted calls: %v", c)
	}
	// Enabling it again brings it back.
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})
	if r := do(t, nil, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/", nil); r.status != http.StatusOK {
		t.Errorf("re-enabled service: status %d", r.status)
	}
}

func TestMetadataFaults(t *testing.T) {
	clk := newTestClock()
	e, base := newEdgeEmulator(t, clk)
	createRole(t, e, "EcsRole", ecsTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole"})
	e.SetFaults(emulator.FaultConfig{Seed: 1, Rules: []emulator.FaultRule{
		{Action: "ECSMetadata", Kind: "5xx", Probability: 1, Count: 1},
	}})
	first := do(t, nil, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/EcsRole", nil)
	if first.status < 500 || strings.Contains(first.body, "AccessKeySecret") {
		t.Fatalf("first request: status %d, want an injected 5xx", first.status)
	}
	if second := do(t, nil, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/EcsRole", nil); second.status != http.StatusOK {
		t.Fatalf("second request: status %d, want 200 once the fault is used up", second.status)
	}
	if got := e.Counters()["ecs:GetCredentials"]; got != 2 {
		t.Errorf("ecs:GetCredentials = %d, want 2 (faulted calls count)", got)
	}
}

func TestEdgeRequestLog(t *testing.T) {
	clk := newTestClock()
	var mu sync.Mutex
	var lines []string
	e, err := emulator.New(emulator.Options{Clock: clk.Now, Logger: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	createRole(t, e, "EcsRole", ecsTrust)
	e.SetECS(emulator.ECSSettings{RoleName: "EcsRole", RequireToken: true})
	e.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: "EcsRole"})

	tok := getToken(t, srv.URL, "600")
	md := do(t, nil, http.MethodGet, srv.URL+"/latest/meta-data/ram/security-credentials/EcsRole", map[string]string{"X-aliyun-ecs-metadata-token": tok})
	uri := do(t, nil, http.MethodGet, srv.URL+"/credentials-uri", nil)
	do(t, nil, http.MethodGet, srv.URL+"/latest/meta-data/ram/security-credentials/", nil) // refused: no token
	var mdDoc, uriDoc map[string]string
	_ = json.Unmarshal([]byte(md.body), &mdDoc)
	_ = json.Unmarshal([]byte(uri.body), &uriDoc)
	if mdDoc["AccessKeySecret"] == "" || uriDoc["AccessKeySecret"] == "" {
		t.Fatalf("no credentials: %s / %s", md.body, uri.body)
	}

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"metadata PUT /latest/api/token status=200",
		"metadata GET /latest/meta-data/ram/security-credentials/EcsRole status=200",
		"metadata GET /latest/meta-data/ram/security-credentials/ status=401",
		"credentials-uri GET /credentials-uri status=200",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
	for name, secret := range map[string]string{
		"metadata token": tok, "metadata secret": mdDoc["AccessKeySecret"], "metadata security token": mdDoc["SecurityToken"],
		"URI secret": uriDoc["AccessKeySecret"], "URI security token": uriDoc["SecurityToken"],
	} {
		if strings.Contains(all, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
