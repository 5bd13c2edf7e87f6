package emulatortest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestNew(t *testing.T) {
	e, base := New(t, emulator.Options{RandSeed: 1})
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	if got, want := e.OIDCIssuerURL(), base+"/_emulator/oidc"; got != want {
		t.Fatalf("issuer %q, want %q", got, want)
	}
	resp, err := http.Get(base + "/_emulator/oidc/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var disc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&disc); err != nil {
		t.Fatal(err)
	}
	if disc["issuer"] != base+"/_emulator/oidc" || disc["jwks_uri"] != base+"/_emulator/oidc/jwks" {
		t.Fatalf("discovery %v", disc)
	}
	resp2, err := http.Get(base + "/?Version=2015-04-01&Action=GetCallerIdentity&Format=JSON")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp2.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp2.StatusCode != http.StatusBadRequest || body["Code"] != "MissingAccessKeyId" {
		t.Fatalf("unsigned call: %d %v", resp2.StatusCode, body)
	}
}
