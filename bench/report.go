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
	Settings   settings       `json:"settings"`
	Binaries   binaries       `json:"binaries"`
	Mounts     []mount        `json:"mounts"`
	Cluster    *clusterInfo   `json:"cluster,omitempty"`
	Phases     []*phaseResult `json:"phases"`
	Memory     []memoryResult `json:"memory"`
	Targets    []target       `json:"targets"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  string `json:"mem_total"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
}

type settings struct {
	Clients          int    `json:"clients"`
	Rounds           int    `json:"rounds"`
	Duration         string `json:"duration"`
	Warmup           string `json:"warmup"`
	IdentityDuration string `json:"identity_duration"`
}

type binaryInfo struct {
	Path    string  `json:"path"`
	SizeMB  float64 `json:"size_mb"`
	Version string  `json:"version,omitempty"`
}

type binaries struct {
	Ours              binaryInfo `json:"ours"`
	HashiCorpExternal binaryInfo `json:"hashicorp_external"`
	Vault             binaryInfo `json:"vault"`
}

// phaseResult is one measured phase.
type phaseResult struct {
	Kind string `json:"kind"` // floor, assumed_role, ram_user, identity, cluster
	Name string `json:"name"`
	// Node is the cluster node the clients of a cluster phase send to.
	Node     string     `json:"node,omitempty"`
	Mount    string     `json:"mount,omitempty"`
	Impl     string     `json:"impl"`
	Identity string     `json:"identity,omitempty"`
	Load     loadResult `json:"load"`
	// Calls are the emulator's counters over the measured part of the phase.
	Calls         map[string]int64 `json:"calls"`
	UpstreamCalls int64            `json:"upstream_calls"`
	CallsPerOp    float64          `json:"calls_per_op"`
	// IdentityCalls are the calls for the engine's own identity (metadata,
	// credentials URI, AssumeRoleWithOIDC), included in UpstreamCalls;
	// IdentityFetches counts only those that return credentials.
	IdentityCalls   int64 `json:"identity_calls"`
	IdentityFetches int64 `json:"identity_fetches"`
	// Session is the lifetime, in seconds, of every STS session the
	// emulator issued in this phase (0: the normal hour); Lifetimes is how
	// many such lifetimes the phase lasted.
	Session            float64    `json:"session_seconds,omitempty"`
	Lifetimes          float64    `json:"lifetimes,omitempty"`
	FetchesPerLifetime float64    `json:"fetches_per_lifetime,omitempty"`
	Memory             *memSample `json:"memory_after,omitempty"`
	VaultMemory        *procMem   `json:"vault_memory_after,omitempty"`
	// Round is the round of a single measurement; Rounds summarize the
	// rounds a combined result is made of.
	Round    int            `json:"round,omitempty"`
	Rounds   []roundSummary `json:"rounds,omitempty"`
	CPU      *cpuUse        `json:"cpu,omitempty"`
	Profiles []string       `json:"profiles,omitempty"`
}

// roundSummary is one round of a phase.
type roundSummary struct {
	PerSecond float64 `json:"per_second"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	Errors    int     `json:"errors"`
}

// cpuUse is where the CPU went during a measured phase.
type cpuUse struct {
	// MSPerOp is CPU milliseconds per successful operation, per process.
	MSPerOp map[string]float64 `json:"ms_per_op"`
	// RunCores is the average number of cores the run's processes used;
	// OtherCores what the rest of the machine used meanwhile.
	RunCores   float64 `json:"run_cores"`
	OtherCores float64 `json:"other_cores"`
}

type memSample struct {
	Process string  `json:"process"`
	Mem     procMem `json:"mem"`
}

type memoryResult struct {
	Impl              string  `json:"impl"`
	Process           string  `json:"process"`
	Mem               procMem `json:"mem"`
	CredentialsIssued int     `json:"credentials_issued"`
}

// target is one goal of issue 7 and whether this run met it.
type target struct {
	Goal     string  `json:"goal"`
	Value    float64 `json:"value"`
	Want     string  `json:"want"`
	Met      bool    `json:"met"`
	Evidence string  `json:"evidence"`
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
				m.MemTotal = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// loadAvg is the 1, 5 and 15 minute load average, to tell a quiet machine
// from a busy one in the results.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// hasKind reports whether the run has a phase of kind.
func (r *report) hasKind(kind string) bool {
	for _, p := range r.Phases {
		if p.Kind == kind {
			return true
		}
	}
	return false
}

// find returns the phase of kind and name, or nil.
func (r *report) find(kind, name string) *phaseResult {
	for _, p := range r.Phases {
		if p.Kind == kind && p.Name == name {
			return p
		}
	}
	return nil
}

func ratio(a, b *phaseResult) float64 {
	if a == nil || b == nil || b.Load.PerSecond == 0 {
		return 0
	}
	return a.Load.PerSecond / b.Load.PerSecond
}

// computeTargets checks the goals of issue 7 against the run.
func (r *report) computeTargets() {
	r.Targets = nil
	add := func(goal, want string, value float64, met bool, evidence string) {
		r.Targets = append(r.Targets, target{Goal: goal, Want: want, Value: value, Met: met, Evidence: evidence})
	}
	ours, hcExt, hcBuiltin := r.find("assumed_role", "ours"), r.find("assumed_role", "hc-external"), r.find("assumed_role", "hc-builtin")
	if ours != nil && hcExt != nil {
		v := ratio(ours, hcExt)
		add("assumed_role throughput vs HashiCorp external", ">= 4x", v, v >= 4,
			fmt.Sprintf("%.0f/s vs %.0f/s", ours.Load.PerSecond, hcExt.Load.PerSecond))
	}
	if ours != nil && hcBuiltin != nil {
		v := ratio(ours, hcBuiltin)
		add("assumed_role throughput vs HashiCorp builtin (informational)", "-", v, true,
			fmt.Sprintf("%.0f/s vs %.0f/s", ours.Load.PerSecond, hcBuiltin.Load.PerSecond))
	}
	if tok := r.find("floor", "token-create"); ours != nil && tok != nil {
		v := ratio(ours, tok)
		add("assumed_role throughput vs auth/token/create floor", ">= 75%", v, v >= 0.75,
			fmt.Sprintf("%.0f/s vs %.0f/s", ours.Load.PerSecond, tok.Load.PerSecond))
	}
	oursRU, hcExtRU := r.find("ram_user", "ours"), r.find("ram_user", "hc-external")
	if oursRU != nil && hcExtRU != nil {
		v := ratio(oursRU, hcExtRU)
		add("ram_user issue+revoke throughput vs HashiCorp external", ">= 2x", v, v >= 2,
			fmt.Sprintf("%.0f/s vs %.0f/s (HashiCorp errors: %d)", oursRU.Load.PerSecond, hcExtRU.Load.PerSecond, hcExtRU.Load.Errors))
	}
	for _, name := range []string{"ours@active", "ours@standby"} {
		p := r.find("cluster", name)
		if p == nil {
			continue
		}
		assume := p.Calls["sts:AssumeRole"]
		add("emulator calls per credential in the cluster ("+name+")", "1.00", p.CallsPerOp,
			p.Load.Ops > 0 && p.UpstreamCalls == int64(p.Load.Ops) && assume == int64(p.Load.Ops),
			fmt.Sprintf("%d calls (AssumeRole %d) for %d credentials", p.UpstreamCalls, assume, p.Load.Ops))
	}
	for _, m := range r.Memory {
		if m.Impl == implOurs {
			add("our plugin RSS after the run", "<= 64 MB (after 10,000 credentials)", m.Mem.RSSMB,
				m.Mem.RSSMB <= 64 && m.CredentialsIssued >= 10000,
				fmt.Sprintf("%.1f MB RSS (peak %.1f MB) after %d credentials", m.Mem.RSSMB, m.Mem.PeakMB, m.CredentialsIssued))
		}
	}
	for _, name := range []string{"ours-ecs", "ours-oidc"} {
		p := r.find("identity", name)
		if p == nil {
			continue
		}
		// The phase is far shorter than one identity session (an hour), so a
		// plugin that calls at most once per identity lifetime makes at most
		// one credential fetch here, cold start included.
		add("identity fetches in one identity lifetime, cold start included ("+p.Identity+")", "<= 1", float64(p.IdentityFetches),
			p.IdentityFetches <= 1 && p.Load.Ops > 0,
			fmt.Sprintf("%d fetches (%d identity calls) for %d credentials at %d clients",
				p.IdentityFetches, p.IdentityCalls, p.Load.Ops, r.Settings.Clients))
	}
	for _, name := range []string{"ours-ecs-short", "ours-oidc-short"} {
		p := r.find("identity", name)
		if p == nil {
			continue
		}
		// Sessions this short sit inside the cache's refresh window, where it
		// refreshes at half the remaining lifetime: two fetches per lifetime
		// by design (three for ECS, whose metadata service hands out the same
		// session until a third of it remains). What must hold is that the
		// count does not grow with the load.
		add(fmt.Sprintf("identity fetches per identity lifetime, %.0fs sessions (%s; informational)", p.Session, p.Identity), "no storm: <= 3", p.FetchesPerLifetime,
			p.FetchesPerLifetime <= 3 && p.Load.Ops > 0,
			fmt.Sprintf("%d fetches over %.1f lifetimes for %d credentials at %d clients",
				p.IdentityFetches, p.Lifetimes, p.Load.Ops, r.Settings.Clients))
	}
}

// printReport prints the table.
func printReport(w io.Writer, r *report) {
	r.computeTargets()
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("Machine: %d CPUs (%s), %s, %s, %s RAM; load average before %s, after %s",
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Kernel, r.Machine.GoVersion, r.Machine.MemTotal, r.LoadBefore, r.LoadAfter)
	p("Settings: %d clients; throughput phases: %d rounds (alternating order) of %s after %s warm-up; identity phases %s, no warm-up. %s, HashiCorp plugin %s.",
		r.Settings.Clients, r.Settings.Rounds, r.Settings.Duration, r.Settings.Warmup, r.Settings.IdentityDuration, r.Binaries.Vault.Version, r.Binaries.HashiCorpExternal.Version)
	p("")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	x := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", v)
	}
	ours := r.find("assumed_role", "ours")
	oursRU := r.find("ram_user", "ours")
	tok := r.find("floor", "token-create")

	row("phase", "mount / floor", "impl", "ops/s", "by round", "p50 ms", "p99 ms", "errors", "calls/op", "ours vs this")
	for _, ph := range r.Phases {
		var vs string
		switch ph.Kind {
		case "assumed_role":
			if ph.Name != "ours" {
				vs = x(ratio(ours, ph))
			}
		case "ram_user":
			if ph.Name != "ours" {
				vs = x(ratio(oursRU, ph))
			}
		case "floor":
			if ours != nil {
				vs = fmt.Sprintf("%.0f%%", 100*ratio(ours, ph))
			}
		case "identity":
			if ph.Impl != implOurs {
				vs = x(ratio(r.find("identity", "ours-ecs"), ph))
			}
		case "cluster":
			// Ours through the same kind of node.
			if ph.Impl != implOurs {
				vs = x(ratio(r.find("cluster", "ours@"+clusterRole(ph.Name)), ph))
			}
		}
		calls := f2(ph.CallsPerOp)
		if ph.Kind == "floor" && ph.Impl == "vault" {
			calls = "-"
		}
		byRound := make([]string, 0, len(ph.Rounds))
		for _, rd := range ph.Rounds {
			byRound = append(byRound, fmt.Sprintf("%.0f", rd.PerSecond))
		}
		if len(byRound) == 0 {
			byRound = append(byRound, "-")
		}
		row(ph.Kind, ph.Name, ph.Impl, f1(ph.Load.PerSecond), strings.Join(byRound, "/"), f2(ph.Load.P50MS), f2(ph.Load.P99MS),
			fmt.Sprint(ph.Load.Errors), calls, vs)
	}
	tw.Flush()
	p("  ops/s: successful operations per second over all rounds (ram_user: issue + synchronous revoke); p50/p99: median")
	p("  of the rounds'; calls/op: emulator calls per operation (all products); ours vs this: our throughput over this")
	p("  row's (floors: as a percentage).")
	if tok != nil && ours != nil {
		p("  ours (assumed_role) reaches %.0f%% of the auth/token/create floor.", 100*ratio(ours, tok))
	}
	if c := r.Cluster; c != nil {
		server, _, _ := strings.Cut(c.Server, ",") // "Vault v1.21.0", without the build date
		p("  cluster: GET <mount>/creds/sts on a %d-node Raft cluster of %s; @active: clients send to the active node (%s);",
			c.Nodes, server, c.Active)
		p("  @standby: to a standby (%s), which forwards every request to the active node (one more hop); ours vs this:", c.Standby)
		p("  ours through the same kind of node. calls/op must be 1.00 (one AssumeRole per credential, wherever it is asked).")
		var hop []string
		for _, impl := range []string{"ours", "hc-external"} {
			if v := ratio(r.find("cluster", impl+"@standby"), r.find("cluster", impl+"@active")); v > 0 {
				hop = append(hop, fmt.Sprintf("%s %.0f%%", impl, 100*v))
			}
		}
		if len(hop) > 0 {
			p("  through the standby, as a share of the throughput through the active node: %s.", strings.Join(hop, ", "))
		}
	}

	p("")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row("CPU ms per op", "mount / floor", "vault", "plugin", "emulator", "load gen", "total", "run cores", "other cores")
	for _, ph := range r.Phases {
		if ph.CPU == nil {
			continue
		}
		c := ph.CPU.MSPerOp
		plugin, pl := 0.0, "-"
		switch ph.Impl {
		case implOurs:
			plugin = c["plugin-ours"]
		case implOursB:
			plugin = c["plugin-ours-b"]
		case implHCExternal:
			plugin = c["plugin-hashicorp"]
		}
		if plugin > 0 {
			pl = f2(plugin)
		}
		total := c["vault"] + plugin + c["emulator"] + c["harness"]
		row(ph.Kind, ph.Name, f2(c["vault"]), pl, f2(c["emulator"]), f2(c["harness"]), f2(total), f2(ph.CPU.RunCores), f2(ph.CPU.OtherCores))
	}
	tw.Flush()
	p("  CPU time per successful operation by process (/proc/<pid>/stat; the builtin runs inside vault); run cores:")
	p("  cores the benchmark's processes kept busy; other cores: the rest of the machine (other work skews results).")
	if r.Cluster != nil {
		p("  cluster rows: vault and plugin are the sums over every node (the standby's forwarding included).")
	}

	if r.hasKind("identity") {
		p("")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		row("identity phase", "identity", "ops/s", "errors", "identity calls", "identity fetches", "lifetimes", "fetches/lifetime", "calls/cred", "upstream calls by action")
		for _, ph := range r.Phases {
			if ph.Kind != "identity" {
				continue
			}
			lifetimes, perLifetime := "<1", "-"
			if ph.Session > 0 {
				lifetimes, perLifetime = f2(ph.Lifetimes), f2(ph.FetchesPerLifetime)
			}
			row(ph.Name, ph.Identity, f1(ph.Load.PerSecond), fmt.Sprint(ph.Load.Errors), fmt.Sprint(ph.IdentityCalls), fmt.Sprint(ph.IdentityFetches),
				lifetimes, perLifetime, f2(ph.CallsPerOp), callsSummary(ph.Calls))
		}
		tw.Flush()
		p("  identity phases start from a freshly written config (counters reset before the write), so the engine's")
		p("  first identity fetch is counted; fetches = calls returning credentials (metadata GetCredentials, AssumeRoleWithOIDC).")
		if s := sessionOf(r); s > 0 {
			p("  *-short: a second emulator whose STS sessions (the engine's identity included) last %s; lifetimes = phase / that.",
				time.Duration(s)*time.Second)
		}
	}

	p("")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row("memory after the run", "process", "pid", "RSS MB", "peak RSS MB", "credentials issued")
	for _, m := range r.Memory {
		row(m.Impl, m.Process, fmt.Sprint(m.Mem.PID), f1(m.Mem.RSSMB), f1(m.Mem.PeakMB), fmt.Sprint(m.CredentialsIssued))
	}
	tw.Flush()

	p("")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row("target", "want", "got", "met", "evidence")
	for _, t := range r.Targets {
		got := fmt.Sprintf("%.2f", t.Value)
		met := "yes"
		if !t.Met {
			met = "NO"
		}
		row(t.Goal, t.Want, got, met, t.Evidence)
	}
	tw.Flush()
}

// sessionOf is the short session length of the run, in seconds.
func sessionOf(r *report) float64 {
	for _, p := range r.Phases {
		if p.Session > 0 {
			return p.Session
		}
	}
	return 0
}

// callsSummary lists counters as "sts:AssumeRole=123 ecs:GetToken=2".
func callsSummary(c map[string]int64) string {
	keys := make([]string, 0, len(c))
	for k, v := range c {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}
