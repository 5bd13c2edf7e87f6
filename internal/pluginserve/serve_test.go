package pluginserve

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

// TestServeMultiplex_Handshake runs ServeMultiplex in a child process, as
// Vault starts a plugin, and checks the handshake line go-plugin prints:
// protocol version 5 (multiplexing) over gRPC.
func TestServeMultiplex_Handshake(t *testing.T) {
	if os.Getenv("PLUGINSERVE_CHILD") == "1" {
		factory := func(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
			b := &framework.Backend{BackendType: logical.TypeLogical}
			return b, b.Setup(ctx, conf)
		}
		if err := ServeMultiplex(factory, nil); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServeMultiplex_Handshake$")
	cmd.Env = append(os.Environ(),
		"PLUGINSERVE_CHILD=1",
		plugin.HandshakeConfig.MagicCookieKey+"="+plugin.HandshakeConfig.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=5",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no handshake line: %v", err)
	}
	// core-version|app-version|network|address|protocol|...
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 5 || f[0] != "1" || f[1] != "5" || f[4] != "grpc" {
		t.Fatalf("handshake %q, want core 1, protocol 5, grpc", line)
	}
}
