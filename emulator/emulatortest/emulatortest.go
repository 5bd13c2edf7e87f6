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

// Proxy starts e's proxy (emulator.Proxy) on an httptest server at 127.0.0.1, with a new CA whose certificate it
// writes to caFile, and stops both at test cleanup. A process started with HTTPS_PROXY and HTTP_PROXY set to the
// returned URL and SSL_CERT_FILE set to caFile reaches the emulator for every *.aliyuncs.com endpoint and the ECS
// metadata address, and nothing else: unmodified programs (HashiCorp's plugin, the official SDKs) can then be tested.
func Proxy(tb testing.TB, e *emulator.Emulator, caFile string) string {
	tb.Helper()
	ca, err := emulator.NewCA()
	if err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	if err := ca.WritePEM(caFile); err != nil {
		tb.Fatalf("emulatortest: %v", err)
	}
	p := e.ProxyHandler(ca)
	srv := httptest.NewServer(p)
	tb.Cleanup(func() {
		_ = p.Close()
		srv.Close()
	})
	return srv.URL
}
