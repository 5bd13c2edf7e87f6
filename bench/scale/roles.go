package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"time"
)

// roleCase is one mount of the roles axis: n roles of one kind on one
// implementation.
type roleCase struct {
	Impl  string `json:"impl"`
	Kind  string `json:"kind"` // assumed_role, ram_user
	Roles int    `json:"roles"`
	Mount string `json:"mount"`
	// Create is the latency of the role writes that made the roles (4
	// writers); Update that of -role-writes updates of random roles, one at
	// a time, after the throughput rounds.
	Create latencies `json:"create"`
	Update latencies `json:"update"`
	// Issue is the throughput over random roles: assumed_role, a credential;
	// ram_user, a credential then its revocation. Rounds are combined: all
	// operations over all measured time, latency percentiles the median of
	// the rounds'.
	Issue  latencies   `json:"issue"`
	Rounds []latencies `json:"rounds"`
	// PluginAfter is the plugin process after this mount's roles were written
	// and each read once (the role cache full), with every earlier case's
	// mount still there: the plugin serves every mount of the axis.
	PluginAfter procSample `json:"plugin_after"`
	// RolesInProcess counts the roles the plugin process holds at that
	// point, over all its mounts.
	RolesInProcess int      `json:"roles_in_process"`
	Profiles       []string `json:"profiles,omitempty"`
}

// rolesResult is the roles axis.
type rolesResult struct {
	Cases       []*roleCase           `json:"cases"`
	PluginFinal map[string]procSample `json:"plugin_final"`
	VaultFinal  procSample            `json:"vault_final"`
	Profiles    []string              `json:"profiles,omitempty"`
}

func roleName(i int) string { return fmt.Sprintf("r%05d", i) }

// inlinePolicy is a policy document of its own for role i, so that each
// ram_user role owns a distinct custom policy in RAM.
func inlinePolicy(i int) string {
	return fmt.Sprintf(`[{"Version":"1","Statement":[{"Effect":"Allow","Action":["ecs:DescribeInstances"],"Resource":["acs:ecs:*:%s:instance/i-bench%05d"]}]}]`, accountID, i)
}

func roleBody(kind string, i int) map[string]any {
	if kind == "ram_user" {
		// A remote policy as well: HashiCorp's plugin cannot revoke a user
		// of a role without one ("malformed remote_policies internal data"),
		// and both plugins get the same work.
		return map[string]any{"inline_policies": inlinePolicy(i), "remote_policies": []string{"name:ReadOnlyAccess,type:System"}}
	}
	return map[string]any{"role_arn": targetARN}
}

func (r *runner) rolesAxis(ctx context.Context, rep *report) error {
	s, err := r.newStack(ctx, "roles", "inmem")
	if err != nil {
		return err
	}
	res := &rolesResult{PluginFinal: map[string]procSample{}}
	rep.Roles = res
	impls := []string{implOurs}
	if r.o.hashicorp {
		impls = append(impls, implHC)
	}
	for _, impl := range impls {
		inProcess := 0
		for _, kc := range []struct {
			kind  string
			sizes intList
		}{{"assumed_role", r.o.roles}, {"ram_user", r.o.ramRoles}} {
			for _, n := range kc.sizes {
				short := map[string]string{"assumed_role": "r", "ram_user": "u"}[kc.kind]
				c := &roleCase{Impl: impl, Kind: kc.kind, Roles: n, Mount: fmt.Sprintf("%s-%s%d", impl, short, n)}
				r.logf("roles: %s: writing %d %s roles", c.Mount, n, kc.kind)
				if err := s.mount(ctx, c.Mount, impl, accessKey); err != nil {
					return err
				}
				lat, errs, first, el := drive(ctx, 4, 0, n, func() opFunc {
					var next sync.Mutex
					i := 0
					return func(ctx context.Context, _ int) error {
						next.Lock()
						me := i
						i++
						next.Unlock()
						return s.vc.do(ctx, http.MethodPost, c.Mount+"/role/"+roleName(me), roleBody(kc.kind, me), nil)
					}
				}())
				c.Create = summarize(lat, errs, first, el)
				if errs > 0 {
					return fmt.Errorf("%s: %d role writes failed, first: %s", c.Mount, errs, first)
				}
				// Each role read once, so that our role cache holds them all
				// when the memory is read.
				r.logf("roles: %s: reading each role once", c.Mount)
				prime := r.issueOp(s, c, true)
				_, errs, first, _ = drive(ctx, r.o.clients, 0, n, prime)
				if errs > 0 {
					return fmt.Errorf("%s: %d first reads failed, first: %s", c.Mount, errs, first)
				}
				inProcess += n
				c.RolesInProcess = inProcess
				c.PluginAfter = s.plugin(impl)
				res.Cases = append(res.Cases, c)
				if kc.kind == "assumed_role" {
					if err := s.vc.revokePrefix(ctx, c.Mount+"/creds/"); err != nil {
						return err
					}
				}
			}
		}
	}

	// Throughput rounds over every case, every other round in reverse order,
	// so that drift on the machine falls on every case alike.
	for round := range r.o.rounds {
		order := make([]*roleCase, len(res.Cases))
		copy(order, res.Cases)
		if round%2 == 1 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, c := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			var stopProf func() []string
			if c.Impl == implOurs && r.o.pprofDir != "" {
				stopProf = r.cpuProfile(s, fmt.Sprintf("roles-%s-round%d", c.Mount, round+1), r.o.warmup+r.o.duration)
			}
			l := measure(ctx, r.o.clients, r.o.warmup, r.o.duration, r.issueOp(s, c, false), s.pluginPID(c.Impl))
			if stopProf != nil {
				c.Profiles = append(c.Profiles, stopProf()...)
			}
			r.logf("roles: round %d %-22s %8.1f/s p50 %6.2f ms p99 %7.2f ms errors %d", round+1, c.Mount, l.PerSecond, l.P50MS, l.P99MS, l.Errors)
			c.Rounds = append(c.Rounds, l)
			if c.Kind == "assumed_role" {
				// Leases of the round go, so that Vault's lease count is the
				// same for every case.
				if err := s.vc.revokePrefix(ctx, c.Mount+"/creds/"); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range res.Cases {
		c.Issue = combine(c.Rounds)
		var lat []time.Duration
		var errs int
		var first string
		t0 := time.Now()
		for range r.o.roleWrites {
			i := rand.IntN(c.Roles)
			t := time.Now()
			if err := s.vc.do(ctx, http.MethodPost, c.Mount+"/role/"+roleName(i), roleBody(c.Kind, i), nil); err != nil {
				errs++
				if first == "" {
					first = err.Error()
				}
				continue
			}
			lat = append(lat, time.Since(t))
		}
		c.Update = summarize(lat, errs, first, time.Since(t0))
	}
	for _, impl := range impls {
		res.PluginFinal[impl] = s.plugin(impl)
	}
	res.VaultFinal = s.vaultSample()
	res.Profiles = r.profiles(s, "roles")
	return nil
}

// issueOp reads credentials of random roles of c (or, when each, of every
// role in turn); a ram_user credential is revoked at once, which makes the
// plugin delete its user.
func (r *runner) issueOp(s *stack, c *roleCase, each bool) opFunc {
	var mu sync.Mutex
	next := 0
	return func(ctx context.Context, _ int) error {
		i := rand.IntN(c.Roles)
		if each {
			mu.Lock()
			i = next % c.Roles
			next++
			mu.Unlock()
		}
		sec, err := s.vc.readCreds(ctx, c.Mount, roleName(i), c.Kind == "assumed_role")
		if err != nil {
			return err
		}
		if c.Kind == "ram_user" {
			return s.vc.revoke(ctx, sec.LeaseID)
		}
		return nil
	}
}

// combine merges rounds: all operations over all measured time; latency
// percentiles the median of the rounds'.
func combine(rounds []latencies) latencies {
	var out latencies
	var p50, p99, mx []float64
	var cpu float64
	for _, l := range rounds {
		cpu += l.PluginCPUMS * float64(l.Ops)
		out.Ops += l.Ops
		out.Errors += l.Errors
		out.Seconds += l.Seconds
		if out.FirstError == "" {
			out.FirstError = l.FirstError
		}
		p50, p99, mx = append(p50, l.P50MS), append(p99, l.P99MS), append(mx, l.MaxMS)
	}
	if out.Seconds > 0 {
		out.PerSecond = round2(float64(out.Ops) / out.Seconds)
	}
	if out.Ops > 0 {
		out.PluginCPUMS = round2(cpu / float64(out.Ops))
	}
	out.Seconds = round2(out.Seconds)
	out.P50MS, out.P99MS, out.MaxMS = median(p50), median(p99), median(mx)
	return out
}

// cpuProfile starts a CPU profile of our plugin covering d; the returned
// func waits for it.
func (r *runner) cpuProfile(s *stack, name string, d time.Duration) func() []string {
	path := filepath.Join(r.o.pprofDir, name+"-cpu.pprof")
	secs := int(d.Seconds() + 0.999)
	done := make(chan error, 1)
	go func() {
		done <- fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprofAddr, secs), path, d+30*time.Second)
	}()
	return func() []string {
		if err := <-done; err != nil {
			r.logf("pprof: %v", err)
			return nil
		}
		return []string{path}
	}
}
