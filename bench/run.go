package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/hcplugin"
)

// Names in the emulator's account that every mount shares.
const (
	accountID      = "1234567890123456"
	rootUser       = "vault-root"
	rootKeyID      = "LTAI5tBenchVaultRootKy01"
	rootKeySecret  = "benchVaultRootSecretNotForProd" // a fake account in a local emulator
	targetRole     = "bench-target"
	ecsRole        = "bench-ecs"
	oidcRole       = "bench-oidc-engine"
	oidcProvider   = "bench-oidc"
	oidcAudience   = "sts.aliyuncs.com"
	remotePolicy   = "name:ReadOnlyAccess,type:System"
	ourPluginName  = "vault-plugin-secrets-alicloud"
	hcPluginName   = "hashicorp-alicloud"
	builtinName    = "alicloud"
	stsRoleName    = "sts"
	ramUserRole    = "user"
	implOurs       = "ours"
	implHCBuiltin  = "hashicorp-builtin"
	implHCExternal = "hashicorp-external"
	// implOursB is a second build of ours (-plugin-b), for A/B comparisons
	// of a change in one run.
	implOursB      = "ours-b"
	ourPluginBName = "vault-plugin-secrets-alicloud-b"
)

var (
	targetARN      = "acs:ram::" + accountID + ":role/" + targetRole
	oidcRoleARN    = "acs:ram::" + accountID + ":role/" + oidcRole
	oidcProvARN    = "acs:ram::" + accountID + ":oidc-provider/" + oidcProvider
	rootTrust      = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + accountID + `:root"]}}]}`
	ecsTrust       = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`
	oidcTrust      = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["` + oidcProvARN + `"]},"Condition":{"StringEquals":{"oidc:aud":"` + oidcAudience + `"}}}]}`
	engineRAMPerms = []map[string]string{{"name": "AliyunRAMFullAccess", "type": "System"}, {"name": "AliyunSTSAssumeRoleAccess", "type": "System"}}
)

// seed is the emulator's starting account: the RAM user whose key every
// AccessKey mount uses, the role the assumed_role roles assume, and the ECS
// and OIDC roles the identity phases use as the engine's identity.
func seed() map[string]any {
	return map[string]any{
		"account_id": accountID,
		"users": []any{map[string]any{
			"name":        rootUser,
			"access_keys": []any{map[string]any{"id": rootKeyID, "secret": rootKeySecret, "status": "Active"}},
			"policies":    engineRAMPerms,
		}},
		"roles": []any{
			map[string]any{"name": targetRole, "trust_policy": rootTrust, "max_session_duration": 3600,
				"policies": []any{map[string]string{"name": "ReadOnlyAccess", "type": "System"}}},
			map[string]any{"name": ecsRole, "trust_policy": ecsTrust, "max_session_duration": 3600, "policies": engineRAMPerms},
			map[string]any{"name": oidcRole, "trust_policy": oidcTrust, "max_session_duration": 3600, "policies": engineRAMPerms},
		},
		"oidc_providers": []any{map[string]any{"name": oidcProvider, "client_ids": []string{oidcAudience}}},
		"ecs":            map[string]any{"role_name": ecsRole},
	}
}

// mount is one secrets engine mount under test.
type mount struct {
	Path     string `json:"path"`
	Impl     string `json:"impl"`
	Identity string `json:"identity"`
	// Cluster marks the mounts of the cluster phase's Raft cluster.
	Cluster bool   `json:"cluster,omitempty"`
	Note    string `json:"note,omitempty"`
}

// bench is one run: the processes and what the phases produced.
type bench struct {
	o    *options
	logf func(string, ...any)
	work string
	emu  *emulatorProc
	// emuShort issues short STS sessions (-sts-max-duration), so the
	// identity-refresh phases see several lifetimes of the engine's identity.
	emuShort *emulatorProc
	vault    *vaultProc
	vc       *vaultClient
	// cl is the cluster phase's Raft cluster, while it runs.
	cl *clusterRun

	ourExe, hcExe string // the binaries as Vault runs them, for /proc lookups
	ourBExe       string // -plugin-b as Vault runs it, when given
	issued        map[string]int
	configs       map[string]map[string]any // config written on each mount
	pprofListen   string
}

func (b *bench) shutdown() {
	if b.cl != nil {
		b.cl.cl.Stop()
	}
	if b.vault != nil {
		b.vault.Stop(30 * time.Second)
	}
	if b.emu != nil {
		b.emu.Stop(10 * time.Second)
	}
	if b.emuShort != nil {
		b.emuShort.Stop(10 * time.Second)
	}
}

func (b *bench) run(ctx context.Context, ourBin string) (*report, error) {
	rep := &report{Started: time.Now(), Machine: machineInfo(), Settings: settings{
		Clients: b.o.clients, Rounds: b.o.rounds, Duration: b.o.duration.String(), Warmup: b.o.warmup.String(),
		IdentityDuration: b.o.identityDuration.String(),
	}}
	b.issued = map[string]int{}
	if err := b.start(ourBin, rep); err != nil {
		return nil, err
	}
	var mounts []mount
	if b.vault != nil {
		var err error
		if mounts, err = b.setup(ctx); err != nil {
			return nil, err
		}
	}
	rep.Mounts = mounts
	rep.LoadBefore = loadAvg()

	phase := func(p *phaseResult, op opFunc, spec loadSpec, before func() error) error {
		emu := b.emu
		if p.Session > 0 {
			emu = b.emuShort
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.logf("phase %-13s %-20s ...", p.Kind, p.Name)
		if before == nil {
			before = emu.ResetCounters
		}
		// Every AssumeRole leaves a live session in the emulator; dropping
		// the earlier phases' ones keeps its heap, and so its share of the
		// CPU, the same for every phase. The seed's users and keys come back
		// unchanged, so the AccessKey mounts keep working; the identity
		// phases write their config again after this.
		if err := emu.admin(http.MethodPost, "/_emulator/reset", nil, nil); err != nil {
			return fmt.Errorf("resetting the emulator: %w", err)
		}
		var cpu0 cpuSnapshot
		res, err := runLoad(ctx, spec, op, func() error {
			err := before()
			cpu0 = b.cpuSnapshot()
			return err
		})
		if err != nil {
			return fmt.Errorf("phase %s %s: %w", p.Kind, p.Name, err)
		}
		p.CPU = b.cpuSnapshot().since(cpu0, res)
		p.Load = res
		calls, err := emu.Counters()
		if err != nil {
			return err
		}
		p.setCalls(calls)
		if p.Session > 0 {
			p.Lifetimes = round2(res.Seconds / p.Session)
			p.FetchesPerLifetime = round2(float64(p.IdentityFetches) / p.Lifetimes)
		}
		if p.Mount != "" {
			b.issued[p.Impl] += res.Ops
		}
		p.Memory = b.memory(p.Impl)
		if m, err := readMem(b.vault.Pid()); err == nil {
			p.VaultMemory = &m
		}
		b.logf("phase %-13s %-20s %8.1f/s p50 %6.2f ms p99 %7.2f ms  errors %d  calls/op %.2f", p.Kind, p.Name,
			res.PerSecond, res.P50MS, res.P99MS, res.Errors, p.CallsPerOp)
		if res.Errors > 0 {
			b.logf("  first error: %s", truncate(res.FirstError, 300))
		}
		// Leases and tokens left in Vault grow its heap, and with it the
		// garbage collector's share of every later request; revoking them
		// keeps the phases independent of their order.
		if p.Mount != "" {
			t0 := time.Now()
			if err := b.vc.do(ctx, http.MethodPut, "sys/leases/revoke-prefix/"+p.Mount, map[string]any{"sync": true}, nil); err != nil {
				return fmt.Errorf("revoking the leases of %s: %w", p.Mount, err)
			}
			b.logf("  revoked the leases under %s/ in %s", p.Mount, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	}
	spec := loadSpec{Clients: b.o.clients, Duration: b.o.duration, Warmup: b.o.warmup}
	byPath := map[string]mount{}
	for _, m := range mounts {
		byPath[m.Path] = m
	}

	// The throughput phases run in rounds, every other round in reverse
	// order, so that drift over the run (other work on the machine, CPU
	// frequency) falls on every mount alike; each phase's result combines
	// its rounds.
	type item struct {
		p       phaseResult // template
		profile string
		// prepare returns the operation and what to undo after the phase.
		prepare func() (opFunc, func() error, error)
	}
	var items []item
	noCleanup := func() error { return nil }
	if b.o.group("floor") {
		items = append(items, item{p: phaseResult{Kind: "floor", Name: "token-create", Impl: "vault"}, profile: "token_create",
			prepare: func() (opFunc, func() error, error) { return b.tokenCreateOp(ctx) }})
		for _, viaProxy := range []bool{true, false} {
			_, name, err := b.assumeRoleFloor(viaProxy)
			if err != nil {
				return nil, err
			}
			items = append(items, item{p: phaseResult{Kind: "floor", Name: name, Impl: "aliyun-client"},
				prepare: func() (opFunc, func() error, error) {
					op, _, err := b.assumeRoleFloor(viaProxy)
					return op, noCleanup, err
				}})
		}
	}
	if b.o.group("assumed_role") {
		for _, path := range []string{"ours", "ours-b", "ours-direct", "hc-builtin", "hc-external"} {
			if m, ok := byPath[path]; ok {
				items = append(items, item{p: phaseResult{Kind: "assumed_role", Name: m.Path, Mount: m.Path, Impl: m.Impl, Identity: m.Identity},
					profile: "assumed_role", prepare: func() (opFunc, func() error, error) { return b.assumedRoleOp(m.Path), noCleanup, nil }})
			}
		}
	}
	if b.o.group("ram_user") {
		for _, path := range []string{"ours", "ours-b", "hc-builtin", "hc-external"} {
			if m, ok := byPath[path]; ok {
				items = append(items, item{p: phaseResult{Kind: "ram_user", Name: m.Path, Mount: m.Path, Impl: m.Impl, Identity: m.Identity},
					profile: "ram_user", prepare: func() (opFunc, func() error, error) { return b.ramUserOp(m.Path), noCleanup, nil }})
			}
		}
	}
	rounds := make([][]*phaseResult, len(items))
	for r := range b.o.rounds {
		for k := range items {
			i := k
			if r%2 == 1 {
				i = len(items) - 1 - k
			}
			it := items[i]
			p := it.p
			p.Round = r + 1
			op, cleanup, err := it.prepare()
			if err != nil {
				return nil, err
			}
			stop := func() {}
			if r == 0 && it.profile != "" {
				stop = b.profile(&p, it.profile)
			}
			err = phase(&p, op, spec, nil)
			stop()
			if err != nil {
				return nil, err
			}
			if err := cleanup(); err != nil {
				return nil, err
			}
			rounds[i] = append(rounds[i], &p)
		}
	}
	for _, rs := range rounds {
		rep.Phases = append(rep.Phases, combineRounds(rs))
	}
	if b.o.group("identity") {
		for _, path := range []string{"ours-ecs", "ours-oidc", "hc-builtin-ecs", "hc-external-ecs", "ours-ecs-short", "ours-oidc-short"} {
			m, ok := byPath[path]
			if !ok {
				continue
			}
			ispec := loadSpec{Clients: b.o.clients, Duration: b.o.identityDuration}
			p := &phaseResult{Kind: "identity", Name: m.Path, Mount: m.Path, Impl: m.Impl, Identity: m.Identity}
			emu := b.emu
			if strings.HasSuffix(path, "-short") {
				ispec.Duration = b.o.refreshDuration
				p.Session = b.o.session.Seconds()
				emu = b.emuShort
			}
			// Counters are reset before the config is written again, which
			// drops the cached client: the cold identity fetch is counted.
			before := func() error {
				if err := emu.ResetCounters(); err != nil {
					return err
				}
				// The reset dropped the emulator's OIDC signing key with
				// the rest of its state: mint the token file again (the
				// plugin reads it at each refresh).
				if m.Identity == "oidc_role_arn" {
					if _, err := b.oidcTokenFile(emu, filepath.Base(b.configs[m.Path]["oidc_token_file"].(string))); err != nil {
						return err
					}
				}
				return b.vc.do(ctx, http.MethodPost, m.Path+"/config", b.configs[m.Path], nil)
			}
			if err := phase(p, b.assumedRoleOp(m.Path), ispec, before); err != nil {
				return nil, err
			}
			rep.Phases = append(rep.Phases, p)
		}
	}

	if b.vault != nil {
		for _, impl := range []string{implOurs, implOursB, implHCExternal, implHCBuiltin} {
			if m := b.memory(impl); m != nil {
				rep.Memory = append(rep.Memory, memoryResult{Impl: impl, Process: m.Process, Mem: m.Mem, CredentialsIssued: b.issued[impl]})
			}
		}
	}
	if b.o.runCluster() {
		// The dev server is done: stopping it leaves the machine's cores to
		// the cluster.
		if b.vault != nil {
			b.vault.Stop(30 * time.Second)
		}
		if err := b.runCluster(ctx, ourBin, rep); err != nil {
			return nil, err
		}
	}
	rep.LoadAfter = loadAvg()
	rep.Finished = time.Now()
	return rep, nil
}

// tokenCreateOp is the auth/token/create floor. The tokens are children of a
// parent made for the phase, so that revoking the parent afterwards removes
// them all.
func (b *bench) tokenCreateOp(ctx context.Context) (opFunc, func() error, error) {
	var parent secretResponse
	if err := b.vc.do(ctx, http.MethodPost, "auth/token/create", map[string]any{"ttl": "2h", "policies": []string{"root"}}, &parent); err != nil {
		return nil, nil, err
	}
	if parent.Auth == nil || parent.Auth.ClientToken == "" {
		return nil, nil, errors.New("auth/token/create: no token in the answer")
	}
	floorClient := &vaultClient{addr: b.vc.addr, token: parent.Auth.ClientToken, http: b.vc.http}
	op := func(ctx context.Context, _ int) error {
		var s secretResponse
		if err := floorClient.do(ctx, http.MethodPost, "auth/token/create", map[string]any{"ttl": "1h", "policies": []string{"default"}}, &s); err != nil {
			return err
		}
		if s.Auth == nil || s.Auth.ClientToken == "" {
			return errors.New("auth/token/create: no token in the answer")
		}
		return nil
	}
	cleanup := func() error {
		t0 := time.Now()
		if err := b.vc.do(ctx, http.MethodPut, "auth/token/revoke", map[string]any{"token": parent.Auth.ClientToken}, nil); err != nil {
			return fmt.Errorf("revoking the floor's tokens: %w", err)
		}
		b.logf("  revoked the floor's tokens in %s", time.Since(t0).Round(time.Millisecond))
		return nil
	}
	return op, cleanup, nil
}

// combineRounds merges the rounds of one phase: operations, errors, time,
// calls and CPU add up (throughput is all operations over all measured
// time); latency percentiles are the median of the rounds'.
func combineRounds(rs []*phaseResult) *phaseResult {
	if len(rs) == 1 {
		return rs[0]
	}
	last := rs[len(rs)-1]
	c := &phaseResult{Kind: last.Kind, Name: last.Name, Mount: last.Mount, Impl: last.Impl, Identity: last.Identity, Node: last.Node,
		Memory: last.Memory, VaultMemory: last.VaultMemory, Calls: map[string]int64{}}
	var p50, p90, p99 []float64
	var meanSum, cpuSecs float64
	ms := map[string]float64{}
	var runCores, otherCores float64
	for _, r := range rs {
		l := r.Load
		c.Load.Ops += l.Ops
		c.Load.Errors += l.Errors
		if c.Load.FirstError == "" {
			c.Load.FirstError = l.FirstError
		}
		c.Load.Seconds += l.Seconds
		c.Load.MaxMS = max(c.Load.MaxMS, l.MaxMS)
		meanSum += l.MeanMS * float64(l.Ops)
		p50, p90, p99 = append(p50, l.P50MS), append(p90, l.P90MS), append(p99, l.P99MS)
		for k, v := range r.Calls {
			c.Calls[k] += v
		}
		c.UpstreamCalls += r.UpstreamCalls
		c.IdentityCalls += r.IdentityCalls
		c.IdentityFetches += r.IdentityFetches
		c.Profiles = append(c.Profiles, r.Profiles...)
		if r.CPU != nil {
			for k, v := range r.CPU.MSPerOp {
				ms[k] += v * float64(l.Ops)
			}
			runCores += r.CPU.RunCores * l.Seconds
			otherCores += r.CPU.OtherCores * l.Seconds
			cpuSecs += l.Seconds
		}
		c.Rounds = append(c.Rounds, roundSummary{PerSecond: round2(l.PerSecond), P50MS: l.P50MS, P99MS: l.P99MS, Errors: l.Errors})
	}
	if c.Load.Seconds > 0 {
		c.Load.PerSecond = float64(c.Load.Ops) / c.Load.Seconds
	}
	if c.Load.Ops > 0 {
		c.Load.MeanMS = round2(meanSum / float64(c.Load.Ops))
		c.CallsPerOp = float64(c.UpstreamCalls) / float64(c.Load.Ops)
		u := &cpuUse{MSPerOp: map[string]float64{}}
		for k, v := range ms {
			u.MSPerOp[k] = round2(v / float64(c.Load.Ops))
		}
		if cpuSecs > 0 {
			u.RunCores, u.OtherCores = round2(runCores/cpuSecs), round2(otherCores/cpuSecs)
		}
		c.CPU = u
	}
	c.Load.P50MS, c.Load.P90MS, c.Load.P99MS = median(p50), median(p90), median(p99)
	return c
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuSnapshot is the CPU time used so far by each process of the run and by
// the whole machine.
type cpuSnapshot struct {
	at      time.Time
	procs   map[string]float64
	machine float64
}

func (b *bench) cpuSnapshot() cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), procs: map[string]float64{}}
	add := func(name string, pid int) {
		if v, err := cpuSeconds(pid); err == nil {
			s.procs[name] += v
		}
	}
	add("emulator", b.emu.Pid())
	if b.emuShort != nil {
		add("emulator", b.emuShort.Pid())
	}
	add("harness", os.Getpid())
	exes := map[string][]string{"plugin-ours": {b.ourExe}, "plugin-hashicorp": {b.hcExe}, "plugin-ours-b": {b.ourBExe}}
	if b.cl != nil {
		// Every node of the cluster and its plugin processes: a request
		// through a standby costs CPU on two servers.
		exes = map[string][]string{}
		for _, n := range b.cl.cl.Nodes {
			if pid := n.PID(); pid > 0 {
				add("vault", pid)
			}
			exes["plugin-ours"] = append(exes["plugin-ours"], n.PluginBinary(ourPluginName))
			exes["plugin-hashicorp"] = append(exes["plugin-hashicorp"], n.PluginBinary(hcPluginName))
		}
	} else {
		add("vault", b.vault.Pid())
	}
	for name, list := range exes {
		for _, exe := range list {
			if exe == "" {
				continue
			}
			pids, _ := findProcesses(exe)
			for _, pid := range pids {
				add(name, pid)
			}
		}
	}
	s.machine, _ = machineBusySeconds()
	return s
}

// since turns two snapshots into CPU milliseconds per successful operation
// for each process, and the cores the run's processes and everything else on
// the machine kept busy on average.
func (s cpuSnapshot) since(s0 cpuSnapshot, res loadResult) *cpuUse {
	wall := s.at.Sub(s0.at).Seconds()
	if wall <= 0 {
		return nil
	}
	u := &cpuUse{MSPerOp: map[string]float64{}}
	var ours float64
	for name, v := range s.procs {
		d := v - s0.procs[name]
		ours += d
		if res.Ops > 0 && d > 0 {
			u.MSPerOp[name] = round2(1000 * d / float64(res.Ops))
		}
	}
	u.RunCores = round2(ours / wall)
	u.OtherCores = round2(max(0, (s.machine-s0.machine-ours)/wall))
	return u
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// setCalls records the emulator's counters over the measured part of a phase
// whose Load is set: the upstream calls, per operation, and those for the
// engine's own identity.
func (p *phaseResult) setCalls(calls map[string]int64) {
	p.Calls = calls
	var total int64
	for _, n := range calls {
		total += n
	}
	p.UpstreamCalls = total
	if p.Load.Ops > 0 {
		p.CallsPerOp = float64(total) / float64(p.Load.Ops)
	}
	p.IdentityCalls, p.IdentityFetches = identityCalls(calls)
}

// identityCalls counts the calls a plugin made for its own identity (ECS
// metadata, the credentials URI, AssumeRoleWithOIDC) and, among them, the
// fetches that return credentials.
func identityCalls(c map[string]int64) (calls, fetches int64) {
	for k, v := range c {
		if strings.HasPrefix(k, "ecs:") || strings.HasPrefix(k, "credentialsuri:") || k == "sts:AssumeRoleWithOIDC" {
			calls += v
		}
		switch k {
		case "ecs:GetCredentials", "credentialsuri:GetCredentials", "sts:AssumeRoleWithOIDC":
			fetches += v
		}
	}
	return calls, fetches
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// start launches the emulator and Vault with the plugins in its plugin folder.
func (b *bench) start(ourBin string, rep *report) error {
	seedFile := filepath.Join(b.work, "seed.json")
	data, err := json.Marshal(seed())
	if err != nil {
		return err
	}
	if err := os.WriteFile(seedFile, data, 0o600); err != nil {
		return err
	}
	if b.emu, err = startEmulator(b.o.emulatorBin, b.work, "emulator", seedFile); err != nil {
		return err
	}
	if b.o.singleNode() && b.o.group("identity") && b.o.session > 0 {
		b.emuShort, err = startEmulator(b.o.emulatorBin, b.work, "emulator-short", seedFile, "-sts-max-duration", b.o.session.String())
		if err != nil {
			return err
		}
	}
	pluginDir := filepath.Join(b.work, "plugins")
	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		return err
	}
	b.ourExe = filepath.Join(pluginDir, ourPluginName)
	b.hcExe = filepath.Join(pluginDir, hcPluginName)
	if err := copyFile(ourBin, b.ourExe); err != nil {
		return err
	}
	if err := copyFile(b.o.hashicorpBin, b.hcExe); err != nil {
		return err
	}
	if b.o.pluginB != "" {
		b.ourBExe = filepath.Join(pluginDir, ourPluginBName)
		if err := copyFile(b.o.pluginB, b.ourBExe); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		path string
		dst  *binaryInfo
	}{{b.ourExe, &rep.Binaries.Ours}, {b.hcExe, &rep.Binaries.HashiCorpExternal}, {b.o.vaultBin, &rep.Binaries.Vault}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return err
		}
		f.dst.Path, f.dst.SizeMB = f.path, float64(fi.Size())/(1<<20)
	}
	rep.Binaries.HashiCorpExternal.Version, _ = hcplugin.Version(b.o.root)
	if out, err := exec.Command(b.o.vaultBin, "version").Output(); err == nil {
		rep.Binaries.Vault.Version = strings.TrimSpace(string(out))
	}
	if !b.o.singleNode() {
		b.logf("emulator %s (proxy %s), no dev server (cluster phase only), work folder %s", b.emu.URL, b.emu.ProxyURL, b.work)
		return nil
	}
	b.vault, err = startVault(b.o.vaultBin, b.work, pluginDir, b.emu, b.o.vaultLogLevel)
	if err != nil {
		return err
	}
	b.vc = newVaultClient(b.vault.Addr, b.vault.Token, b.o.clients)
	b.logf("emulator %s (proxy %s), vault %s, work folder %s", b.emu.URL, b.emu.ProxyURL, b.vault.Addr, b.work)
	return nil
}

// setup registers the external plugins, enables the mounts and writes
// equivalent config and roles on each.
func (b *bench) setup(ctx context.Context) ([]mount, error) {
	plugins := []struct{ name, exe string }{{ourPluginName, b.ourExe}, {hcPluginName, b.hcExe}}
	if b.ourBExe != "" {
		plugins = append(plugins, struct{ name, exe string }{ourPluginBName, b.ourBExe})
	}
	for _, p := range plugins {
		sum, err := sha256File(p.exe)
		if err != nil {
			return nil, err
		}
		in := map[string]any{"sha256": sum, "command": filepath.Base(p.exe)}
		if p.name != hcPluginName {
			// Our plugin's operator settings: the emulator's plain-HTTP
			// listener besides Alibaba's endpoints (reached through the
			// proxy), the ECS role, and token files in the work folder.
			env := b.ourPluginEnv()
			if b.o.pprofDir != "" && p.name == ourPluginName {
				env = append(env, "BENCH_PPROF_ADDR="+b.pprofAddr())
			}
			in["env"] = env
		}
		if err := b.vc.do(ctx, http.MethodPut, "sys/plugins/catalog/secret/"+p.name, in, nil); err != nil {
			return nil, fmt.Errorf("registering %s: %w", p.name, err)
		}
	}
	tokenFile, err := b.oidcTokenFile(b.emu, "oidc-token")
	if err != nil {
		return nil, err
	}

	accessKey := map[string]any{"access_key": rootKeyID, "secret_key": rootKeySecret}
	type spec struct {
		m      mount
		plugin string
		config map[string]any
		roles  []string
	}
	both := []string{stsRoleName, ramUserRole}
	specs := []spec{
		{mount{Path: "ours", Impl: implOurs, Identity: "access_key", Note: "default endpoints, through the proxy (same path as HashiCorp's)"}, ourPluginName, accessKey, both},
		{mount{Path: "hc-builtin", Impl: implHCBuiltin, Identity: "access_key"}, builtinName, accessKey, both},
		{mount{Path: "hc-external", Impl: implHCExternal, Identity: "access_key"}, hcPluginName, accessKey, both},
		{mount{Path: "ours-ecs", Impl: implOurs, Identity: "ecs_ram_role", Note: "metadata_endpoint = the emulator"},
			ourPluginName, map[string]any{"credential_type": "ecs_ram_role", "metadata_endpoint": b.emu.URL}, []string{stsRoleName}},
		{mount{Path: "ours-oidc", Impl: implOurs, Identity: "oidc_role_arn"}, ourPluginName, map[string]any{
			"credential_type": "oidc_role_arn", "role_arn": oidcRoleARN, "oidc_provider_arn": oidcProvARN, "oidc_token_file": tokenFile,
		}, []string{stsRoleName}},
		{mount{Path: "hc-builtin-ecs", Impl: implHCBuiltin, Identity: "ecs_ram_role", Note: "empty keys: the SDK's chain falls to http://100.100.100.200 (through the proxy)"},
			builtinName, map[string]any{"access_key": "", "secret_key": ""}, []string{stsRoleName}},
		{mount{Path: "hc-external-ecs", Impl: implHCExternal, Identity: "ecs_ram_role", Note: "as hc-builtin-ecs"},
			hcPluginName, map[string]any{"access_key": "", "secret_key": ""}, []string{stsRoleName}},
	}
	if b.ourBExe != "" {
		specs = append(specs[:1], append([]spec{{mount{Path: "ours-b", Impl: implOursB, Identity: "access_key",
			Note: "-plugin-b " + b.o.pluginB}, ourPluginBName, accessKey, both}}, specs[1:]...)...)
	}
	if b.o.direct {
		direct := map[string]any{"access_key": rootKeyID, "secret_key": rootKeySecret, "sts_endpoint": b.emu.URL, "ram_endpoint": b.emu.URL}
		specs = append(specs[:1], append([]spec{{mount{Path: "ours-direct", Impl: implOurs, Identity: "access_key",
			Note: "sts/ram_endpoint = the emulator's plain-HTTP listener (no proxy, no TLS)"}, ourPluginName, direct, []string{stsRoleName}}}, specs[1:]...)...)
	}
	if b.emuShort != nil {
		shortToken, err := b.oidcTokenFile(b.emuShort, "oidc-token-short")
		if err != nil {
			return nil, err
		}
		u := b.emuShort.URL
		note := fmt.Sprintf("every endpoint on a second emulator whose STS sessions last %s", b.o.session)
		specs = append(specs,
			spec{mount{Path: "ours-ecs-short", Impl: implOurs, Identity: "ecs_ram_role", Note: note}, ourPluginName, map[string]any{
				"credential_type": "ecs_ram_role", "metadata_endpoint": u, "sts_endpoint": u, "ram_endpoint": u,
			}, []string{stsRoleName}},
			spec{mount{Path: "ours-oidc-short", Impl: implOurs, Identity: "oidc_role_arn", Note: note}, ourPluginName, map[string]any{
				"credential_type": "oidc_role_arn", "role_arn": oidcRoleARN, "oidc_provider_arn": oidcProvARN, "oidc_token_file": shortToken,
				"sts_endpoint": u, "ram_endpoint": u,
			}, []string{stsRoleName}})
	}
	var mounts []mount
	b.configs = map[string]map[string]any{}
	for _, s := range specs {
		b.configs[s.m.Path] = s.config
		if err := b.vc.do(ctx, http.MethodPost, "sys/mounts/"+s.m.Path, map[string]any{"type": s.plugin}, nil); err != nil {
			return nil, fmt.Errorf("enabling %s at %s: %w", s.plugin, s.m.Path, err)
		}
		if err := b.vc.do(ctx, http.MethodPost, s.m.Path+"/config", s.config, nil); err != nil {
			return nil, fmt.Errorf("%s/config: %w", s.m.Path, err)
		}
		for _, r := range s.roles {
			in := map[string]any{"role_arn": targetARN}
			if r == ramUserRole {
				in = map[string]any{"remote_policies": []string{remotePolicy}}
			}
			if err := b.vc.do(ctx, http.MethodPost, s.m.Path+"/role/"+r, in, nil); err != nil {
				return nil, fmt.Errorf("%s/role/%s: %w", s.m.Path, r, err)
			}
		}
		mounts = append(mounts, s.m)
	}
	// One credential from each mount before any phase: a broken set-up fails
	// here with the plugin's own error rather than as a phase of errors.
	for _, s := range specs {
		if _, err := b.vc.readCreds(ctx, s.m.Path, stsRoleName, true); err != nil {
			return nil, fmt.Errorf("smoke test: %w", err)
		}
	}
	return mounts, nil
}

// ourPluginEnv is our plugin's operator settings: the emulator's plain-HTTP
// listener allowed besides Alibaba's endpoints, the ECS role, and token files
// in the work folder.
func (b *bench) ourPluginEnv() []string {
	return []string{
		"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*",
		"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true",
		"ALICLOUD_PLUGIN_TOKEN_DIRS=" + b.work,
	}
}

// oidcTokenFile has emu's built-in issuer mint a token for the engine's OIDC
// identity and writes it where an ACK cluster would mount it.
func (b *bench) oidcTokenFile(emu *emulatorProc, name string) (string, error) {
	var tok struct {
		Token string `json:"token"`
	}
	if err := emu.admin(http.MethodPost, "/_emulator/oidc/token", map[string]any{
		"provider": oidcProvider, "subject": "system:serviceaccount:vault:vault", "audience": oidcAudience, "ttl_seconds": 3 * 3600,
	}, &tok); err != nil {
		return "", err
	}
	path := filepath.Join(b.work, name)
	return path, os.WriteFile(path, []byte(tok.Token), 0o600)
}

func (b *bench) assumedRoleOp(path string) opFunc {
	return func(ctx context.Context, _ int) error {
		_, err := b.vc.readCreds(ctx, path, stsRoleName, true)
		return err
	}
}

// ramUserOp issues a ram_user credential and revokes its lease, which makes
// the plugin delete the user in the cloud before Vault answers.
func (b *bench) ramUserOp(path string) opFunc {
	return func(ctx context.Context, _ int) error {
		s, err := b.vc.readCreds(ctx, path, ramUserRole, false)
		if err != nil {
			return err
		}
		if err := b.vc.revoke(ctx, s.LeaseID); err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		return nil
	}
}

// assumeRoleFloor is AssumeRole called straight from this process with our
// aliyun client: through the emulator's proxy and TLS (the path the plugins
// take) or on its plain-HTTP listener.
func (b *bench) assumeRoleFloor(viaProxy bool) (opFunc, string, error) {
	o := aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: rootKeyID, AccessKeySecret: rootKeySecret}),
		MaxRetries:  0,
	}
	name := "assumerole-direct"
	if viaProxy {
		name = "assumerole-proxy"
		pem, err := os.ReadFile(b.emu.CAFile)
		if err != nil {
			return nil, "", err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("%s: no certificate", b.emu.CAFile)
		}
		proxy, err := url.Parse(b.emu.ProxyURL)
		if err != nil {
			return nil, "", err
		}
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy:               http.ProxyURL(proxy),
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 2 * b.o.clients,
			IdleConnTimeout:     time.Minute,
		}}
	} else {
		o.Endpoints = map[aliyun.Product]string{aliyun.STS: b.emu.URL}
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 2 * b.o.clients, IdleConnTimeout: time.Minute,
		}}
	}
	c, err := aliyun.NewClient(o)
	if err != nil {
		return nil, "", err
	}
	return func(ctx context.Context, _ int) error {
		out, err := c.AssumeRole(ctx, aliyun.AssumeRoleInput{RoleArn: targetARN, RoleSessionName: "bench-floor"})
		if err != nil {
			return err
		}
		if out.Credentials.SecurityToken == "" {
			return errors.New("AssumeRole: no security token")
		}
		return nil
	}, name, nil
}

// memory reads the memory of the process serving impl: the plugin process
// for external plugins, Vault itself for the builtin.
func (b *bench) memory(impl string) *memSample {
	var exe, proc string
	switch impl {
	case implOurs:
		exe, proc = b.ourExe, "plugin"
	case implHCExternal:
		exe, proc = b.hcExe, "plugin"
	case implOursB:
		if b.ourBExe == "" {
			return nil
		}
		exe, proc = b.ourBExe, "plugin"
	case implHCBuiltin, "vault":
		m, err := readMem(b.vault.Pid())
		if err != nil {
			return nil
		}
		return &memSample{Process: "vault (hosts the builtin)", Mem: m}
	default:
		return nil
	}
	m, err := pluginMem(exe)
	if err != nil {
		return nil
	}
	return &memSample{Process: proc, Mem: m}
}
