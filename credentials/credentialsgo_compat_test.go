package credentials

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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
