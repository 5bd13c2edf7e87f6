// Command profiled is our plugin with Go's pprof handlers on a loopback
// address when BENCH_PPROF_ADDR is set (the benchmark passes it through the
// plugin catalog's env), for profiling the plugin under load in a real Vault.
// Apart from that listener it is cmd/vault-plugin-secrets-alicloud.
package main

import (
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"

	alicloud "github.com/alicloud-vault/vault-plugin-secrets-alicloud"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/pluginserve"
)

func main() {
	alicloud.Version = "v0.0.0-profiled"
	aliyun.Version = alicloud.Version

	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" {
		// Loopback only: profiles reveal memory contents.
		if host, _, err := net.SplitHostPort(addr); err != nil || (host != "127.0.0.1" && !strings.EqualFold(host, "localhost")) {
			fatal(&net.AddrError{Err: "BENCH_PPROF_ADDR must be a 127.0.0.1 address", Addr: addr})
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fatal(err)
		}
		go func() { _ = http.Serve(ln, nil) }()
	}

	apiClientMeta := &api.PluginAPIClientMeta{}
	if err := apiClientMeta.FlagSet().Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	if err := pluginserve.ServeMultiplex(alicloud.Factory, api.VaultPluginTLSProvider(apiClientMeta.GetTLSConfig())); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
