package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole run, written as JSON.
type report struct {
	Started    time.Time      `json:"started"`
	Finished   time.Time      `json:"finished"`
	Machine    machine        `json:"machine"`
	LoadBefore string         `json:"load_before"`
	LoadAfter  string         `json:"load_after"`
	Settings   map[string]any `json:"settings"`
	Latency    *latencyResult `json:"latency,omitempty"`
	Roles      *rolesResult   `json:"roles,omitempty"`
	Mounts     []*mountCase   `json:"mounts,omitempty"`
	Leases     []*leaseCase   `json:"leases,omitempty"`
	Hours      *hoursResult   `json:"hours,omitempty"`
	Goals      []goal         `json:"goals"`
	Failed     []string       `json:"failed,omitempty"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  string `json:"mem_total"`
	GoVersion string `json:"go_version"`
}

// goal is one goal of issue 17 and whether this run met it.
type goal struct {
	Axis  string `json:"axis"`
	Goal  string `json:"goal"`
	Value string `json:"value"`
	Want  string `json:"want"`
	Met   bool   `json:"met"`
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	for _, f := range []struct {
		file, key string
		dst       *string
	}{{"/proc/cpuinfo", "model name", &m.CPUModel}, {"/proc/meminfo", "MemTotal", &m.MemTotal}} {
		fh, err := os.Open(f.file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == f.key {
				*f.dst = strings.TrimSpace(v)
				break
			}
		}
		fh.Close()
	}
	return m
}

func (o *options) settings() map[string]any {
	return map[string]any{
		"quick": o.quick, "hashicorp": o.hashicorp, "axes": o.axes,
		"clients": o.clients, "rounds": o.rounds, "duration": o.duration.String(), "warmup": o.warmup.String(),
		"roles": o.roles.String(), "ram_roles": o.ramRoles.String(), "role_writes": o.roleWrites,
		"leases": o.leases, "lease_clients": o.leaseClients, "mounts": o.mounts.String(),
		"hours_duration": o.hoursDuration.String(), "hours_interval": o.hoursInterval.String(),
		"hours_rate": o.hoursRate, "hours_session": o.hoursSession.String(), "latency_ops": o.latencyOps,
	}
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
	return round2((s[len(s)/2-1] + s[len(s)/2]) / 2)
}

// The goals of issue 17.
const (
	rssBaseMB      = 64.0
	rssPerRoleKB   = 2.0
	throughputLoss = 0.10 // at most 10% below the smallest case
	p99Rise        = 0.10 // at most 10% above the smallest case
	overTokenMS    = 1.0
)

func (rep *report) evaluate(o *options) {
	add := func(axis, g, value, want string, met bool) {
		rep.Goals = append(rep.Goals, goal{Axis: axis, Goal: g, Value: value, Want: want, Met: met})
	}
	if l := rep.Latency; l != nil {
		if v, ok := l.OverTokenMS[implOurs]; ok {
			add("latency", "ours creds/ p50 minus auth/token/create p50", fmt.Sprintf("%.2f ms", v), fmt.Sprintf("< %.0f ms", overTokenMS), v < overTokenMS)
			if d, ok := l.OverTokenMS["ours-direct"]; ok {
				add("latency", "  the same on the emulator's plain endpoint (ours-direct: no proxy, no TLS)", fmt.Sprintf("%.2f ms", d), fmt.Sprintf("< %.0f ms", overTokenMS), d < overTokenMS)
			}
			u := l.OverUpstreamMS[implOurs]
			add("latency", "  the same without the upstream AssumeRole (its p50 from the harness)", fmt.Sprintf("%.2f ms", u), fmt.Sprintf("< %.0f ms", overTokenMS), u < overTokenMS)
		}
	}
	if r := rep.Roles; r != nil {
		for _, kind := range []string{"assumed_role", "ram_user"} {
			var base *roleCase
			for _, c := range r.Cases {
				if c.Impl != implOurs || c.Kind != kind {
					continue
				}
				if base == nil {
					base = c
					continue
				}
				if base.Issue.PerSecond > 0 {
					ratio := c.Issue.PerSecond / base.Issue.PerSecond
					add("roles", fmt.Sprintf("ours %s throughput, %d roles vs %d", kind, c.Roles, base.Roles),
						fmt.Sprintf("%.0f%%", 100*ratio), fmt.Sprintf(">= %.0f%%", 100*(1-throughputLoss)), ratio >= 1-throughputLoss)
				}
				if base.Issue.PluginCPUMS > 0 && c.Issue.PluginCPUMS > 0 {
					ratio := c.Issue.PluginCPUMS / base.Issue.PluginCPUMS
					add("roles", fmt.Sprintf("  ours %s plugin CPU per credential, %d roles vs %d (steadier than throughput)", kind, c.Roles, base.Roles),
						fmt.Sprintf("%.0f%% (%.2f vs %.2f ms)", 100*ratio, c.Issue.PluginCPUMS, base.Issue.PluginCPUMS), fmt.Sprintf("<= %.0f%%", 100*(1+throughputLoss)), ratio <= 1+throughputLoss)
				}
				if base.Issue.P99MS > 0 {
					ratio := c.Issue.P99MS / base.Issue.P99MS
					add("roles", fmt.Sprintf("ours %s p99, %d roles vs %d", kind, c.Roles, base.Roles),
						fmt.Sprintf("%.0f%%", 100*ratio), fmt.Sprintf("<= %.0f%%", 100*(1+p99Rise)), ratio <= 1+p99Rise)
				}
			}
		}
		var last *roleCase
		for _, c := range r.Cases {
			if c.Impl == implOurs {
				last = c
			}
		}
		if last != nil {
			// The peak (VmHWM) covers the moment every role was cached and
			// the load that followed.
			rss := r.PluginFinal[implOurs].PeakMB
			limit := rssBaseMB + rssPerRoleKB*float64(last.RolesInProcess)/1024
			add("roles", fmt.Sprintf("ours plugin peak RSS with %d roles (all mounts, cached, under load)", last.RolesInProcess),
				fmt.Sprintf("%.1f MB", rss), fmt.Sprintf("< %.1f MB (64 MB + 2 KB/role)", limit), rss > 0 && rss < limit)
		}
	}
	for _, c := range rep.Mounts {
		if c.Impl != implOurs {
			continue
		}
		add("mounts", fmt.Sprintf("ours identity fetches per mount, %d mounts (ECS and OIDC)", c.Mounts),
			fmt.Sprintf("%.2f", c.FetchesPerMount), fmt.Sprintf("<= %d (one per identity lifetime)", c.IdentityLifetimes),
			c.FetchesPerMount <= float64(c.IdentityLifetimes))
	}
	for _, c := range rep.Leases {
		if c.Impl != implOurs {
			continue
		}
		add("leases", fmt.Sprintf("ours upstream calls for revoke-prefix of %d STS leases", c.Leases),
			fmt.Sprintf("%d", c.RevokeUpstream), "0", c.RevokeUpstream == 0 && c.LeftAfterRevoke == 0)
	}
	if h := rep.Hours; h != nil {
		names := make([]string, 0, len(h.Trends))
		for n := range h.Trends {
			if !strings.HasPrefix(n, implHC) && !strings.HasPrefix(n, "vault") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			t := h.Trends[n]
			add("hours", n+" flat over "+h.Duration, fmt.Sprintf("%+.1f (%.1f -> %.1f)", t.Growth, t.First, t.Last),
				fmt.Sprintf("growth <= %.1f", t.Limit), t.Flat)
		}
		maxSessions := 0
		for _, s := range h.Samples {
			maxSessions = max(maxSessions, s.Sessions+s.Pruned)
		}
		limit := int(1.1*float64(h.SessionsBound)) + 10
		add("hours", "emulator holds no expired STS sessions (most held at a sample, expired included)",
			fmt.Sprintf("%d (%d expired)", maxSessions, h.MaxPruned), fmt.Sprintf("<= %d (rate x lifetime)", limit), maxSessions <= limit && len(h.Samples) > 0)
	}
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "bench-scale: %d CPUs (%s), %s; load average %s before, %s after; %s\n",
		rep.Machine.CPUs, rep.Machine.CPUModel, rep.Machine.GoVersion, rep.LoadBefore, rep.LoadAfter, rep.Finished.Sub(rep.Started).Round(time.Second))
	if q, _ := rep.Settings["quick"].(bool); q {
		fmt.Fprintln(w, "NOTE: -quick: sizes, rounds and durations too small to judge the throughput, p99 and hours goals; a smoke test of the harness")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AXIS\tIMPL\tSIZE\tOPS/S\tP50 ms\tP99 ms\tPLUGIN RSS MB\tGOROUTINES\tDETAIL")
	row := func(axis, impl, size string, l *latencies, rss float64, g string, detail string) {
		ops, p50, p99 := "-", "-", "-"
		if l != nil {
			p50, p99 = fmt.Sprintf("%.2f", l.P50MS), fmt.Sprintf("%.2f", l.P99MS)
			if l.PerSecond > 0 {
				ops = fmt.Sprintf("%.1f", l.PerSecond)
			}
			if l.Errors > 0 {
				detail += fmt.Sprintf("; %d ERRORS: %s", l.Errors, truncate(l.FirstError, 80))
			}
		}
		r := "-"
		if rss > 0 {
			r = fmt.Sprintf("%.1f", rss)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", axis, impl, size, ops, p50, p99, r, g, detail)
	}
	gor := func(p procSample) string {
		if p.Goroutines > 0 {
			return fmt.Sprint(p.Goroutines)
		}
		if p.Threads > 0 {
			return fmt.Sprintf("%d threads", p.Threads)
		}
		return "-"
	}
	if l := rep.Latency; l != nil {
		for _, k := range []string{"token-create", "assumerole-direct", "ours", "ours-direct", "hashicorp"} {
			v, ok := l.Kinds[k]
			if !ok {
				continue
			}
			d := "auth/token/create: the floor"
			if k == "assumerole-direct" {
				d = "AssumeRole from the harness, plain HTTP: the upstream part of creds/"
			} else if k != "token-create" {
				d = fmt.Sprintf("creds/ p50 - token-create p50 = %.2f ms; minus the AssumeRole floor: %.2f ms", l.OverTokenMS[k], l.OverUpstreamMS[k])
			}
			v.PerSecond = 0
			row("latency", k, "1 client", &v, 0, "-", d)
		}
	}
	if r := rep.Roles; r != nil {
		for _, c := range r.Cases {
			l := c.Issue
			row("roles", c.Impl, fmt.Sprintf("%d %s", c.Roles, c.Kind), &l, c.PluginAfter.RSSMB, gor(c.PluginAfter),
				fmt.Sprintf("plugin CPU %.2f ms/op; role write p50/p99: create %.1f/%.1f, update %.1f/%.1f ms; RSS with %d roles in the process",
					c.Issue.PluginCPUMS, c.Create.P50MS, c.Create.P99MS, c.Update.P50MS, c.Update.P99MS, c.RolesInProcess))
		}
		for _, impl := range []string{implOurs, implHC} {
			if p, ok := r.PluginFinal[impl]; ok {
				row("roles", impl, "all mounts", nil, p.RSSMB, gor(p), fmt.Sprintf("after the load; peak RSS %.1f MB; Vault %.1f MB", p.PeakMB, r.VaultFinal.RSSMB))
			}
		}
	}
	for _, c := range rep.Mounts {
		l := c.Issue
		ids := make([]string, 0, len(c.Identities))
		for k, v := range c.Identities {
			ids = append(ids, fmt.Sprintf("%d %s", v, k))
		}
		slices.Sort(ids)
		row("mounts", c.Impl, fmt.Sprintf("%d mounts", c.Mounts), &l, c.Plugin.RSSMB, gor(c.Plugin),
			fmt.Sprintf("plugin CPU %.2f ms/op; RSS/mount %.2f MB; identity fetches %d (%.2f/mount); ops/mount %d..%d (mean %.0f); %s",
				c.Issue.PluginCPUMS, c.RSSPerMountMB, c.IdentityFetches, c.FetchesPerMount, c.PerMountMin, c.PerMountMax, c.PerMountMean, strings.Join(ids, ", ")))
	}
	for _, c := range rep.Leases {
		l := c.Issue
		row("leases", c.Impl, fmt.Sprintf("%d leases", c.Leases), &l, c.PluginIssued.RSSMB, gor(c.PluginIssued),
			fmt.Sprintf("revoke-prefix %.1f s (%.0f/s, %d upstream calls, %d left); restart: active %.1f s, leases restored %.1f s; Vault RSS %.0f -> %.0f MB; plugin RSS after restart %.1f MB",
				c.RevokeS, c.RevokePerSecond, c.RevokeUpstream, c.LeftAfterRevoke, c.RestartActiveS, c.RestartRestoredS,
				c.VaultIssued.RSSMB, c.VaultRestarted.RSSMB, c.PluginRestarted.RSSMB))
	}
	if h := rep.Hours; h != nil && len(h.Samples) > 0 {
		last := h.Samples[len(h.Samples)-1]
		for _, impl := range []string{implOurs, implHC} {
			l, ok := h.Issue[impl]
			if !ok {
				continue
			}
			t := h.Trends[impl+" rss_mb"]
			g := h.Trends[impl+" goroutines"]
			if g == nil {
				g = h.Trends[impl+" threads"]
			}
			row("hours", impl, fmt.Sprintf("%s at %g/s", h.Duration, h.Rate), &l, last.Plugins[impl].RSSMB, gor(last.Plugins[impl]),
				fmt.Sprintf("%d samples; RSS %.1f -> %.1f MB (trend %+.1f/h), goroutines/threads %.0f -> %.0f (trend %+.1f/h)",
					len(h.Samples), t.First, t.Last, t.Slope, g.First, g.Last, g.Slope))
		}
		t, g, s := h.Trends["emulator rss_mb"], h.Trends["emulator goroutines"], h.Trends["emulator sessions"]
		row("hours", "emulator", fmt.Sprintf("%s sessions", h.Session), nil, last.Emulator.RSSMB, gor(last.Emulator),
			fmt.Sprintf("RSS %.1f -> %.1f MB (trend %+.1f/h); goroutines %.0f -> %.0f; STS sessions %.0f -> %.0f (max %.0f, bound %d), expired held at a sample: at most %d",
				t.First, t.Last, t.Slope, g.First, g.Last, s.First, s.Last, s.Max, h.SessionsBound, h.MaxPruned))
	}
	tw.Flush()
	if len(rep.Goals) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GOAL\tAXIS\tVALUE\tWANT\tMET")
		for _, g := range rep.Goals {
			met := "yes"
			if !g.Met {
				met = "NO"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Goal, g.Axis, g.Value, g.Want, met)
		}
		tw.Flush()
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ") // one line in the table
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
