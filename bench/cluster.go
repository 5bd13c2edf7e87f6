package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
)

// clusterRun is the cluster phase's Raft cluster (internal/cluster, which
// `make cluster` and the end-to-end tests use) and its clients: one to the
// active node, one to a standby, which forwards every request to the active
// node (Vault Community Edition standbys serve no requests themselves).
type clusterRun struct {
	cl                  *cluster.Cluster
	active, standby     *cluster.Node
	toActive, toStandby *vaultClient
}

// clusterInfo describes the cluster phase's cluster in the JSON.
type clusterInfo struct {
	Nodes   int    `json:"nodes"`
	Server  string `json:"server"`
	Active  string `json:"active"`
	Standby string `json:"standby"`
	Storage string `json:"storage"`
}

// clusterMounts are the cluster's mounts: ours and HashiCorp's external
// plugin, both with the AccessKey of the single-node mounts and both through
// the emulator's proxy and TLS (HashiCorp's endpoints are fixed; ours takes
// the same path, as the single-node "ours" mount does).
var clusterMounts = []struct{ path, plugin, impl, note string }{
	{"ours", ourPluginName, implOurs, "cluster; default endpoints, through the proxy (same path as HashiCorp's)"},
	{"hc-external", hcPluginName, implHCExternal, "cluster"},
}

// newClusterClient is a vaultClient that does not follow redirects: a
// standby that answered with a redirect instead of forwarding the request
// would count as an error, not as a request the active node served.
func newClusterClient(addr, token string, conns int) *vaultClient {
	c := newVaultClient(addr, token, conns)
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// runCluster starts the cluster, mounts and configures both plugins, and
// measures `GET <mount>/creds/sts` through the active node and through a
// standby, in rounds like the single-node throughput phases.
func (b *bench) runCluster(ctx context.Context, ourBin string, rep *report) error {
	dir := filepath.Join(b.work, "cluster")
	b.logf("cluster: starting %d Vault nodes (Raft) in %s", b.o.clusterNodes, dir)
	cl, err := cluster.Start(ctx, cluster.Options{
		Server: cluster.ServerVault,
		Binary: b.o.vaultBin,
		Nodes:  b.o.clusterNodes,
		Dir:    dir,
		// Registered without a version, as on the dev server.
		Plugin:   cluster.Plugin{Name: ourPluginName, Binary: ourBin, Env: b.ourPluginEnv()},
		Plugins:  []cluster.Plugin{{Name: hcPluginName, Binary: b.o.hashicorpBin}},
		LogLevel: b.o.vaultLogLevel,
		// The dev server's environment: HashiCorp's plugin (and ours, on its
		// default endpoints) reach the emulator through its proxy.
		Env:  vaultEnv(b.emu),
		Logf: func(format string, args ...any) { b.logf("cluster: "+format, args...) },
	})
	if err != nil {
		return err
	}
	cr := &clusterRun{cl: cl}
	b.cl = cr
	defer func() {
		cl.Stop()
		b.cl = nil
	}()
	if cr.active, err = cl.WaitActive(ctx, time.Minute); err != nil {
		return err
	}
	standbys := cl.Standbys(cr.active)
	if len(standbys) == 0 {
		return errors.New("cluster: no standby")
	}
	cr.standby = standbys[0]
	cr.toActive = newClusterClient(cr.active.Addr, cl.RootToken, b.o.clients)
	cr.toStandby = newClusterClient(cr.standby.Addr, cl.RootToken, b.o.clients)
	rep.Cluster = &clusterInfo{Nodes: len(cl.Nodes), Server: rep.Binaries.Vault.Version, Active: cr.active.Name, Standby: cr.standby.Name,
		Storage: "raft (integrated storage), every lease written to the Raft log"}

	accessKey := map[string]any{"access_key": rootKeyID, "secret_key": rootKeySecret}
	for _, m := range clusterMounts {
		if err := cl.EnablePlugin(ctx, m.plugin, m.path, ""); err != nil {
			return err
		}
		if err := cr.toActive.do(ctx, http.MethodPost, m.path+"/config", accessKey, nil); err != nil {
			return fmt.Errorf("cluster: %s/config: %w", m.path, err)
		}
		if err := cr.toActive.do(ctx, http.MethodPost, m.path+"/role/"+stsRoleName, map[string]any{"role_arn": targetARN}, nil); err != nil {
			return fmt.Errorf("cluster: %s/role/%s: %w", m.path, stsRoleName, err)
		}
		rep.Mounts = append(rep.Mounts, mount{Path: m.path, Impl: m.impl, Identity: "access_key", Cluster: true, Note: m.note})
	}
	// One credential from each mount through each node before measuring.
	for _, m := range clusterMounts {
		for _, vc := range []*vaultClient{cr.toActive, cr.toStandby} {
			if _, err := vc.readCreds(ctx, m.path, stsRoleName, true); err != nil {
				return fmt.Errorf("cluster: smoke test through %s: %w", vc.addr, err)
			}
		}
	}
	b.logf("cluster: %s active (%s), clients of the standby phases on %s (%s)", cr.active.Name, cr.active.Addr, cr.standby.Name, cr.standby.Addr)

	type item struct {
		p  phaseResult
		vc *vaultClient
	}
	var items []item
	for _, m := range clusterMounts {
		for _, via := range []struct {
			role string
			n    *cluster.Node
			vc   *vaultClient
		}{{"active", cr.active, cr.toActive}, {"standby", cr.standby, cr.toStandby}} {
			items = append(items, item{vc: via.vc, p: phaseResult{Kind: "cluster", Name: m.path + "@" + via.role, Mount: m.path,
				Impl: m.impl, Identity: "access_key", Node: via.n.Name + " (" + via.role + ")"}})
		}
	}
	spec := loadSpec{Clients: b.o.clients, Duration: b.o.duration, Warmup: b.o.warmup}
	rounds := make([][]*phaseResult, len(items))
	for r := range b.o.rounds {
		for k := range items {
			i := k
			if r%2 == 1 {
				i = len(items) - 1 - k
			}
			p := items[i].p
			p.Round = r + 1
			if err := b.clusterPhase(ctx, &p, items[i].vc, spec); err != nil {
				return err
			}
			rounds[i] = append(rounds[i], &p)
		}
	}
	for _, rs := range rounds {
		rep.Phases = append(rep.Phases, combineRounds(rs))
	}
	// The plugin processes on the active node serve every request.
	for _, m := range clusterMounts {
		pids, _ := findProcesses(cr.active.PluginBinary(m.plugin))
		for _, pid := range pids {
			if mem, err := readMem(pid); err == nil {
				rep.Memory = append(rep.Memory, memoryResult{Impl: m.impl + " (cluster)", Process: "plugin on " + cr.active.Name + " (active)",
					Mem: mem, CredentialsIssued: b.issued["cluster:"+m.impl]})
			}
		}
	}
	return nil
}

// clusterPhase measures one cluster phase: GET <mount>/creds/sts through vc
// (a client of the active node or of the standby).
func (b *bench) clusterPhase(ctx context.Context, p *phaseResult, vc *vaultClient, spec loadSpec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cr := b.cl
	b.logf("phase %-13s %-20s ...", p.Kind, p.Name)
	if err := b.emu.admin(http.MethodPost, "/_emulator/reset", nil, nil); err != nil {
		return fmt.Errorf("resetting the emulator: %w", err)
	}
	op := func(ctx context.Context, _ int) error {
		_, err := vc.readCreds(ctx, p.Mount, stsRoleName, true)
		return err
	}
	var cpu0 cpuSnapshot
	res, err := runLoad(ctx, spec, op, func() error {
		err := b.emu.ResetCounters()
		cpu0 = b.cpuSnapshot()
		return err
	})
	if err != nil {
		return fmt.Errorf("phase %s %s: %w", p.Kind, p.Name, err)
	}
	p.CPU = b.cpuSnapshot().since(cpu0, res)
	p.Load = res
	calls, err := b.emu.Counters()
	if err != nil {
		return err
	}
	p.setCalls(calls)
	b.issued["cluster:"+p.Impl] += res.Ops
	// A phase through "the standby" means something only if the node stayed
	// a standby (and the active node active) from start to end.
	if now, err := cr.cl.Active(ctx); err != nil || now != cr.active {
		name := "none"
		if now != nil {
			name = now.Name
		}
		return fmt.Errorf("phase %s %s: the active node changed from %s to %s (%v); see the logs under %s",
			p.Kind, p.Name, cr.active.Name, name, err, filepath.Dir(cr.active.Dir))
	}
	b.logf("phase %-13s %-20s %8.1f/s p50 %6.2f ms p99 %7.2f ms  errors %d  calls/op %.2f", p.Kind, p.Name,
		res.PerSecond, res.P50MS, res.P99MS, res.Errors, p.CallsPerOp)
	if res.Errors > 0 {
		b.logf("  first error: %s", truncate(res.FirstError, 300))
	}
	t0 := time.Now()
	if err := cr.toActive.do(ctx, http.MethodPut, "sys/leases/revoke-prefix/"+p.Mount, map[string]any{"sync": true}, nil); err != nil {
		return fmt.Errorf("revoking the leases of %s: %w", p.Mount, err)
	}
	b.logf("  revoked the leases under %s/ in %s", p.Mount, time.Since(t0).Round(time.Millisecond))
	return nil
}

// clusterRole is "active" or "standby", from a cluster phase's name.
func clusterRole(name string) string {
	_, role, _ := strings.Cut(name, "@")
	return role
}
