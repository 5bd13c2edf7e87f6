package aliyun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is an HTTP endpoint that checks each request's signature the way
// the service does and answers with the next scripted reply.
type recorder struct {
	t       *testing.T
	secret  string
	mu      sync.Mutex
	replies []func(w http.ResponseWriter)
	reqs    []url.Values
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		rc.t.Errorf("parse form: %v", err)
	}
	params := url.Values{}
	for k, v := range r.Form {
		params[k] = v
	}
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, params)
	var reply func(http.ResponseWriter)
	if n < len(rc.replies) {
		reply = rc.replies[n]
	}
	rc.mu.Unlock()
	if params.Get("AccessKeyId") != "" {
		if got, want := params.Get("Signature"), SignParams(r.Method, params, rc.secret); got != want {
			rc.t.Errorf("request %d: signature %q, want %q", n, got, want)
		}
	}
	if reply == nil {
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `{"RequestId":"OK"}`)
		return
	}
	reply(w)
}

func (rc *recorder) requests() []url.Values {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]url.Values(nil), rc.reqs...)
}

func apiError(status int, code, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"RequestId":"REQ-%s","HostId":"sts.aliyuncs.com","Code":%q,"Message":%q,"Recommend":"https://api.aliyun.com/troubleshoot?q=%s"}`, code, code, msg, code)
	}
}

func okBody(body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("no hijacker")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

type sleepLog struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newTestClient(t *testing.T, rc *recorder, creds Credentials, maxRetries int) (*Client, *sleepLog) {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	sl := &sleepLog{}
	c, err := NewClient(Options{
		Credentials: StaticCredentials(creds),
		Endpoints:   map[Product]string{STS: srv.URL, RAM: srv.URL},
		MaxRetries:  maxRetries,
		Sleep:       sl.sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

func TestRetries(t *testing.T) {
	identity := okBody(`{"RequestId":"R1","IdentityType":"RAMUser","AccountId":"1234567890123456","Arn":"acs:ram::1234567890123456:user/vault","UserId":"2001","PrincipalId":"2001"}`)
	tests := []struct {
		name       string
		maxRetries int
		replies    []func(http.ResponseWriter)
		wantCalls  int
		wantCode   string
		wantNet    bool
	}{
		{"throttling then success", 3, []func(http.ResponseWriter){apiError(400, "Throttling.User", "Request was denied due to user flow control."), apiError(429, "Throttling.Api", "api flow control"), identity}, 3, "", false},
		{"service unavailable then success", 3, []func(http.ResponseWriter){apiError(503, "ServiceUnavailable", "temporary"), identity}, 2, "", false},
		{"internal error then success", 3, []func(http.ResponseWriter){apiError(500, "InternalError", "oops"), identity}, 2, "", false},
		{"nonce used is re-signed", 3, []func(http.ResponseWriter){apiError(400, "SignatureNonceUsed", "used"), identity}, 2, "", false},
		{"dropped connection then success", 3, []func(http.ResponseWriter){dropConnection, identity}, 2, "", false},
		{"retries exhausted", 2, []func(http.ResponseWriter){apiError(503, "ServiceUnavailable", "a"), apiError(503, "ServiceUnavailable", "b"), apiError(503, "ServiceUnavailable", "c"), identity}, 3, "ServiceUnavailable", false},
		{"retries disabled", -1, []func(http.ResponseWriter){apiError(400, "Throttling.User", "x"), identity}, 1, "Throttling.User", false},
		{"network error exhausted", 1, []func(http.ResponseWriter){dropConnection, dropConnection, identity}, 2, "", true},
		{"entity not exist is final", 3, []func(http.ResponseWriter){apiError(404, "EntityNotExist.Role", "no role"), identity}, 1, "EntityNotExist.Role", false},
		{"limit exceeded is final", 3, []func(http.ResponseWriter){apiError(409, "LimitExceeded.User.AccessKey", "two keys"), identity}, 1, "LimitExceeded.User.AccessKey", false},
		{"delete conflict is final", 3, []func(http.ResponseWriter){apiError(409, "DeleteConflict.User.Policy", "policy"), identity}, 1, "DeleteConflict.User.Policy", false},
		{"parameter error is final", 3, []func(http.ResponseWriter){apiError(400, "InvalidParameter.DurationSeconds", "bad"), identity}, 1, "InvalidParameter.DurationSeconds", false},
		{"signature error is final", 3, []func(http.ResponseWriter){apiError(400, "SignatureDoesNotMatch", "bad"), identity}, 1, "SignatureDoesNotMatch", false},
		{"permission error is final", 3, []func(http.ResponseWriter){apiError(403, "NoPermission", "denied"), identity}, 1, "NoPermission", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recorder{t: t, secret: "sekret-value", replies: tt.replies}
			c, sl := newTestClient(t, rc, Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sekret-value"}, tt.maxRetries)
			id, err := c.GetCallerIdentity(context.Background())
			reqs := rc.requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("calls = %d, want %d (err %v)", len(reqs), tt.wantCalls, err)
			}
			if len(sl.delays) != tt.wantCalls-1 {
				t.Errorf("sleeps = %d, want %d", len(sl.delays), tt.wantCalls-1)
			}
			nonces := map[string]bool{}
			for _, r := range reqs {
				nonces[r.Get("SignatureNonce")] = true
			}
			if len(nonces) != len(reqs) {
				t.Errorf("nonces reused across attempts: %d distinct of %d", len(nonces), len(reqs))
			}
			switch {
			case tt.wantNet:
				var ne *NetworkError
				if !errors.As(err, &ne) {
					t.Fatalf("err = %v, want *NetworkError", err)
				}
			case tt.wantCode != "":
				if got := ErrorCode(err); got != tt.wantCode {
					t.Fatalf("code = %q (err %v), want %q", got, err, tt.wantCode)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if id.IdentityType != IdentityRAMUser || id.AccountID != "1234567890123456" || id.Arn != "acs:ram::1234567890123456:user/vault" {
					t.Fatalf("identity = %+v", id)
				}
			}
		})
	}
}

func TestBackoffCappedFullJitter(t *testing.T) {
	c := &Client{base: 100 * time.Millisecond, max: time.Second}
	for attempt := 0; attempt < 40; attempt++ {
		ceil := time.Second
		if attempt < 4 {
			ceil = 100 * time.Millisecond << uint(attempt)
		}
		for i := 0; i < 50; i++ {
			if d := c.backoff(attempt); d < 0 || d >= ceil {
				t.Fatalf("attempt %d: delay %v outside [0,%v)", attempt, d, ceil)
			}
		}
	}
}

func TestRetryHonoursContextDeadline(t *testing.T) {
	rc := &recorder{t: t, secret: "s3cr3t", replies: []func(http.ResponseWriter){
		apiError(503, "ServiceUnavailable", "a"), apiError(503, "ServiceUnavailable", "b"),
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c, err := NewClient(Options{
		Credentials:    StaticCredentials(Credentials{AccessKeyID: "id", AccessKeySecret: "s3cr3t"}),
		Endpoints:      map[Product]string{STS: srv.URL},
		MaxRetries:     5,
		RetryBaseDelay: time.Hour, RetryMaxDelay: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.GetCallerIdentity(ctx)
	if ErrorCode(err) != "ServiceUnavailable" {
		t.Fatalf("err = %v", err)
	}
	// A backoff that would end after the deadline (almost always, with an hour
	// ceiling) stops the retries at once; a tiny random delay may allow one more.
	if n := len(rc.requests()); n > 2 {
		t.Fatalf("calls = %d, want at most 2", n)
	}
}

func TestSecurityTokenSignedAndErrorsScrubbed(t *testing.T) {
	const token = "CAISsecret-security-token-value"
	const secret = "the-access-key-secret"
	rc := &recorder{t: t, secret: secret}
	rc.replies = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		reqs := rc.requests()
		sts := StringToSign("POST", reqs[len(reqs)-1])
		apiError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:"+sts)(w)
	}, apiError(403, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired: "+token)}
	c, _ := newTestClient(t, rc, Credentials{AccessKeyID: "STS.id", AccessKeySecret: secret, SecurityToken: token}, 3)

	for i := 0; i < 2; i++ {
		_, err := c.GetCallerIdentity(context.Background())
		if err == nil {
			t.Fatal("want error")
		}
		msg := err.Error()
		if strings.Contains(msg, token) || strings.Contains(msg, PercentEncode(token)) || strings.Contains(msg, secret) {
			t.Fatalf("error leaks a secret: %s", msg)
		}
		if !strings.Contains(msg, "RequestId: REQ-") {
			t.Errorf("error lacks RequestId: %s", msg)
		}
	}
	reqs := rc.requests()
	if got := reqs[0].Get("SecurityToken"); got != token {
		t.Fatalf("SecurityToken = %q", got)
	}
	if reqs[0].Get("SignatureMethod") != "HMAC-SHA1" || reqs[0].Get("SignatureVersion") != "1.0" || reqs[0].Get("Format") != "JSON" {
		t.Fatalf("common params: %v", reqs[0])
	}
	if _, err := time.Parse(TimeLayout, reqs[0].Get("Timestamp")); err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
}

func TestNetworkErrorHidesParameters(t *testing.T) {
	const token = "CAIS-network-token"
	c, err := NewClient(Options{
		Credentials: StaticCredentials(Credentials{AccessKeyID: "STS.x", AccessKeySecret: "sec", SecurityToken: token}),
		Endpoints:   map[Product]string{STS: "http://127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AssumeRole(context.Background(), AssumeRoleInput{RoleArn: "acs:ram::1:role/r", RoleSessionName: "s1"})
	var ne *NetworkError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "RoleArn") {
		t.Fatalf("network error shows parameters: %v", err)
	}
	if !IsRetryable(err) {
		t.Fatal("network errors are retryable")
	}
}

func TestAnonymousOIDCCall(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.payload-of-the-token.signature"
	rc := &recorder{t: t, replies: []func(http.ResponseWriter){
		okBody(`{"RequestId":"R","Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"s","SecurityToken":"CAIS","Expiration":"2030-01-02T03:04:05Z"},"AssumedRoleUser":{"AssumedRoleId":"300:sess","Arn":"acs:ram::1:role/r/sess"},"OIDCTokenInfo":{"Subject":"sub","Issuer":"iss","ClientIds":"sts.aliyuncs.com"}}`),
		apiError(400, "AuthenticationFail.OIDCToken.Invalid", "bad token "+jwt),
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c, err := NewClient(Options{Endpoints: map[Product]string{STS: srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	in := AssumeRoleWithOIDCInput{RoleArn: "acs:ram::1:role/r", OIDCProviderArn: "acs:ram::1:oidc-provider/p", OIDCToken: jwt, RoleSessionName: "sess", DurationSeconds: 900}
	out, err := c.AssumeRoleWithOIDC(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if !out.Credentials.Expiration.Equal(want) || out.Credentials.AccessKeyID != "STS.abc" || out.OIDCTokenInfo.Subject != "sub" {
		t.Fatalf("out = %+v", out)
	}
	r := rc.requests()[0]
	for _, k := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SecurityToken"} {
		if r.Has(k) {
			t.Errorf("anonymous call sent %s", k)
		}
	}
	if r.Get("OIDCToken") != jwt || r.Get("DurationSeconds") != "900" || r.Get("Action") != "AssumeRoleWithOIDC" {
		t.Errorf("params = %v", r)
	}
	_, err = c.AssumeRoleWithOIDC(context.Background(), in)
	if err == nil || strings.Contains(err.Error(), jwt) {
		t.Fatalf("error leaks the OIDC token: %v", err)
	}
	if _, err := (&Client{endpoints: c.endpoints, clock: time.Now, sleep: SleepContext, http: c.http}).GetCallerIdentity(context.Background()); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("signed call without credentials: %v", err)
	}
}

func TestDefaultEndpoints(t *testing.T) {
	tests := []struct {
		region string
		vpc    bool
		p      Product
		want   string
	}{
		{"", false, STS, "https://sts.aliyuncs.com"},
		{"cn-hangzhou", false, STS, "https://sts.cn-hangzhou.aliyuncs.com"},
		{"cn-hangzhou", true, STS, "https://sts-vpc.cn-hangzhou.aliyuncs.com"},
		{"cn-hangzhou", true, RAM, "https://ram.aliyuncs.com"},
		{"", false, RAM, "https://ram.aliyuncs.com"},
		// Regions whose STS endpoint Alibaba's endpoint data names (the
		// Go SDK's services/sts/endpoint.go, the Tea SDKs' endpoint map):
		// the map wins over the regional rule, also for VPC.
		{"cn-hangzhou-finance", false, STS, "https://sts.aliyuncs.com"},
		{"cn-hangzhou-finance", true, STS, "https://sts.aliyuncs.com"},
		{"cn-beijing-finance-1", false, STS, "https://sts.aliyuncs.com"},
		{"cn-shenzhen-finance-1", false, STS, "https://sts-vpc.cn-shenzhen-finance-1.aliyuncs.com"},
		{"cn-north-2-gov-1", false, STS, "https://sts-vpc.cn-north-2-gov-1.aliyuncs.com"},
		{"cn-wuhan", false, STS, "https://sts.aliyuncs.com"},
		{"cn-shanghai-finance-1", false, STS, "https://sts.cn-shanghai-finance-1.aliyuncs.com"},
	}
	for _, tt := range tests {
		c, err := NewClient(Options{Region: tt.region, UseVPCEndpoint: tt.vpc})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Endpoint(tt.p); got != tt.want+"/" {
			t.Errorf("%s region=%q vpc=%v: %s, want %s/", tt.p, tt.region, tt.vpc, got, tt.want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://h/?q=1", "http://[::1"} {
		if _, err := NewClient(Options{Endpoints: map[Product]string{STS: bad}}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
	if _, err := NewClient(Options{UseVPCEndpoint: true}); err == nil {
		t.Error("vpc without region accepted")
	}
	c, err := NewClient(Options{Endpoints: map[Product]string{STS: "sts.example.internal:8443"}})
	if err != nil || c.Endpoint(STS) != "https://sts.example.internal:8443/" {
		t.Errorf("scheme-less endpoint: %v %v", c, err)
	}
}

func TestErrorClassification(t *testing.T) {
	mk := func(status int, code string) error {
		return fmt.Errorf("wrapped: %w", &Error{StatusCode: status, Code: code})
	}
	tests := []struct {
		err                                             error
		notFound, throttle, conflict, limit, denied, re bool
	}{
		{mk(404, "EntityNotExist.User"), true, false, false, false, false, false},
		{mk(404, "InvalidAccessKeyId.NotFound"), false, false, false, false, false, false},
		{mk(404, ""), false, false, false, false, false, false},
		{mk(404, "InvalidAction.NotFound"), false, false, false, false, false, false},
		{mk(429, "Throttling.User"), false, true, false, false, false, true},
		{mk(400, "Throttling"), false, true, false, false, false, true},
		{mk(409, "EntityAlreadyExists.User"), false, false, true, false, false, false},
		{mk(409, "DeleteConflict.User.AccessKey"), false, false, true, false, false, false},
		{mk(409, "LimitExceeded.User.AccessKey"), false, false, false, true, false, false},
		{mk(403, "NoPermission"), false, false, false, false, true, false},
		{mk(403, "Forbidden.RAM"), false, false, false, false, true, false},
		{mk(503, "ServiceUnavailable"), false, false, false, false, false, true},
		{mk(502, ""), false, false, false, false, false, true},
		{errors.New("plain"), false, false, false, false, false, false},
	}
	for _, tt := range tests {
		got := []bool{IsEntityNotExist(tt.err), IsThrottling(tt.err), IsConflict(tt.err), IsLimitExceeded(tt.err), IsAccessDenied(tt.err), IsRetryable(tt.err)}
		want := []bool{tt.notFound, tt.throttle, tt.conflict, tt.limit, tt.denied, tt.re}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%v: classification %d = %v, want %v", tt.err, i, got[i], want[i])
			}
		}
	}
	e := &Error{StatusCode: 409, Code: "EntityAlreadyExists.User", Message: "exists", RequestID: "R-1", Product: "ram", Action: "CreateUser"}
	if got := e.Error(); got != "aliyun: ram CreateUser: EntityAlreadyExists.User (HTTP 409): exists (RequestId: R-1)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestNonAPIErrorBody(t *testing.T) {
	rc := &recorder{t: t, secret: "s", replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		w.Header().Set("x-acs-request-id", "HDR-REQ")
		w.WriteHeader(502)
		fmt.Fprint(w, "<html>bad gateway</html>")
	}, okBody(`{"RequestId":"R","IdentityType":"Account","AccountId":"1"}`)}}
	c, _ := newTestClient(t, rc, Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, -1)
	_, err := c.GetCallerIdentity(context.Background())
	var ae *Error
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Code != "ServiceUnavailable" || ae.RequestID != "HDR-REQ" {
		t.Fatalf("err = %#v", err)
	}
}

func TestUserAgent(t *testing.T) {
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	c, _ := NewClient(Options{Credentials: StaticCredentials(Credentials{AccessKeyID: "a", AccessKeySecret: "b"}), Endpoints: map[Product]string{STS: srv.URL}, UserAgent: "extra/1"})
	if _, err := c.GetCallerIdentity(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "vault-plugin-secrets-alicloud/") || !strings.HasSuffix(ua, " extra/1") {
		t.Fatalf("User-Agent = %q", ua)
	}
}

// TestCredentialsRejected: a call the service refuses for its credentials is
// sent once more when the credentials source, told of the refusal, offers
// different ones, and never more than once.
func TestCredentialsRejected(t *testing.T) {
	tests := []struct {
		name string
		// renew: whether the source hands out new credentials once told.
		renew, hook bool
		// refuseNew: the service refuses the new credentials as well.
		refuseNew    bool
		wantRequests int
		wantErr      bool
	}{
		{"renewed credentials accepted", true, true, false, 2, false},
		{"source offers the same credentials", false, true, false, 1, true},
		{"no hook", true, false, false, 1, true},
		{"renewed credentials refused too", true, true, true, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				_ = r.ParseForm()
				if tok := r.Form.Get("SecurityToken"); tok == "old-token" || (tc.refuseNew && tok == "new-token") {
					w.WriteHeader(http.StatusForbidden)
					_, _ = w.Write([]byte(`{"RequestId":"R1","Code":"InvalidSecurityToken.Expired","Message":"Specified SecurityToken is expired."}`))
					return
				}
				_, _ = w.Write([]byte(`{"RequestId":"R2"}`))
			}))
			defer srv.Close()
			var told []Credentials
			var mu sync.Mutex
			current := Credentials{AccessKeyID: "STS.old", AccessKeySecret: "old-secret", SecurityToken: "old-token"}
			o := Options{
				Credentials: func(context.Context) (Credentials, error) {
					mu.Lock()
					defer mu.Unlock()
					return current, nil
				},
				Endpoints:  map[Product]string{STS: srv.URL},
				MaxRetries: 3,
				Sleep:      func(context.Context, time.Duration) error { return nil },
			}
			if tc.hook {
				o.CredentialsRejected = func(c Credentials) {
					mu.Lock()
					defer mu.Unlock()
					told = append(told, c)
					if tc.renew {
						current = Credentials{AccessKeyID: "STS.new", AccessKeySecret: "new-secret", SecurityToken: "new-token"}
					}
				}
			}
			c, err := NewClient(o)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetCallerIdentity(context.Background())
			if (err != nil) != tc.wantErr || (err != nil && !IsAuthFailure(err)) {
				t.Fatalf("error %v, want an auth failure: %v", err, tc.wantErr)
			}
			if n := int(requests.Load()); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
			if tc.hook && (len(told) != 1 || told[0].SecurityToken != "old-token") {
				t.Errorf("hook told %d times (%v), want once about the old token", len(told), len(told))
			}
		})
	}
}

// TestCreatesNotRetriedWhenTheyMayHaveApplied: a create whose answer was lost
// or that failed with a 5xx may have been carried out; sending it again
// would create a second entity or hide the first behind EntityAlreadyExists.
// Refusals that say nothing was done (throttling) are retried as usual.
func TestCreatesNotRetriedWhenTheyMayHaveApplied(t *testing.T) {
	created := okBody(`{"RequestId":"R1","AccessKey":{"AccessKeyId":"LTAInew","AccessKeySecret":"new-secret","Status":"Active"}}`)
	tests := []struct {
		name      string
		replies   []func(http.ResponseWriter)
		wantCalls int
		wantMay   bool
	}{
		{"lost answer", []func(http.ResponseWriter){dropConnection, created}, 1, true},
		{"internal error", []func(http.ResponseWriter){apiError(500, "InternalError", "oops"), created}, 1, true},
		{"service unavailable", []func(http.ResponseWriter){apiError(503, "ServiceUnavailable", "x"), created}, 1, true},
		{"throttled then created", []func(http.ResponseWriter){apiError(429, "Throttling.User", "x"), created}, 2, false},
		{"conflict", []func(http.ResponseWriter){apiError(409, "LimitExceeded.User.AccessKey", "two"), created}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recorder{t: t, secret: "sekret-value", replies: tt.replies}
			c, _ := newTestClient(t, rc, Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "sekret-value"}, 3)
			key, err := c.CreateAccessKey(context.Background(), "app")
			if n := len(rc.requests()); n != tt.wantCalls {
				t.Fatalf("calls = %d, want %d (err %v)", n, tt.wantCalls, err)
			}
			if tt.wantCalls == 2 {
				if err != nil || key.AccessKeyID != "LTAInew" {
					t.Fatalf("key %+v, err %v", key, err)
				}
				return
			}
			if err == nil {
				t.Fatal("CreateAccessKey succeeded")
			}
			if got := MayHaveApplied(err); got != tt.wantMay {
				t.Fatalf("MayHaveApplied(%v) = %v, want %v", err, got, tt.wantMay)
			}
		})
	}

	// Reads are still retried after a lost answer.
	rc := &recorder{t: t, secret: "s", replies: []func(http.ResponseWriter){dropConnection, okBody(`{"RequestId":"R","AccessKeys":{"AccessKey":[]}}`)}}
	c, _ := newTestClient(t, rc, Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "s"}, 3)
	if _, err := c.ListAccessKeys(context.Background(), "app"); err != nil || len(rc.requests()) != 2 {
		t.Fatalf("ListAccessKeys: err %v after %d calls, want a retry", err, len(rc.requests()))
	}

	// A connection that cannot be made sent nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c2, err := NewClient(Options{
		Credentials: StaticCredentials(Credentials{AccessKeyID: "LTAIkey", AccessKeySecret: "s"}),
		Endpoints:   map[Product]string{RAM: "http://" + addr},
		MaxRetries:  -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.CreateAccessKey(context.Background(), "app"); err == nil || MayHaveApplied(err) {
		t.Fatalf("refused connection: err %v, MayHaveApplied %v, want an error that did not apply", err, MayHaveApplied(err))
	}
}
