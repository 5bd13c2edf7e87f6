package emulator

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// signedAssumeRole builds one signed AssumeRole request the way
// credentials-go sends it: common parameters in the query, API parameters in
// the form body.
func signedAssumeRole(now time.Time, nonce string) *http.Request {
	return signedAssumeRoleBody(now, nonce, nil)
}

// signedAssumeRoleBody is signedAssumeRole with extra form parameters.
func signedAssumeRoleBody(now time.Time, nonce string, extra url.Values) *http.Request {
	q := url.Values{
		"Format": {"JSON"}, "Version": {"2015-04-01"}, "Action": {"AssumeRole"},
		"AccessKeyId": {callerKeyID}, "SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"},
		"SignatureNonce": {nonce}, "Timestamp": {now.UTC().Format(timeFormat)},
	}
	body := url.Values{"RoleArn": {appRoleARN()}, "RoleSessionName": {"bench"}, "DurationSeconds": {"900"}}
	for k, v := range extra {
		body[k] = v
	}
	all := url.Values{}
	for k, v := range q {
		all[k] = v
	}
	for k, v := range body {
		all[k] = v
	}
	q.Set("Signature", aliyun.Sign(callerSecret, aliyun.StringToSign(http.MethodPost, all)))
	req := httptest.NewRequest(http.MethodPost, "/?"+q.Encode(), strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// BenchmarkAssumeRole measures one signed AssumeRole request (signing,
// signature check, nonce, authorization, trust, session issue, JSON response)
// through ServeHTTP. The clock advances one second per request so sessions
// expire and get pruned as in a long run.
func BenchmarkAssumeRole(b *testing.B) {
	e, clock := newTestEmulator(b, trustSeed())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		clock.Advance(time.Second)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, signedAssumeRole(clock.Now(), "bench-"+strconv.Itoa(i)))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkAssumeRoleParallel is BenchmarkAssumeRole from GOMAXPROCS goroutines.
func BenchmarkAssumeRoleParallel(b *testing.B) {
	e, clock := newTestEmulator(b, trustSeed())
	var seq atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if n%64 == 0 {
				clock.Advance(time.Second)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, signedAssumeRole(clock.Now(), "p-"+strconv.FormatInt(n, 10)))
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body.String())
				return
			}
		}
	})
}

// BenchmarkSignedCallerIdentity measures the signature check alone (a signed
// call with no state change).
func BenchmarkSignedCallerIdentity(b *testing.B) {
	e, clock := newTestEmulator(b, trustSeed())
	c := e.keyClient(b, callerKeyID, callerSecret)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			clock.Advance(time.Second)
		}
		c.nonce = "gci-" + strconv.Itoa(i)
		if res := c.call("GetCallerIdentity"); res.status != http.StatusOK {
			b.Fatalf("status %d: %s", res.status, res.raw)
		}
	}
}

// BenchmarkAssumeRoleWithPolicy is BenchmarkAssumeRole with an inline session
// policy, as the engine sends for roles with inline policies.
func BenchmarkAssumeRoleWithPolicy(b *testing.B) {
	e, clock := newTestEmulator(b, trustSeed())
	const policy = `{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject","oss:ListObjects"],"Resource":["acs:oss:*:*:bucket-a","acs:oss:*:*:bucket-a/*"]}]}`
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		clock.Advance(time.Second)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, signedAssumeRoleBody(clock.Now(), "bench-"+strconv.Itoa(i), url.Values{"Policy": {policy}}))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}
