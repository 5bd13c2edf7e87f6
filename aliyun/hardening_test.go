package aliyun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sink is a second server that a redirect points to; it records whether
// anything reached it and whether it saw signed material.
type sink struct {
	hits      atomic.Int32
	sawSecret atomic.Bool
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	if strings.Contains(string(b), "Signature") || strings.Contains(string(b), "OIDCToken") ||
		strings.Contains(string(b), "AccessKeyId") || strings.Contains(string(b), "SecurityToken") {
		s.sawSecret.Store(true)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"RequestId":"SINK","IdentityType":"Account","AccountId":"1","Credentials":{"AccessKeyId":"STS.x","AccessKeySecret":"y","SecurityToken":"z","Expiration":"2030-01-01T00:00:00Z"}}`)
}

func TestRedirectsAreNeverFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, injected := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/injected=%v", status, injected), func(t *testing.T) {
				sk := &sink{}
				target := httptest.NewServer(sk)
				defer target.Close()
				origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/?leak=LOCATION-CONTENT", status)
				}))
				defer origin.Close()
				o := Options{
					Credentials: StaticCredentials(Credentials{AccessKeyID: "LTAIkeyid", AccessKeySecret: "topsecret", SecurityToken: "tokentoken"}),
					Endpoints:   map[Product]string{STS: origin.URL},
					MaxRetries:  -1,
				}
				var hc *http.Client
				if injected {
					hc = &http.Client{Timeout: 5 * time.Second}
					o.HTTPClient = hc
				}
				c, err := NewClient(o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.GetCallerIdentity(context.Background())
				if err == nil {
					t.Fatal("a redirect was answered with success")
				}
				if n := sk.hits.Load(); n != 0 {
					t.Errorf("the redirect target got %d requests (secret material: %v)", n, sk.sawSecret.Load())
				}
				var ae *Error
				if !errors.As(err, &ae) || ae.StatusCode != status {
					t.Errorf("err = %v, want an *Error with HTTP %d", err, status)
				}
				if !strings.Contains(err.Error(), fmt.Sprint(status)) || !strings.Contains(err.Error(), "redirect refused") || strings.Contains(err.Error(), "LOCATION-CONTENT") {
					t.Errorf("error text %q: want the status and not the Location", err)
				}
				if injected && hc.CheckRedirect != nil {
					t.Error("the caller's http.Client was modified")
				}
			})
		}
	}
	t.Run("OIDC", func(t *testing.T) {
		sk := &sink{}
		target := httptest.NewServer(sk)
		defer target.Close()
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusPermanentRedirect)
		}))
		defer origin.Close()
		c, err := NewClient(Options{Endpoints: map[Product]string{STS: origin.URL}, MaxRetries: -1, HTTPClient: &http.Client{}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AssumeRoleWithOIDC(context.Background(), AssumeRoleWithOIDCInput{
			RoleArn: "acs:ram::1:role/r", OIDCProviderArn: "acs:ram::1:oidc-provider/p", OIDCToken: "eyJ.oidc.token", RoleSessionName: "s1",
		})
		if err == nil || sk.hits.Load() != 0 {
			t.Fatalf("err = %v, target hits = %d", err, sk.hits.Load())
		}
	})
}

func TestErrorBodyIsNeverEchoed(t *testing.T) {
	const secret = "INTERNAL-PAGE-SECRET-4242"
	tests := []struct {
		name        string
		status      int
		ctype, body string
		wantCode    string
		wantInText  []string
	}{
		{"html 502", 502, "text/html", "<html>" + secret + "</html>", "ServiceUnavailable", []string{"HTTP 502", "not an Alibaba Cloud API error", "text/html"}},
		{"text 403", 403, "text/plain", secret, "", []string{"HTTP 403", "not an Alibaba Cloud API error", fmt.Sprintf("%d bytes", len(secret))}},
		{"json without Code", 400, "application/json", `{"error":"` + secret + `"}`, "", []string{"HTTP 400", "not an Alibaba Cloud API error"}},
		{"api error", 400, "application/json", `{"RequestId":"R-9","Code":"InvalidParameter","Message":"bad thing"}`, "InvalidParameter", []string{"HTTP 400", "bad thing", "R-9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recorder{t: t, secret: "s", replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}}}
			c, _ := newTestClient(t, rc, Credentials{AccessKeyID: "id", AccessKeySecret: "s"}, -1)
			_, err := c.GetCallerIdentity(context.Background())
			var ae *Error
			if !errors.As(err, &ae) || ae.StatusCode != tt.status || ae.Code != tt.wantCode {
				t.Fatalf("err = %#v", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", ae), secret) {
				t.Errorf("the upstream body is echoed: %v", err)
			}
			for _, w := range tt.wantInText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
