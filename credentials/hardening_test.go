package credentials

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const goodDoc = `{"Code":"Success","AccessKeyId":"STS.redir","AccessKeySecret":"RedirSecret","SecurityToken":"RedirToken","Expiration":"2030-01-01T00:00:00Z"}`

// TestCredentialsURIRedirects: the credentials URI client follows a redirect
// only to the same scheme, host and port, with or without an injected client.
func TestCredentialsURIRedirects(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		fmt.Fprint(w, goodDoc)
	}))
	defer foreign.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/doc", http.StatusTemporaryRedirect)
		case "/doc":
			fmt.Fprint(w, goodDoc)
		default:
			http.Redirect(w, r, foreign.URL+"/doc?x=LOCATION-SECRET", http.StatusFound)
		}
	}))
	defer origin.Close()
	for _, injected := range []bool{false, true} {
		t.Run(fmt.Sprintf("injected=%v", injected), func(t *testing.T) {
			var hc *http.Client
			if injected {
				hc = &http.Client{Timeout: 5 * time.Second}
			}
			p, err := NewCredentialsURI(CredentialsURIOptions{URL: origin.URL + "/same", HTTPClient: hc})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if err != nil || c.AccessKeyID != "STS.redir" {
				t.Fatalf("same-origin redirect: %v, %v", c, err)
			}
			p, _ = NewCredentialsURI(CredentialsURIOptions{URL: origin.URL + "/foreign", HTTPClient: hc})
			c, err = p.Retrieve(context.Background())
			if err == nil {
				t.Fatalf("a redirect to another host was followed: %v", c)
			}
			if n := foreignHits.Load(); n != 0 {
				t.Errorf("the other host got %d requests", n)
			}
			mustContain(t, err.Error(), "credentials_uri: ", "302")
			mustNotContain(t, err.Error(), "LOCATION-SECRET")
			if injected && hc.CheckRedirect != nil {
				t.Error("the caller's http.Client was modified")
			}
		})
	}
}

// TestECSMetadataInjectedClientDoesNotRedirect: an injected client is used
// without following redirects, as the built-in one is.
func TestECSMetadataInjectedClientDoesNotRedirect(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		fmt.Fprint(w, goodDoc)
	}))
	defer foreign.Close()
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == metadataTokenPath {
			fmt.Fprint(w, "md-token-value")
			return
		}
		http.Redirect(w, r, foreign.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer md.Close()
	p, err := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "r", MetadataEndpoint: md.URL, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := p.Retrieve(context.Background()); err == nil {
		t.Fatalf("redirect followed: %v", c)
	}
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests (with the metadata token)", n)
	}
}

// TestUpstreamBodiesNeverEchoed: a non-200 answer whose body is not a JSON
// error document appears in the error as its status, type and size only.
func TestUpstreamBodiesNeverEchoed(t *testing.T) {
	const secret = "INTERNAL-ADMIN-PAGE-1234"
	tests := []struct {
		name, ctype, body string
		want              []string
	}{
		{"html", "text/html; charset=utf-8", "<html><body>" + secret + "</body></html>", []string{"HTTP 403", "not an Alibaba Cloud API error", "text/html", "bytes"}},
		{"text", "text/plain", secret + "\n", []string{"HTTP 403", "not an Alibaba Cloud API error", "text/plain"}},
		{"json without Code", "application/json", `{"Message":"` + secret + `"}`, []string{"HTTP 403", "not an Alibaba Cloud API error"}},
		{"json error", "application/json", `{"Code":"Forbidden","Message":"role is gone","RequestId":"RQ-7"}`, []string{"HTTP 403", "Forbidden: role is gone", "RQ-7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if r.URL.Path == metadataTokenPath {
					fmt.Fprint(w, "md-token-value")
					return
				}
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			ecs, _ := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "r", MetadataEndpoint: srv.URL})
			uri, _ := NewCredentialsURI(CredentialsURIOptions{URL: srv.URL + "/creds"})
			for _, p := range []Provider{ecs, uri} {
				_, err := p.Retrieve(context.Background())
				if err == nil {
					t.Fatalf("%v: no error", p)
				}
				mustContain(t, err.Error(), tt.want...)
				mustNotContain(t, err.Error(), secret, "md-token-value")
				if strings.Contains(err.Error(), "<html") {
					t.Errorf("%v: %v", p, err)
				}
			}
		})
	}
}

func TestCredentialsNeverFormatSecrets(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAI5tKeyId", AccessKeySecret: "SuperSecretValue", SecurityToken: "TokenValueXYZ", BearerToken: "BearerValueQQ", Source: "static"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		for _, arg := range []any{c, &c, []Credentials{c}, struct{ C Credentials }{c}} {
			out := fmt.Sprintf(verb, arg)
			for _, s := range []string{"SuperSecretValue", "TokenValueXYZ", "BearerValueQQ", fmt.Sprintf("%x", "SuperSecretValue"), fmt.Sprintf("%X", "SuperSecretValue")} {
				if strings.Contains(out, s) {
					t.Errorf("%s of %T: %s", verb, arg, out)
				}
			}
		}
	}
	if out := fmt.Sprintf("%+v", c); !strings.Contains(out, "LTAI5tKeyId") || !strings.Contains(out, redacted) {
		t.Errorf("%%+v = %s", out)
	}
}

// TestParseINIProfileHasOnlyItsOwnKeys: ini.v1 treats [prod.readonly] as a
// child of [prod] and lets it inherit [prod]'s keys; a profile must have
// only the keys written in its own section.
func TestParseINIProfileHasOnlyItsOwnKeys(t *testing.T) {
	data := []byte(`[prod]
type = access_key
access_key_id = LTAIprodAdmin
access_key_secret = ProdAdminSecret

[prod.readonly]
type = ram_role_arn
role_arn = acs:ram::1234567890123456:role/reader
`)
	s, err := parseINI(data, "prod.readonly")
	if err == nil {
		if s.accessKeyID != "" || s.accessKeySecret != "" {
			t.Fatalf("[prod.readonly] inherited [prod]'s key %q", s.accessKeyID)
		}
		return
	}
	mustNotContain(t, err.Error(), "ProdAdminSecret")
	s, err = parseINI(data, "prod")
	if err != nil || s.accessKeyID != "LTAIprodAdmin" {
		t.Fatalf("[prod]: %v, %v", s, err)
	}
}

// TestECSDiscoveredRoleNameNotEchoed: with role discovery, the first line
// of the metadata answer is the role name; an answer that is not a RAM role
// name (an internal page behind a config writer's metadata_endpoint) must
// not reach the error text.
func TestECSDiscoveredRoleNameNotEchoed(t *testing.T) {
	const secret = "INTERNAL-PAGE-LINE-777"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == metadataTokenPath {
			fmt.Fprint(w, "md-token-value")
			return
		}
		if r.URL.Path == metadataCredentialsPath {
			fmt.Fprint(w, "<html><title>"+secret+"</title>\n")
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	p, _ := NewECSRAMRole(ECSRAMRoleOptions{MetadataEndpoint: srv.URL})
	_, err := p.Retrieve(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, err.Error(), "discovering the instance's role", "not a RAM role name")
	mustNotContain(t, err.Error(), secret, "<html>")
}
