package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSessionDocuments runs malformed and unexpected credentials documents
// through the ECS and credentials URI providers.
func TestSessionDocuments(t *testing.T) {
	const good = `"AccessKeyId":"STS.abc","AccessKeySecret":"DocSecret77","SecurityToken":"DocToken88","Expiration":"2030-01-01T00:00:00Z"`
	tests := []struct {
		name    string
		status  int
		body    string
		ecsErr  string // "" means success
		uriErr  string
		secrets []string
	}{
		{name: "valid", status: 200, body: `{"Code":"Success",` + good + `,"LastUpdated":"2029-12-31T18:00:00Z"}`},
		{name: "valid without Code", status: 200, body: `{` + good + `}`,
			ecsErr: "the answer's Code is (none), not Success"},
		{name: "fractional expiration", status: 200,
			body: `{"Code":"Success","AccessKeyId":"a","AccessKeySecret":"b","SecurityToken":"c","Expiration":"2030-01-01T00:00:00.5Z"}`},
		{name: "failure code", status: 200,
			body: `{"Code":"Failed","Message":"role DocSecret77 is detached",` + good + `}`,
			// credentials-go ignores Code in a credentials URI's answer.
			ecsErr: "the answer's Code is Failed, not Success: role [redacted] is detached", secrets: []string{"DocSecret77"}},
		{name: "missing fields", status: 200, body: `{"Code":"Success","AccessKeyId":"a"}`,
			ecsErr: "the credentials document has no AccessKeySecret, SecurityToken, Expiration",
			uriErr: "the credentials document has no AccessKeySecret, SecurityToken, Expiration"},
		{name: "bad expiration", status: 200,
			body:   `{"Code":"Success","AccessKeyId":"a","AccessKeySecret":"DocSecret77","SecurityToken":"c","Expiration":"tomorrow"}`,
			ecsErr: `the credentials document's Expiration: invalid time "tomorrow"`, uriErr: "Expiration: invalid time", secrets: []string{"DocSecret77"}},
		{name: "not JSON", status: 200, body: `<html>DocSecret77</html>`,
			ecsErr: "the answer is not a credentials document: invalid JSON at offset 1", uriErr: "invalid JSON", secrets: []string{"DocSecret77"}},
		{name: "wrong type", status: 200, body: `{"Code":"Success","AccessKeyId":5}`,
			ecsErr: "field AccessKeyId has the wrong type (number)", uriErr: "field AccessKeyId has the wrong type"},
		{name: "error status with JSON body", status: 500, body: `{"Code":"InternalError","Message":"try later",` + good + `}`,
			ecsErr: "HTTP 500 from the metadata service: InternalError: try later", uriErr: "HTTP 500 from 127.0.0.1",
			secrets: []string{"DocSecret77", "DocToken88"}},
		{name: "error status with text body", status: 503, body: "upstream\n  overloaded",
			ecsErr: "HTTP 503 from the metadata service: response is not an Alibaba Cloud API error (content-type text/plain, 21 bytes)",
			uriErr: "HTTP 503 from 127.0.0.1", secrets: []string{"overloaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == metadataTokenPath {
					fmt.Fprint(w, "md-token-value")
					return
				}
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			ecs, _ := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "r", MetadataEndpoint: srv.URL})
			uri, _ := NewCredentialsURI(CredentialsURIOptions{URL: srv.URL + "/creds"})
			for _, pc := range []struct {
				p       Provider
				wantErr string
				source  string
			}{{ecs, tt.ecsErr, "ecs_ram_role"}, {uri, tt.uriErr, "credentials_uri"}} {
				c, err := pc.p.Retrieve(context.Background())
				if pc.wantErr == "" {
					if err != nil {
						t.Fatalf("%s: %v", pc.source, err)
					}
					if c.Source != pc.source || c.AccessKeyID == "" || c.Expiration.IsZero() {
						t.Errorf("%s: credentials = %v", pc.source, c)
					}
					continue
				}
				if err == nil {
					t.Fatalf("%s: got %v, want an error", pc.source, c)
				}
				mustContain(t, err.Error(), pc.source+": ", pc.wantErr)
				mustNotContain(t, err.Error(), tt.secrets...)
			}
		})
	}
}

// TestMetadataTokenNeverInErrors: a metadata service that echoes the token
// in its JSON error's Message must not get it into the error text.
func TestMetadataTokenNeverInErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if r.Header.Get(metadataTokenTTLHeader) != "300" {
				t.Errorf("token TTL header = %q, want 300", r.Header.Get(metadataTokenTTLHeader))
			}
			fmt.Fprint(w, "SessionTokenXYZ123\n")
			return
		}
		// The request is sent with the token, then once without (the fallback).
		if got := r.Header.Get(metadataTokenHeader); got != "SessionTokenXYZ123" && got != "" {
			t.Errorf("token header = %q", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"Code":"Forbidden","Message":"bad token %s"}`, r.Header.Get(metadataTokenHeader))
	}))
	defer srv.Close()
	p, _ := NewECSRAMRole(ECSRAMRoleOptions{MetadataEndpoint: srv.URL})
	_, err := p.Retrieve(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, err.Error(), "HTTP 403", "bad token [redacted]")
	mustNotContain(t, err.Error(), "SessionTokenXYZ123")
}

func TestECSRAMRoleTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			fmt.Fprint(w, "tok")
			return
		}
		<-block
	}))
	defer srv.Close()
	defer close(block)
	p, _ := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "r", MetadataEndpoint: srv.URL, Timeout: 50 * time.Millisecond})
	_, err := p.Retrieve(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	mustContain(t, err.Error(), `ecs_ram_role: credentials of role "r": metadata service at 127.0.0.1`)
}

func TestNewEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    Credentials
		wantErr string
		notConf bool
	}{
		{env: map[string]string{EnvAccessKeyID: "LTAI", EnvAccessKeySecret: "s"},
			want: Credentials{AccessKeyID: "LTAI", AccessKeySecret: "s", Source: "env/access_key"}},
		{env: map[string]string{EnvAccessKeyID: "STS.a", EnvAccessKeySecret: "s", EnvSecurityToken: "t"},
			want: Credentials{AccessKeyID: "STS.a", AccessKeySecret: "s", SecurityToken: "t", Source: "env/sts"}},
		{env: nil, wantErr: "env: no credentials configured: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set", notConf: true},
		{env: map[string]string{EnvAccessKeySecret: "EnvSecret1"}, wantErr: "env: ALIBABA_CLOUD_ACCESS_KEY_SECRET is set but ALIBABA_CLOUD_ACCESS_KEY_ID is not"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			p, err := NewEnv(EnvOptions{Getenv: envMap(tt.env)})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if errors.Is(err, ErrNotConfigured) != tt.notConf {
					t.Errorf("errors.Is(ErrNotConfigured) = %v", !tt.notConf)
				}
				mustNotContain(t, err.Error(), "EnvSecret1")
				return
			}
			if err != nil || c != tt.want {
				t.Errorf("got %#v, %v; want %#v", c, err, tt.want)
			}
		})
	}
}

// TestProvidersPrintWithoutSecrets: providers and caches print their kind
// and target, never their secrets.
func TestProvidersPrintWithoutSecrets(t *testing.T) {
	ak, _ := NewAccessKey(AccessKeyOptions{AccessKeyID: "LTAIid", AccessKeySecret: "PrintSecret1"})
	sts, _ := NewSTS(STSOptions{AccessKeyID: "STS.id", AccessKeySecret: "PrintSecret1", SecurityToken: "PrintToken2"})
	bearer, _ := NewBearer(BearerOptions{BearerToken: "PrintToken2"})
	role, _ := NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: testRoleARN})
	oidc, _ := NewOIDCRoleARN(OIDCRoleARNOptions{RoleARN: testRoleARN, OIDCProviderARN: "acs:ram::1:oidc-provider/p", OIDCTokenFile: "/t"})
	ecs, _ := NewECSRAMRole(ECSRAMRoleOptions{})
	ecsNamed, _ := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "R", MetadataEndpoint: "http://127.0.0.1:9"})
	uri, _ := NewCredentialsURI(CredentialsURIOptions{URL: "http://127.0.0.1:9/c?sig=PrintToken2"})
	env, _ := NewEnv(EnvOptions{Getenv: envMap(nil)})
	chain, _ := NewDefaultChain(DefaultChainOptions{Getenv: envMap(map[string]string{EnvAccessKeyID: "a", EnvAccessKeySecret: "PrintSecret1"}), HomeDir: "/nonexistent"})
	empty, _ := NewDefaultChain(DefaultChainOptions{Getenv: envMap(nil), HomeDir: "/nonexistent"})
	tests := []struct {
		p    any
		want string
	}{
		{ak, "access_key provider (LTAIid)"},
		{sts, "sts provider (STS.id)"},
		{bearer, "bearer provider"},
		{role, "ram_role_arn provider (" + testRoleARN + ")"},
		{oidc, "oidc_role_arn provider (" + testRoleARN + ")"},
		{ecs, "ecs_ram_role provider (discovered role at 100.100.100.200)"},
		{ecsNamed, "ecs_ram_role provider (R at 127.0.0.1:9)"},
		{uri, "credentials_uri provider (127.0.0.1:9)"},
		{env, "env provider"},
		{chain, "default chain using env"},
		{empty, "default chain (nothing configured)"},
		{NewCache(role, CacheOptions{}), "cache of ram_role_arn provider (" + testRoleARN + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
				got := fmt.Sprintf(verb, tt.p)
				if (verb == "%v" || verb == "%s") && got != tt.want {
					t.Errorf("%s = %q, want %q", verb, got, tt.want)
				}
				mustNotContain(t, got, "PrintSecret1", "PrintToken2")
			}
		})
	}
}
