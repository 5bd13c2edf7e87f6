// Package pluginserve serves the engine as a Vault plugin; the plugin binary
// and its profiled build for the benchmark share it.
package pluginserve

import (
	"crypto/tls"
	"math"
	"os"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
	"google.golang.org/grpc"
)

// streamWorkers is how many gRPC server goroutines are kept to handle
// Vault's requests. Without them gRPC starts a goroutine per request, whose
// stack then grows (and is copied) several times on the way through the
// framework, the HTTP client and TLS: about 8% of the plugin's CPU per STS
// credential. A request that finds every worker busy still gets a goroutine
// of its own, as before.
const streamWorkers = 32

// ServeMultiplex is the SDK's plugin.ServeMultiplex (sdk v0.20.0) with one
// gRPC server option added, grpc.NumStreamWorkers: the same plugin protocol
// versions (3 and 4 for old Vaults, 5 with multiplexing), handshake, mlock
// handling, message size limits and TLS provider. Keep it in step with the
// SDK's when the SDK is upgraded.
func ServeMultiplex(factory logical.Factory, tlsProvider func() (*tls.Config, error)) error {
	// The SDK's logger: JSON on stderr at trace level; Vault filters by its
	// own level.
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: os.Stderr, JSONFormat: true})
	if err := pluginutil.OptionallyEnableMlock(); err != nil {
		return err
	}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig,
		VersionedPlugins: map[int]goplugin.PluginSet{
			3: {"backend": &plugin.GRPCBackendPlugin{Factory: factory, Logger: logger}},
			4: {"backend": &plugin.GRPCBackendPlugin{Factory: factory, Logger: logger}},
			5: {"backend": &plugin.GRPCBackendPlugin{Factory: factory, MultiplexingSupport: true, Logger: logger}},
		},
		Logger: logger,
		// A non-nil GRPCServer makes go-plugin serve gRPC.
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts,
				grpc.MaxRecvMsgSize(math.MaxInt32),
				grpc.MaxSendMsgSize(math.MaxInt32),
				grpc.NumStreamWorkers(streamWorkers),
			)
			return goplugin.DefaultGRPCServer(opts)
		},
		// Only Vaults that still start plugins without automatic mTLS
		// (protocol versions 3 and 4) use it.
		TLSProvider: tlsProvider,
	})
	return nil
}
