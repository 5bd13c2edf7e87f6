package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPrint: print reads the creds path with VAULT_ADDR and VAULT_TOKEN and
// writes the aliyun CLI's External document, nothing else, on stdout.
func TestPrint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/alicloud/creds/app" || r.Header.Get("X-Vault-Token") != "hvs.print" {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"lease_id":"alicloud/creds/app/x","lease_duration":0,"data":{"access_key":"STS.p","secret_key":"PrintSecret9","security_token":"PrintToken9","expiration":"2030-01-01T00:00:00Z"}}`)
	}))
	defer srv.Close()
	t.Setenv("VAULT_ADDR", srv.URL)
	t.Setenv("VAULT_TOKEN", "hvs.print")
	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"print", "-path", "alicloud/creds/app"}, &out, &errOut); rc != 0 {
		t.Fatalf("rc = %d, stderr %s", rc, errOut.String())
	}
	want := `{"mode":"StsToken","access_key_id":"STS.p","access_key_secret":"PrintSecret9","sts_token":"PrintToken9","expiration":"2030-01-01T00:00:00Z"}` + "\n"
	if out.String() != want || errOut.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want %q", out.String(), errOut.String(), want)
	}
	out.Reset()
	errOut.Reset()
	if rc := run(context.Background(), []string{"print", "-path", "alicloud/creds/other"}, &out, &errOut); rc != 1 || out.Len() != 0 ||
		!strings.Contains(errOut.String(), "permission denied") {
		t.Errorf("refused read: rc %d, stdout %q, stderr %q", rc, out.String(), errOut.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"serve"}, {"print"}, {"serve", "-role", "x"}, {"serve", "-role", "a=p/creds/a", "extra"}} {
		var out, errOut bytes.Buffer
		if rc := run(context.Background(), args, &out, &errOut); rc != 2 {
			t.Errorf("%q: rc %d, want 2 (stderr %s)", args, rc, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"serve", "-role", "a=p/creds/a", "-listen", ":0"}, &out, &errOut); rc != 1 ||
		!strings.Contains(errOut.String(), "needs -allow-non-loopback") {
		t.Errorf("non-loopback listen: rc %d, stderr %s", rc, errOut.String())
	}
}
