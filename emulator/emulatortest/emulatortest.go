// Package emulatortest starts an in-process Alibaba Cloud emulator for tests.
package emulatortest

import (
	"net/http/httptest"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// New starts an in-process emulator on an httptest server at 127.0.0.1 and
// closes it at test cleanup. It returns the emulator and its base URL (e.g.
// http://127.0.0.1:PORT), which serves the RPC APIs, the ECS metadata paths,
// the credentials URI and the admin API. The built-in OIDC issuer's "iss" is
// set to <base URL>/_emulator/oidc unless opts.OIDCIssuerURL is set.
func New(tb testing.TB, opts emulator.Options) (*emulator.Emulator, string) {
	tb.Helper()
	e, err := emulator.New(opts)
	if err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	srv := httptest.NewServer(e)
	tb.Cleanup(srv.Close)
	if opts.OIDCIssuerURL == "" {
		e.SetOIDCIssuerURL(srv.URL + "/_emulator/oidc")
	}
	return e, srv.URL
}
