package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// fakeClock is an injectable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestEmulator builds an emulator on a fake clock with a deterministic
// random stream.
func newTestEmulator(t testing.TB, seed *Seed) (*Emulator, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	e, err := New(Options{Seed: seed, Clock: clock.Now, RandSeed: 42})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e, clock
}

var nonceSeq atomic.Int64

// client signs requests with aliyun.StringToSign/Sign and sends them straight
// to the emulator's ServeHTTP.
type client struct {
	t                  testing.TB
	e                  *Emulator
	id, secret, token  string
	method             string // POST (default) or GET
	clock              func() time.Time
	nonce              string // fixed nonce when set
	mutate             func(url.Values)
	mutateAfterSigning func(url.Values)
}

func (e *Emulator) rootClient(t testing.TB) *client {
	id, secret := e.MainAccessKey()
	return &client{t: t, e: e, id: id, secret: secret}
}

func (e *Emulator) keyClient(t testing.TB, id, secret string) *client {
	return &client{t: t, e: e, id: id, secret: secret}
}

func (e *Emulator) sessionClient(t testing.TB, creds map[string]any) *client {
	return &client{t: t, e: e, id: creds["AccessKeyId"].(string), secret: creds["AccessKeySecret"].(string), token: creds["SecurityToken"].(string)}
}

// userClient creates a RAM user with an AccessKey and attached system policies.
func (e *Emulator) userClient(t testing.TB, name string, policies ...string) *client {
	t.Helper()
	if err := e.CreateUser(name); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	for _, p := range policies {
		typ := "System"
		if _, ok := systemPolicies[p]; !ok {
			typ = "Custom"
		}
		if err := e.AttachPolicy("user", name, typ, p); err != nil {
			t.Fatalf("AttachPolicy(%s, %s): %v", name, p, err)
		}
	}
	id, secret, err := e.CreateAccessKey(name)
	if err != nil {
		t.Fatalf("CreateAccessKey(%s): %v", name, err)
	}
	return e.keyClient(t, id, secret)
}

type result struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func (r *result) code() string {
	s, _ := r.body["Code"].(string)
	return s
}

// str walks a dotted path ("Credentials.AccessKeyId") into the body.
func (r *result) str(path string) string {
	var cur any = r.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// list returns the items of a list envelope such as "Users.User".
func (r *result) list(path string) []map[string]any {
	var cur any = r.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	items, _ := cur.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

func versionOf(action string) string {
	switch action {
	case "AssumeRole", "AssumeRoleWithOIDC", "AssumeRoleWithSAML", "GetCallerIdentity":
		return "2015-04-01"
	case "DescribeRegions":
		return "2014-05-26"
	}
	return "2015-05-01"
}

// params builds the signed parameter set of a call.
func (c *client) params(action string, kv ...string) url.Values {
	now := time.Now
	if c.clock != nil {
		now = c.clock
	} else if c.e != nil {
		now = c.e.now
	}
	nonce := c.nonce
	if nonce == "" {
		nonce = "n" + strconv.FormatInt(nonceSeq.Add(1), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	p := url.Values{
		"Format":           {"JSON"},
		"Version":          {versionOf(action)},
		"Action":           {action},
		"AccessKeyId":      {c.id},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {nonce},
		"Timestamp":        {now().UTC().Format("2006-01-02T15:04:05Z")},
	}
	if c.token != "" {
		p.Set("SecurityToken", c.token)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	if c.mutate != nil {
		c.mutate(p)
	}
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	p.Set("Signature", aliyun.Sign(c.secret, aliyun.StringToSign(method, p)))
	if c.mutateAfterSigning != nil {
		c.mutateAfterSigning(p)
	}
	return p
}

func (c *client) call(action string, kv ...string) *result {
	c.t.Helper()
	return c.send(c.params(action, kv...))
}

func (c *client) send(p url.Values) *result {
	c.t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	var req *http.Request
	if method == http.MethodGet {
		req = httptest.NewRequest(method, "/?"+p.Encode(), nil)
	} else {
		req = httptest.NewRequest(method, "/", strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return serve(c.t, c.e, req)
}

func serve(t testing.TB, h http.Handler, req *http.Request) *result {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := &result{status: rec.Code, raw: rec.Body.String(), header: rec.Header()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, rec.Body.String())
		}
	}
	return res
}

// ok fails the test unless the call succeeded.
func (r *result) ok(t testing.TB) *result {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("want 200, got %d: %s", r.status, r.raw)
	}
	return r
}

// expect fails the test unless the call failed with status and code.
func (r *result) expect(t testing.TB, status int, code string) *result {
	t.Helper()
	if r.status != status || r.code() != code {
		t.Fatalf("want %d %s, got %d: %s", status, code, r.status, r.raw)
	}
	return r
}

// trustAccount is a trust policy that trusts every RAM identity of the account.
func trustAccount(account string) string {
	return `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"RAM":["acs:ram::` + account + `:root"]}}],"Version":"1"}`
}
