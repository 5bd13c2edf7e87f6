package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// weightedKind is a fault kind and how often it is chosen.
type weightedKind struct {
	Kind   string
	Weight float64
}

// allFaultKinds are the kinds the soak knows; reset and lost_answer are new
// in the emulator.
var allFaultKinds = []string{"throttle", "5xx", "latency", "drop", "reset", "lost_answer"}

func parseFaultKinds(spec string) ([]weightedKind, error) {
	var out []weightedKind
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		weight := 1.0
		if hasW {
			f, err := strconv.ParseFloat(w, 64)
			if err != nil || f < 0 {
				return nil, fmt.Errorf("-faults: %q: the weight must be a non-negative number", part)
			}
			weight = f
		}
		known := false
		for _, k := range allFaultKinds {
			known = known || k == name
		}
		if !known {
			return nil, fmt.Errorf("-faults: unknown kind %q (known: %s)", name, strings.Join(allFaultKinds, ", "))
		}
		if weight > 0 {
			out = append(out, weightedKind{name, weight})
		}
	}
	return out, nil
}

// faultRule is one rule of the emulator's admin API.
func faultRule(kind string, count int, r *mrand.Rand) map[string]any {
	rule := map[string]any{"action": "*", "kind": kind, "count": count}
	switch kind {
	case "latency":
		rule["latency"] = (time.Duration(100+r.IntN(1400)) * time.Millisecond).String()
	case "5xx":
		rule["status"] = 503
	}
	return rule
}

// probeFaultKinds asks the emulator to accept one rule of each kind (with a
// count that never fires: the rules are replaced at once) and leaves out,
// or fails on, the kinds it refuses.
func (s *soak) probeFaultKinds() error {
	var kept []weightedKind
	r := mrand.New(mrand.NewPCG(1, 1))
	for _, k := range s.faultKinds {
		err := s.emu.admin(http.MethodPut, "/_emulator/faults", map[string]any{"rules": []any{
			map[string]any{"action": "NoSuchAction", "kind": k.Kind, "count": 1, "latency": faultRule(k.Kind, 1, r)["latency"]}}}, nil)
		if err != nil {
			if s.o.RequireFaults {
				return fmt.Errorf("the emulator refuses fault kind %s: %v", k.Kind, err)
			}
			s.faultsRefused = append(s.faultsRefused, k.Kind)
			s.logf("the emulator refuses fault kind %s (left out; merge the emulator's new faults): %v", k.Kind, err)
			continue
		}
		kept = append(kept, k)
		s.faults[k.Kind] = &faultTally{}
	}
	s.faultKinds = kept
	return s.emu.admin(http.MethodDelete, "/_emulator/faults", nil, nil)
}

// faultTally counts the faults of one kind the emulator applied: armed ones
// are counted as injected once at least count RAM or STS requests reached
// the emulator after the rule was set (a rule with probability 1 and a
// count fires on the next count requests), so the tally is exact.
type faultTally struct {
	Injected int `json:"injected"`
	Bursts   int `json:"bursts"`
	// Unfired were armed when the load stopped and may not have fired.
	Unfired int `json:"unfired_at_end,omitempty"`
}

// rpcCount is the number of RAM and STS requests that reached the emulator.
func (s *soak) rpcCount() (int64, error) {
	c, err := s.emu.Counters()
	if err != nil {
		return 0, err
	}
	var n int64
	for k, v := range c {
		if strings.HasPrefix(k, "ram:") || strings.HasPrefix(k, "sts:") {
			n += v
		}
	}
	return n, nil
}

// faultLoop arms faults at random times: one kind at a time, a burst of
// 1-4 consecutive requests (all actions), at FaultRate faults per second on
// average. It waits until a burst has fired before arming the next.
func (s *soak) faultLoop(ctx context.Context, r *mrand.Rand) {
	defer func() { _ = s.emu.admin(http.MethodDelete, "/_emulator/faults", nil, nil) }()
	if len(s.faultKinds) == 0 || s.o.FaultRate <= 0 {
		return
	}
	var total float64
	for _, k := range s.faultKinds {
		total += k.Weight
	}
	for ctx.Err() == nil {
		count := 1
		if r.IntN(4) == 0 {
			count = 2 + r.IntN(3)
		}
		pause(ctx, time.Duration(r.ExpFloat64()*float64(count)/s.o.FaultRate*float64(time.Second)))
		if ctx.Err() != nil {
			return
		}
		x := r.Float64() * total
		kind := s.faultKinds[len(s.faultKinds)-1].Kind
		for _, k := range s.faultKinds {
			if x < k.Weight {
				kind = k.Kind
				break
			}
			x -= k.Weight
		}
		if err := s.emu.admin(http.MethodPut, "/_emulator/faults", map[string]any{
			"seed": r.Int64N(math.MaxInt64-1) + 1, "rules": []any{faultRule(kind, count, r)}}, nil); err != nil {
			s.logf("arming a %s fault: %v", kind, err)
			continue
		}
		base, err := s.rpcCount()
		if err != nil {
			continue
		}
		s.mu.Lock()
		s.faults[kind].Bursts++
		s.mu.Unlock()
		for {
			n, err := s.rpcCount()
			if err == nil && n-base >= int64(count) {
				s.mu.Lock()
				s.faults[kind].Injected += count
				s.mu.Unlock()
				break
			}
			if ctx.Err() != nil {
				fired := 0
				if err == nil {
					fired = int(n - base)
				}
				s.mu.Lock()
				s.faults[kind].Injected += fired
				s.faults[kind].Unfired += count - fired
				s.mu.Unlock()
				return
			}
			pause(ctx, 50*time.Millisecond)
		}
	}
}

// chaosLoop kills the plugin process and Vault at times spread over the
// duration (evenly, with jitter from r), restarting Vault on its storage.
func (s *soak) chaosLoop(ctx context.Context, r *mrand.Rand) error {
	type ev struct {
		at    time.Duration
		vault bool
	}
	var evs []ev
	d := s.o.Duration
	spread := func(n int, vault bool) {
		for i := 0; i < n; i++ {
			slot := d / time.Duration(n+1)
			jitter := time.Duration((r.Float64() - 0.5) * 0.6 * float64(slot))
			evs = append(evs, ev{at: slot*time.Duration(i+1) + jitter, vault: vault})
		}
	}
	spread(s.o.PluginKills, false)
	spread(s.o.VaultRestarts, true)
	sort.Slice(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	loadStart := time.Now()
	for _, e := range evs {
		pause(ctx, time.Until(loadStart.Add(e.at)))
		if ctx.Err() != nil {
			return nil
		}
		if e.vault {
			if err := s.restartVault(ctx); err != nil {
				return err
			}
		} else {
			s.killPlugin(ctx)
		}
	}
	return nil
}

// killPlugin sends SIGKILL to the plugin process among Vault's children.
func (s *soak) killPlugin(ctx context.Context) {
	rec := killRecord{At: time.Now().UTC().Format("15:04:05.000"), Offset: time.Since(s.start).Round(time.Second).String()}
	for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
		vpid := s.vault.pid()
		pids := processesOf(s.pluginExe, vpid)
		if vpid == 0 || len(pids) == 0 {
			// Vault starts the plugin on the next request to the mount.
			_ = s.vc.do(ctx, http.MethodGet, mount+"/role/", nil, nil)
			pause(ctx, 250*time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.killTimes = append(s.killTimes, time.Now())
		s.mu.Unlock()
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				rec.PIDs = append(rec.PIDs, pid)
			}
		}
		break
	}
	if len(rec.PIDs) == 0 {
		rec.Note = "no plugin process found"
	}
	s.logf("plugin kill %v %s", rec.PIDs, rec.Note)
	s.mu.Lock()
	s.pluginKills = append(s.pluginKills, rec)
	s.mu.Unlock()
}

// restartVault kills Vault with SIGKILL, starts it on the same storage,
// unseals it and waits until the mount answers.
func (s *soak) restartVault(ctx context.Context) error {
	rec := killRecord{At: time.Now().UTC().Format("15:04:05.000"), Offset: time.Since(s.start).Round(time.Second).String(), PIDs: []int{s.vault.pid()}}
	s.vaultDown.Store(true)
	defer s.vaultDown.Store(false)
	s.mu.Lock()
	s.killTimes = append(s.killTimes, time.Now())
	s.mu.Unlock()
	s.vault.Kill()
	t0 := time.Now()
	if err := s.vault.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("restarting vault: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.vc.do(context.WithoutCancel(ctx), http.MethodGet, mount+"/config", nil, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mount does not answer 60s after the vault restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rec.Note = "back in " + time.Since(t0).Round(100*time.Millisecond).String()
	s.logf("vault restart: %s", rec.Note)
	s.mu.Lock()
	s.vaultRestarts = append(s.vaultRestarts, rec)
	s.mu.Unlock()
	return nil
}

// harvestSecretsLoop reads the emulator's state file now and then and
// records the secrets of the engine's and static role's keys (the harness
// never sees the keys rotate-root and the static rotation create), to look
// for them in Vault's logs at the end.
func (s *soak) harvestSecretsLoop(ctx context.Context) {
	for ctx.Err() == nil {
		s.harvestSecrets()
		pause(ctx, 4*time.Second)
	}
}

func (s *soak) harvestSecrets() {
	b, err := os.ReadFile(s.emu.StateFile)
	if err != nil {
		return
	}
	var st struct {
		Users map[string]struct {
			AccessKeys []struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			} `json:"access_keys"`
		} `json:"users"`
	}
	if json.Unmarshal(b, &st) != nil {
		return
	}
	for _, u := range []string{engineUser, staticUser} {
		for _, k := range st.Users[u].AccessKeys {
			s.secrets.add("secret of "+u+" key "+k.ID, k.Secret)
		}
	}
}
