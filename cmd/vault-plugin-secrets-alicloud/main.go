// Command vault-plugin-secrets-alicloud is the AliCloud secrets engine as a
// Vault (or OpenBao) plugin binary, serving every mount from one process
// (plugin multiplexing).
package main

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"

	alicloud "github.com/alicloud-vault/vault-plugin-secrets-alicloud"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/pluginserve"
)

// version is stamped at build time with
// -ldflags "-X main.version=v1.2.3"; Vault requires a semantic version that
// matches the one the plugin was registered with.
var version = "v0.0.0-dev"

func main() {
	alicloud.Version = version
	aliyun.Version = version

	apiClientMeta := &api.PluginAPIClientMeta{}
	flags := apiClientMeta.FlagSet()
	if err := flags.Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	tlsConfig := apiClientMeta.GetTLSConfig()
	tlsProviderFunc := api.VaultPluginTLSProvider(tlsConfig)

	if err := pluginserve.ServeMultiplex(alicloud.Factory, tlsProviderFunc); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}
