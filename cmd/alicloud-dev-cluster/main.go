// Command alicloud-dev-cluster is `make cluster`: three Vault servers (or OpenBao servers, -server openbao) on
// 127.0.0.1 with integrated storage (Raft), initialized and unsealed, the plugin registered on all of them and mounted
// at alicloud/, configured against an in-process Alibaba Cloud emulator seeded with scripts/dev-seed.json, as
// `make dev` sets up one server. It reads alicloud/creds/readonly through every node, prints the addresses and the
// root token, and waits; Ctrl-C (or SIGTERM) stops everything.
//
// The cluster itself comes from internal/cluster, which the end-to-end tests use too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
	"github.com/hashicorp/vault/api"
)

// The key of the RAM user vault-root in scripts/dev-seed.json; it exists only inside the emulator.
const (
	rootKeyID     = "LTAI5tDevVaultRootKey001"
	rootKeySecret = "devVaultRootSecretNotForProd01"
	pluginName    = "vault-plugin-secrets-alicloud"
	mount         = "alicloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	server := flag.String("server", cluster.ServerVault, "vault or openbao")
	binary := flag.String("binary", "", "the server binary (default bin/vault, or bin/bao with -server openbao)")
	plugin := flag.String("plugin", "bin/"+pluginName, "the plugin binary")
	version := flag.String("version", "", "the version the plugin binary reports (make cluster passes scripts/version.sh)")
	seedFile := flag.String("seed", "scripts/dev-seed.json", "the emulator's seed")
	emulatorAddr := flag.String("emulator-listen", "127.0.0.1:0", "the emulator's listener")
	dir := flag.String("dir", ".cache/cluster", "working folder: one folder per node (logs, Raft data, plugin directory); emptied at start")
	nodes := flag.Int("nodes", 3, "number of servers")
	flag.Parse()
	if *version == "" {
		return errors.New("-version is required (the version stamped into the plugin binary)")
	}
	cli := "vault"
	if *server == cluster.ServerOpenBao {
		cli = "bao"
	}
	if *binary == "" {
		*binary = filepath.Join("bin", cli)
	}
	absDir, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(absDir); err != nil {
		return err
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return err
	}

	seed, err := emulator.LoadSeedFile(*seedFile)
	if err != nil {
		return err
	}
	emu, err := emulator.New(emulator.Options{Seed: seed})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *emulatorAddr)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	emu.SetListenerAddrs(*emulatorAddr, ln.Addr().String())
	emuURL := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "cluster: "+format+"\n", args...) }
	c, err := cluster.Start(ctx, cluster.Options{
		Server: *server,
		Binary: *binary,
		Nodes:  *nodes,
		Dir:    absDir,
		Plugin: cluster.Plugin{
			Name:    pluginName,
			Binary:  *plugin,
			Version: *version,
			// The operator settings `make dev` uses (README "Security model").
			Env: []string{
				"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*",
				"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true",
				"ALICLOUD_PLUGIN_TOKEN_DIRS=" + absDir,
			},
		},
		Logf: logf,
	})
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping the servers")
		c.Stop()
	}()

	if err := c.Enable(ctx, mount, "Alibaba Cloud (emulator)"); err != nil {
		return err
	}
	active, err := c.WaitActive(ctx, time.Minute)
	if err != nil {
		return err
	}
	if _, err := active.Client.Logical().WriteWithContext(ctx, mount+"/config", map[string]any{
		"access_key": rootKeyID, "secret_key": rootKeySecret, "sts_endpoint": emuURL, "ram_endpoint": emuURL,
	}); err != nil {
		return fmt.Errorf("writing %s/config: %w", mount, err)
	}
	if _, err := active.Client.Logical().WriteWithContext(ctx, mount+"/role/readonly", map[string]any{
		"role_arn": "acs:ram::" + emu.AccountID() + ":role/readonly", "ttl": "1h",
	}); err != nil {
		return fmt.Errorf("writing %s/role/readonly: %w", mount, err)
	}
	// Prove the chain through every node before saying it works; the credentials themselves are not printed.
	for _, n := range c.Nodes {
		var s *api.Secret
		t0 := time.Now()
		for {
			s, err = n.Client.Logical().ReadWithContext(ctx, mount+"/creds/readonly")
			if err == nil && s == nil {
				err = errors.New("no such path (404)")
			}
			if err == nil || time.Since(t0) > 30*time.Second {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("%s: read %s/creds/readonly: %w", n.Name, mount, err)
		}
		if d := time.Since(t0); d > time.Second/2 {
			logf("%s answered after %s (an OpenBao standby serves reads from its own copy of storage, which trails the active node's)", n.Name, d.Round(100*time.Millisecond))
		}
		role := "standby"
		if n == active {
			role = "active"
		}
		logf("%s (%s, %s): read %s/creds/readonly: access_key %v, lease %s", n.Name, role, n.Addr, mount, s.Data["access_key"], s.LeaseID)
	}

	prefix := "VAULT_"
	if *server == cluster.ServerOpenBao {
		prefix = "BAO_"
	}
	fmt.Printf("\nA %d-node %s cluster (Raft) is running with %s %s mounted at %s/:\n\n", len(c.Nodes), *server, pluginName, *version, mount)
	for _, n := range c.Nodes {
		role := "standby"
		if n == active {
			role = "active"
		}
		fmt.Printf("  %s  %s  (%s, pid %d, log %s)\n", n.Name, n.Addr, role, n.PID(), n.LogPath)
	}
	fmt.Printf("\nRoot token: %s\nThe Alibaba Cloud emulator is at %s (account %s; seed: %s).\n\n", c.RootToken, emuURL, emu.AccountID(), *seedFile)
	fmt.Printf("In another terminal:\n\n  export %sADDR=%s %sTOKEN=%s\n  export PATH=\"$PWD/bin:$PATH\"\n", prefix, c.Nodes[len(c.Nodes)-1].Addr, prefix, c.RootToken)
	fmt.Printf("  %s read %s/creds/readonly      # through any node; a standby forwards to the active node\n", cli, mount)
	fmt.Printf("  %s operator raft list-peers\n  %s operator step-down             # against the active node: another takes over\n", cli, cli)
	fmt.Printf("  kill -KILL -<pid of the active node>   # failover: the node and its plugins (its process group) die\n\n")
	fmt.Printf("Press Ctrl-C to stop the cluster and the emulator.\n")

	watch := time.NewTicker(2 * time.Second)
	defer watch.Stop()
	last := active.Name
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-watch.C:
			if a, err := c.Active(ctx); err == nil && a.Name != last {
				logf("%s is now the active node (was %s)", a.Name, last)
				last = a.Name
			}
		}
	}
}
