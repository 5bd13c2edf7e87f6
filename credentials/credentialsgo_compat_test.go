package credentials

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// These tests pin behaviours where the official credentials-go (v1.4.14) is
// the reference: a document or a metadata service that it accepts, this
// package accepts too.

// TestCredentialsURIIgnoresCode: credentials-go's URI provider
// (providers/uri.go) decodes only AccessKeyId, AccessKeySecret,
// SecurityToken and Expiration and never looks at Code, so a sidecar that
// answers 200 with any Code works with it; it works here too. The HTTP status
// is what tells a failure.
func TestCredentialsURIIgnoresCode(t *testing.T) {
	const fields = `"AccessKeyId":"STS.code","AccessKeySecret":"CodeSecret1","SecurityToken":"CodeToken1","Expiration":"2030-01-01T00:00:00Z"`
	for _, code := range []string{`"Code":"Success",`, `"Code":"Failed",`, `"Code":"",`, `"Code":"OK",`, ``} {
		t.Run(code, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{`+code+fields+`}`)
			}))
			defer srv.Close()
			p, err := NewCredentialsURI(CredentialsURIOptions{URL: srv.URL + "/creds"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatalf("Retrieve: %v", err)
			}
			if c.AccessKeyID != "STS.code" || c.AccessKeySecret != "CodeSecret1" || c.SecurityToken != "CodeToken1" || c.Source != SourceCredentialsURI {
				t.Errorf("credentials = %v", c)
			}
		})
	}
}

// TestECSRAMRoleFallsBackAfterTokenRequestRefused: credentials-go
// (providers/ecs_ram_role.go, getWithFallback) sends a metadata GET with the
// token and, when that fails (a transport error or any status but 200),
// sends it again without the token unless IMDSv1 is disabled. Some
// instances hand out tokens but refuse them on the credentials path.
func TestECSRAMRoleFallsBackAfterTokenRequestRefused(t *testing.T) {
	const doc = `{"Code":"Success","AccessKeyId":"STS.fb","AccessKeySecret":"FbSecret1","SecurityToken":"FbToken1","Expiration":"2030-01-01T00:00:00Z"}`
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusInternalServerError} {
		for _, disable := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d disableIMDSv1=%v", status, disable), func(t *testing.T) {
				var mu sync.Mutex
				var seen []string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					seen = append(seen, r.Method+" "+r.URL.Path+" token="+fmt.Sprint(r.Header.Get(metadataTokenHeader) != ""))
					mu.Unlock()
					switch {
					case r.Method == http.MethodPut:
						fmt.Fprint(w, "FallbackMdToken")
					case r.Header.Get(metadataTokenHeader) != "":
						w.WriteHeader(status)
						fmt.Fprint(w, `{"Code":"Refused","Message":"token FallbackMdToken refused"}`)
					case r.URL.Path == metadataCredentialsPath:
						fmt.Fprint(w, "fbrole\n")
					default:
						fmt.Fprint(w, doc)
					}
				}))
				defer srv.Close()
				p, err := NewECSRAMRole(ECSRAMRoleOptions{MetadataEndpoint: srv.URL, DisableIMDSv1: disable})
				if err != nil {
					t.Fatal(err)
				}
				c, err := p.Retrieve(context.Background())
				mu.Lock()
				defer mu.Unlock()
				if disable {
					if err == nil {
						t.Fatalf("got %v, want an error: IMDSv1 is disabled", c)
					}
					mustContain(t, err.Error(), fmt.Sprintf("HTTP %d", status))
					mustNotContain(t, err.Error(), "FallbackMdToken")
					want := []string{"PUT " + metadataTokenPath + " token=false", "GET " + metadataCredentialsPath + " token=true"}
					if fmt.Sprint(seen) != fmt.Sprint(want) {
						t.Errorf("requests with IMDSv1 disabled\n got %v\nwant %v", seen, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("Retrieve: %v (requests %v)", err, seen)
				}
				if c.AccessKeyID != "STS.fb" || c.SecurityToken != "FbToken1" {
					t.Errorf("credentials = %v", c)
				}
				want := []string{
					"PUT " + metadataTokenPath + " token=false",
					"GET " + metadataCredentialsPath + " token=true",
					"GET " + metadataCredentialsPath + " token=false",
					"GET " + metadataCredentialsPath + "fbrole token=true",
					"GET " + metadataCredentialsPath + "fbrole token=false",
				}
				if fmt.Sprint(seen) != fmt.Sprint(want) {
					t.Errorf("requests\n got %v\nwant %v", seen, want)
				}
			})
		}
	}
}

// TestCredentialsURIEmptySecurityToken: credentials-go requires the four
// fields to be present, not non-empty, so a sidecar that serves a RAM user's
// AccessKey answers "SecurityToken":"" and credentials-go signs without a
// token. A missing field is still an error.
func TestCredentialsURIEmptySecurityToken(t *testing.T) {
	for _, tt := range []struct{ body, wantErr string }{
		{`{"AccessKeyId":"LTAIak","AccessKeySecret":"AkSecret1","SecurityToken":"","Expiration":"2030-01-01T00:00:00Z"}`, ""},
		{`{"AccessKeyId":"LTAIak","AccessKeySecret":"AkSecret1","Expiration":"2030-01-01T00:00:00Z"}`, "the credentials document has no SecurityToken"},
		{`{"AccessKeyId":"","AccessKeySecret":"AkSecret1","SecurityToken":"","Expiration":"2030-01-01T00:00:00Z"}`, "the credentials document has no AccessKeyId"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tt.body) }))
		p, _ := NewCredentialsURI(CredentialsURIOptions{URL: srv.URL})
		c, err := p.Retrieve(context.Background())
		srv.Close()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got %v, %v; want error %q", tt.body, c, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.AccessKeyID != "LTAIak" || c.SecurityToken != "" || !c.HasKeys() || !c.CanExpire() {
			t.Errorf("%s: got %v, %v", tt.body, c, err)
		}
	}
}
