// Package cluster runs a high-availability cluster of Vault or OpenBao servers on 127.0.0.1 with integrated storage
// (Raft), initialized and unsealed, with the plugin registered and ready to mount. `make cluster`
// (cmd/alicloud-dev-cluster) and the end-to-end tests (e2e/cluster_test.go) both start their clusters here.
//
// Each node has its own API and cluster ports, its own Raft folder and its own plugin_directory holding a copy of
// the plugin binary (as separate machines would). Nodes join with retry_join and are unsealed with the one Shamir
// key. On Vault the plugin is registered once, through the API (the catalog lives in replicated storage); on OpenBao
// every node registers it itself from a declarative plugin block in its configuration, as `make dev` does there.
// Options.Plugins adds more plugins, handled the same way (the benchmark mounts HashiCorp's next to this one).
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"
)

// Servers the cluster can run.
const (
	ServerVault   = "vault"
	ServerOpenBao = "openbao"
)

// Options describe a cluster.
type Options struct {
	// Server is ServerVault (the default) or ServerOpenBao; Binary is its server binary.
	Server string
	Binary string
	// Nodes is the number of servers (default 3).
	Nodes int
	// Dir holds one folder per node: configuration, Raft data, plugin directory and log.
	Dir string
	// Plugin is the secrets plugin every node gets.
	Plugin Plugin
	// Plugins are more secrets plugins every node gets and the cluster registers, each under its own name.
	Plugins []Plugin
	// LogLevel is the servers' log level (default "info").
	LogLevel string
	// Env is the servers' environment; nil means this process's environment without VAULT_* and BAO_* variables.
	Env []string
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// Plugin is the plugin binary the cluster registers.
type Plugin struct {
	// Name is the catalog name and the binary's file name in each plugin directory.
	Name string
	// Binary is the path of the plugin binary, copied into every node's plugin directory.
	Binary string
	// Version is the version it is registered with (the version the binary reports); empty registers it without one
	// (Vault only: OpenBao's declarative registration needs a version).
	Version string
	// Env is the plugin's environment (operator settings such as ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS).
	Env []string
}

// Cluster is a running cluster.
type Cluster struct {
	opts  Options
	Nodes []*Node
	// RootToken is the initial root token; SHA256 the hex sha256 of the plugin binary every node holds.
	RootToken string
	SHA256    string
	unsealKey string
	// sums are the hex sha256 of every plugin binary, Options.Plugin's and Options.Plugins', by name.
	sums map[string]string
}

// Node is one server of the cluster.
type Node struct {
	Index int
	Name  string
	// Addr is the API address (http://127.0.0.1:port); ClusterAddr the address of request forwarding and Raft.
	Addr        string
	ClusterAddr string
	Dir         string
	LogPath     string
	// Client talks to this node only, with the root token; a standby forwards what it does not serve itself.
	Client *api.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Start starts the nodes, initializes the first, joins and unseals the others, waits until every node is a Raft
// voter, and registers the plugin. On an error it stops whatever it started.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Server == "" {
		opts.Server = ServerVault
	}
	if opts.Server != ServerVault && opts.Server != ServerOpenBao {
		return nil, fmt.Errorf("cluster: server %q: must be %q or %q", opts.Server, ServerVault, ServerOpenBao)
	}
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.Env == nil {
		opts.Env = CleanEnv()
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	seen := map[string]bool{}
	for _, p := range opts.plugins() {
		if p.Name == "" || p.Binary == "" || seen[p.Name] {
			return nil, fmt.Errorf("cluster: plugin %q: each plugin needs a name of its own and a binary", p.Name)
		}
		if p.Version == "" && opts.Server == ServerOpenBao {
			return nil, fmt.Errorf("cluster: plugin %q: OpenBao registers plugins from its configuration, which needs a version", p.Name)
		}
		seen[p.Name] = true
	}
	c := &Cluster{opts: opts, sums: map[string]string{}}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for i := 0; i < opts.Nodes; i++ {
		n, err := c.newNode(i)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := c.writeConfig(n); err != nil {
			return nil, err
		}
	}

	first := c.Nodes[0]
	if err := first.start(opts); err != nil {
		return nil, err
	}
	if err := first.waitListener(ctx); err != nil {
		return nil, err
	}
	init, err := first.Client.Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return nil, fmt.Errorf("cluster: operator init on %s: %w", first.Name, err)
	}
	c.unsealKey, c.RootToken = init.Keys[0], init.RootToken
	for _, n := range c.Nodes {
		n.Client.SetToken(c.RootToken)
	}
	if err := c.unseal(ctx, first); err != nil {
		return nil, err
	}
	if _, err := c.WaitActive(ctx, time.Minute); err != nil {
		return nil, err
	}
	// New servers become voters only after autopilot's stabilization time (10s by default); a failover needs a
	// quorum of voters, so the cluster promotes them as soon as they are healthy.
	if _, err := first.Client.Logical().WriteWithContext(ctx, "sys/storage/raft/autopilot/configuration", map[string]any{
		"server_stabilization_time": "1s",
	}); err != nil {
		return nil, fmt.Errorf("cluster: autopilot configuration: %w", err)
	}
	opts.Logf("%s is active; joining %d more nodes", first.Name, opts.Nodes-1)
	for _, n := range c.Nodes[1:] {
		if err := n.start(opts); err != nil {
			return nil, err
		}
	}
	for _, n := range c.Nodes[1:] {
		if err := n.waitListener(ctx); err != nil {
			return nil, err
		}
		if err := c.unseal(ctx, n); err != nil {
			return nil, err
		}
		if err := c.waitMember(ctx, n); err != nil {
			return nil, err
		}
	}
	if err := c.waitVoters(ctx, opts.Nodes, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := c.register(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) newNode(i int) (*Node, error) {
	n := &Node{Index: i, Name: fmt.Sprintf("node%d", i+1)}
	n.Dir = filepath.Join(c.opts.Dir, n.Name)
	n.LogPath = filepath.Join(n.Dir, "server.log")
	if err := os.MkdirAll(filepath.Join(n.Dir, "raft"), 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(n.Dir, "plugins"), 0o755); err != nil {
		return nil, err
	}
	// Vault runs plugins only from inside its plugin_directory and refuses symlinks that lead out of it.
	for _, p := range c.opts.plugins() {
		dst := n.PluginBinary(p.Name)
		sum, err := copyFile(p.Binary, dst)
		if err != nil {
			return nil, fmt.Errorf("cluster: copying the plugin %s: %w", p.Name, err)
		}
		if want, ok := c.sums[p.Name]; !ok {
			c.sums[p.Name] = sum
		} else if sum != want {
			return nil, fmt.Errorf("cluster: the plugin copied to %s has sha256 %s, want %s", dst, sum, want)
		}
	}
	c.SHA256 = c.sums[c.opts.Plugin.Name]
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clusterPort, err := freePort()
	if err != nil {
		return nil, err
	}
	n.Addr = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	n.ClusterAddr = fmt.Sprintf("https://127.0.0.1:%d", clusterPort)
	client, err := api.NewClient(&api.Config{Address: n.Addr, Timeout: 60 * time.Second, MaxRetries: 0})
	if err != nil {
		return nil, err
	}
	client.ClearNamespace()
	client.ClearToken()
	n.Client = client
	return n, nil
}

// writeConfig writes a node's server configuration: Raft storage that joins every other node, its listener, and
// on OpenBao the declarative registration of the plugin.
func (c *Cluster) writeConfig(n *Node) error {
	var b strings.Builder
	fmt.Fprintf(&b, "storage \"raft\" {\n  path    = %q\n  node_id = %q\n  performance_multiplier = 1\n", filepath.Join(n.Dir, "raft"), n.Name)
	for _, o := range c.Nodes {
		if o != n {
			fmt.Fprintf(&b, "  retry_join {\n    leader_api_addr = %q\n  }\n", o.Addr)
		}
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "listener \"tcp\" {\n  address         = %q\n  cluster_address = %q\n  tls_disable     = true\n}\n",
		strings.TrimPrefix(n.Addr, "http://"), strings.TrimPrefix(n.ClusterAddr, "https://"))
	fmt.Fprintf(&b, "api_addr         = %q\ncluster_addr     = %q\nplugin_directory = %q\ndisable_mlock    = true\nlog_level        = %q\n",
		n.Addr, n.ClusterAddr, filepath.Join(n.Dir, "plugins"), c.opts.LogLevel)
	if c.opts.Server == ServerOpenBao {
		b.WriteString("plugin_auto_register = true\n")
		for _, p := range c.opts.plugins() {
			fmt.Fprintf(&b, "plugin \"secret\" %q {\n  command   = %q\n  version   = %q\n  sha256sum = %q\n  env       = [",
				p.Name, p.Name, p.Version, c.sums[p.Name])
			for i, kv := range p.Env {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", kv)
			}
			b.WriteString("]\n}\n")
		}
	}
	return os.WriteFile(filepath.Join(n.Dir, "server.hcl"), []byte(b.String()), 0o600)
}

// plugins are Options.Plugin then Options.Plugins.
func (o *Options) plugins() []Plugin {
	return append([]Plugin{o.Plugin}, o.Plugins...)
}

// register puts the plugins in the catalog. Vault keeps the catalog in replicated storage: one registration through
// the active node serves every node. OpenBao nodes registered them from their configuration; this checks they did.
func (c *Cluster) register(ctx context.Context) error {
	active, err := c.WaitActive(ctx, time.Minute)
	if err != nil {
		return err
	}
	for _, p := range c.opts.plugins() {
		sum := c.sums[p.Name]
		path := "sys/plugins/catalog/secret/" + p.Name
		if c.opts.Server == ServerVault {
			env := p.Env
			if env == nil {
				env = []string{}
			}
			in := map[string]any{"sha256": sum, "command": p.Name, "env": env}
			if p.Version != "" {
				in["version"] = p.Version
			}
			if _, err := active.Client.Logical().WriteWithContext(ctx, path, in); err != nil {
				return fmt.Errorf("cluster: registering %s %s: %w", p.Name, p.Version, err)
			}
		}
		version, err := c.registeredVersion(ctx, active, p, sum)
		if err != nil {
			return err
		}
		c.opts.Logf("%s %s registered (sha256 %s)", p.Name, version, sum)
	}
	return nil
}

// registeredVersion checks that the catalog holds p with sha256 sum and returns the version it is registered under:
// p.Version, or, when that is empty, the version Vault recorded (the one the binary reports, if it reports one).
func (c *Cluster) registeredVersion(ctx context.Context, active *Node, p Plugin, sum string) (string, error) {
	path := "sys/plugins/catalog/secret/" + p.Name
	versions := []string{p.Version}
	if p.Version == "" {
		list, err := active.Client.Sys().ListPluginsWithContext(ctx, &api.ListPluginsInput{Type: api.PluginTypeSecrets})
		if err != nil {
			return "", fmt.Errorf("cluster: listing the catalog: %w", err)
		}
		for _, d := range list.Details {
			if d.Name == p.Name && !d.Builtin && d.Version != "" {
				versions = append(versions, d.Version)
			}
		}
	}
	var got []any
	for _, v := range versions {
		var query map[string][]string
		if v != "" {
			query = map[string][]string{"version": {v}}
		}
		s, err := active.Client.Logical().ReadWithDataWithContext(ctx, path, query)
		if err != nil {
			return "", fmt.Errorf("cluster: reading %s: %w", path, err)
		}
		if s != nil && s.Data["sha256"] == sum {
			return v, nil
		}
		if s != nil {
			got = append(got, s.Data["sha256"])
		}
	}
	return "", fmt.Errorf("cluster: the catalog holds %s %s with sha256 %v, want %s", p.Name, p.Version, got, sum)
}

// Enable mounts the plugin (Options.Plugin) at path with its registered version, through the active node.
func (c *Cluster) Enable(ctx context.Context, path, description string) error {
	return c.EnablePlugin(ctx, c.opts.Plugin.Name, path, description)
}

// EnablePlugin mounts the plugin named name (Options.Plugin or one of Options.Plugins) at path with its registered
// version, through the active node, and waits until every running node routes the mount.
func (c *Cluster) EnablePlugin(ctx context.Context, name, path, description string) error {
	var p *Plugin
	for _, q := range c.opts.plugins() {
		if q.Name == name {
			p = &q
			break
		}
	}
	if p == nil {
		return fmt.Errorf("cluster: no plugin %q in the cluster's options", name)
	}
	active, err := c.WaitActive(ctx, time.Minute)
	if err != nil {
		return err
	}
	if err := active.Client.Sys().MountWithContext(ctx, path, &api.MountInput{
		Type: p.Name, Description: description, Config: api.MountConfigInput{PluginVersion: p.Version},
	}); err != nil {
		return fmt.Errorf("cluster: enabling %s at %s: %w", p.Name, path, err)
	}
	// OpenBao standbys serve reads from their own copy of storage, which trails the active node's: wait until every
	// node routes the new mount.
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if err := n.poll(ctx, time.Minute, "the mount "+path, func() error {
			_, err := n.Client.Logical().ReadWithContext(ctx, path+"/config")
			if err != nil && strings.Contains(err.Error(), "no handler for route") {
				return err
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// PluginBinary is the path of the named plugin's binary in the node's plugin directory (the executable of the
// plugin processes the node runs).
func (n *Node) PluginBinary(name string) string {
	return filepath.Join(n.Dir, "plugins", name)
}

// start runs the node's server process.
func (n *Node) start(opts Options) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			return fmt.Errorf("cluster: %s is already running", n.Name)
		}
	}
	logFile, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(opts.Binary, "server", "-config="+filepath.Join(n.Dir, "server.hcl"))
	cmd.Env = opts.Env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("cluster: starting %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.err = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logFile.Close()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Running reports whether the node's process is running.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// PID is the server's process id (0 when it is not running).
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// exitErr reports why the node's process exited, or nil while it runs.
func (n *Node) exitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return errors.New("not started")
	}
	select {
	case <-n.exited:
		return fmt.Errorf("exited: %v", n.err)
	default:
		return nil
	}
}

func (n *Node) waitListener(ctx context.Context) error {
	return n.poll(ctx, time.Minute, "its listener", func() error {
		_, err := n.Client.Sys().SealStatusWithContext(ctx)
		return err
	})
}

// poll calls ok every 100ms until it returns nil, failing when the node's process exits or timeout passes.
func (n *Node) poll(ctx context.Context, timeout time.Duration, what string, ok func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		if xerr := n.exitErr(); xerr != nil {
			return fmt.Errorf("cluster: %s %v while waiting for %s; log %s:\n%s", n.Name, xerr, what, n.LogPath, Tail(n.LogPath, 30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s: no %s within %s: %v; log %s:\n%s", n.Name, what, timeout, err, n.LogPath, Tail(n.LogPath, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// unseal gives the node the unseal key until it reports unsealed. A node that has not joined yet completes its
// retry_join with the key first, so the key is given again whenever the node is sealed with no progress.
func (c *Cluster) unseal(ctx context.Context, n *Node) error {
	return n.poll(ctx, 2*time.Minute, "unseal", func() error {
		st, err := n.Client.Sys().SealStatusWithContext(ctx)
		if err != nil {
			return err
		}
		if !st.Sealed {
			return nil
		}
		if st.Progress == 0 {
			if _, err := n.Client.Sys().UnsealWithContext(ctx, c.unsealKey); err != nil {
				return err
			}
		}
		return errors.New("sealed")
	})
}

// waitVoters waits until the Raft configuration lists want voters.
func (c *Cluster) waitVoters(ctx context.Context, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		voters, err := c.Voters(ctx)
		if err == nil && len(voters) == want {
			c.opts.Logf("raft: %d voters: %s", want, strings.Join(voters, ", "))
			return nil
		}
		last = fmt.Sprintf("voters %v (error %v)", voters, err)
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: want %d raft voters within %s; last: %s", want, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Voters lists the node ids of the Raft voters, as the active node sees them.
func (c *Cluster) Voters(ctx context.Context) ([]string, error) {
	active, err := c.Active(ctx)
	if err != nil {
		return nil, err
	}
	s, err := active.Client.Logical().ReadWithContext(ctx, "sys/storage/raft/configuration")
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("no raft configuration")
	}
	cfg, _ := s.Data["config"].(map[string]any)
	servers, _ := cfg["servers"].([]any)
	var voters []string
	for _, sv := range servers {
		m, _ := sv.(map[string]any)
		if m["voter"] == true {
			id, _ := m["node_id"].(string)
			voters = append(voters, id)
		}
	}
	return voters, nil
}

// Active returns the node that reports itself active (unsealed and not a standby) now.
func (c *Cluster) Active(ctx context.Context) (*Node, error) {
	var errs []error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		h, err := n.Client.Sys().HealthWithContext(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
			continue
		}
		if h.Initialized && !h.Sealed && !h.Standby {
			return n, nil
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("no active node: %w", errors.Join(errs...))
	}
	return nil, errors.New("no active node")
}

// WaitActive waits until a node is active and serves its mount table, and returns it.
func (c *Cluster) WaitActive(ctx context.Context, timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := c.Active(ctx)
		if err == nil {
			if _, err = n.Client.Sys().ListMountsWithContext(ctx); err == nil {
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cluster: no active node within %s: %v", timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Standbys returns the running nodes other than active.
func (c *Cluster) Standbys(active *Node) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n != active && n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// Kill sends SIGKILL to the node and its plugins, as a crash or a lost machine would, and waits until it is gone.
func (c *Cluster) Kill(n *Node) error {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if err := killGroup(cmd); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cluster: killing %s: %w", n.Name, err)
	}
	<-exited
	return nil
}

// StartNode starts a stopped or killed node again on its address and data, unseals it and waits until it is an
// unsealed member again (as a standby, or active if it wins an election).
func (c *Cluster) StartNode(ctx context.Context, n *Node) error {
	if err := n.start(c.opts); err != nil {
		return err
	}
	if err := n.waitListener(ctx); err != nil {
		return err
	}
	if err := c.unseal(ctx, n); err != nil {
		return err
	}
	return c.waitMember(ctx, n)
}

// waitMember waits until the node is unsealed and knows the active node (until then a standby answers 500 "local
// node not active but active cluster node not found" instead of forwarding).
func (c *Cluster) waitMember(ctx context.Context, n *Node) error {
	return n.poll(ctx, 2*time.Minute, "an unsealed member that knows the active node", func() error {
		h, err := n.Client.Sys().HealthWithContext(ctx)
		if err != nil {
			return err
		}
		if h.Sealed || !h.Initialized {
			return errors.New("sealed")
		}
		l, err := n.Client.Sys().LeaderWithContext(ctx)
		if err != nil {
			return err
		}
		if !l.IsSelf && l.LeaderClusterAddress == "" {
			return errors.New("no known active node")
		}
		return nil
	})
}

// StepDown asks the active node to give up leadership (`vault operator step-down`) and waits for an active node,
// which may be the same one if it wins the election again.
func (c *Cluster) StepDown(ctx context.Context) (from, to *Node, err error) {
	from, err = c.WaitActive(ctx, time.Minute)
	if err != nil {
		return nil, nil, err
	}
	if err := from.Client.Sys().StepDownWithContext(ctx); err != nil {
		return from, nil, fmt.Errorf("cluster: step-down on %s: %w", from.Name, err)
	}
	// The node that stepped down may win the next election; give another node the chance to be seen first.
	deadline := time.Now().Add(15 * time.Second)
	for {
		to, err = c.WaitActive(ctx, time.Minute)
		if err != nil || to != from || time.Now().After(deadline) {
			return from, to, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts every node down with SIGTERM (servers stop their plugins on the way out), killing a node that has not
// stopped after 30 seconds.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.stop(30 * time.Second)
		}()
	}
	wg.Wait()
}

func (n *Node) stop(grace time.Duration) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = killGroup(cmd)
		<-exited
	}
}

// CleanEnv is this process's environment without VAULT_* and BAO_* variables, so that a developer's own VAULT_ADDR
// or VAULT_TOKEN never points a server or a CLI command elsewhere.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "BAO_") {
			env = append(env, kv)
		}
	}
	return env
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// copyFile copies src to dst (executable) and returns the hex sha256 of what it wrote.
func copyFile(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
