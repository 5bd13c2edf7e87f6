// Command scale measures how this engine's cost grows along each axis of
// issue 17, side by side with HashiCorp's AliCloud plugin where it can do
// the same work: the number of roles, of live leases, of mounts in one
// multiplexed plugin process, and the hours a steady load runs; plus the
// latency the engine adds to a Vault request at one client.
//
// Each axis runs on a fresh emulator and a fresh Vault server (initialised
// and unsealed by the harness; file storage for the live-leases axis, which
// restarts Vault), prints a row per size into one table and writes the whole
// run as JSON to bench/results/scale-<time>.json (and scale-latest.json).
//
// Usage (from the repository root, after `make build vault`):
//
//	go run ./bench/scale [-quick] [-axes roles,leases,mounts,hours,latency] [-h for the sizes]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/hcplugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench-scale:", err)
		os.Exit(1)
	}
}

// options are the command-line settings; every axis's sizes are flags.
type options struct {
	root         string
	vaultBin     string
	pluginBin    string
	emulatorBin  string
	hashicorpBin string
	hashicorp    bool
	axes         string
	quick        bool
	out          string
	keep         bool
	pprofDir     string

	clients  int
	rounds   int
	duration time.Duration
	warmup   time.Duration

	roles      intList
	ramRoles   intList
	roleWrites int

	leases       int
	leaseClients int

	mounts intList

	hoursDuration time.Duration
	hoursInterval time.Duration
	hoursRate     float64
	hoursSession  time.Duration

	latencyOps int
}

// intList is a flag of comma-separated positive integers ("10,1000,10000";
// "1k" and "10k" are accepted too).
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		mult := 1
		if n, ok := strings.CutSuffix(f, "k"); ok {
			f, mult = n, 1000
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return fmt.Errorf("%q: want positive integers separated by commas", v)
		}
		out = append(out, n*mult)
	}
	*l = out
	return nil
}

// quickDefaults are the sizes of -quick, for development on a shared
// machine; a flag given explicitly wins over them.
var quickDefaults = map[string]string{
	"roles": "10,100,300", "ram-roles": "10,30", "role-writes": "20",
	"leases": "1000", "mounts": "1,3,5",
	"hours-duration": "3m", "hours-interval": "15s", "hours-rate": "5", "hours-session": "30s",
	"latency-ops": "200", "clients": "8", "rounds": "1", "duration": "2s", "warmup": "500ms",
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	o := &options{root: root, roles: intList{10, 1000, 10000}, ramRoles: intList{10, 1000}, mounts: intList{1, 10, 50}}
	vaultDefault := filepath.Join(root, "bin", "vault")
	if v := os.Getenv("VAULT_BINARY"); v != "" {
		vaultDefault = v
	}
	fs := flag.NewFlagSet("bench-scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.vaultBin, "vault", vaultDefault, "Vault binary (make vault; default $VAULT_BINARY, else bin/vault)")
	fs.StringVar(&o.pluginBin, "plugin", "", "our plugin binary, built with bench/profiled's pprof listener (default: built from bench/profiled)")
	fs.StringVar(&o.emulatorBin, "emulator", filepath.Join(root, "bin", "alicloud-emulator"), "emulator binary (make build)")
	fs.StringVar(&o.hashicorpBin, "hashicorp-plugin", "", "HashiCorp's plugin binary (default: built from bench/hashicorp once and cached)")
	fs.BoolVar(&o.hashicorp, "hashicorp", true, "measure HashiCorp's plugin beside ours where it can do the same work")
	fs.StringVar(&o.axes, "axes", "roles,leases,mounts,hours,latency", "axes to run, comma-separated")
	fs.BoolVar(&o.quick, "quick", false, "small sizes and short durations, for development (explicit flags win)")
	fs.StringVar(&o.out, "out", filepath.Join(root, "bench", "results"), "folder for the JSON results")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (logs, Vault data) after the run")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "write heap and goroutine profiles of our plugin at the end of each axis, and a CPU profile of each roles throughput case, here")

	fs.IntVar(&o.clients, "clients", 16, "concurrent clients of the throughput measurements and of the lease issue")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of each throughput measurement, every other one in reverse order")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each throughput case, per round")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each throughput case, per round")

	fs.Var(&o.roles, "roles", "roles axis: numbers of assumed_role roles, one mount each")
	fs.Var(&o.ramRoles, "ram-roles", "roles axis: numbers of ram_user roles with an inline policy each, one mount each")
	fs.IntVar(&o.roleWrites, "role-writes", 200, "roles axis: role updates timed on each mount after its throughput")

	fs.IntVar(&o.leases, "leases", 100000, "live-leases axis: STS leases issued before the restart and the revoke-prefix")
	fs.IntVar(&o.leaseClients, "lease-clients", 0, "live-leases axis: concurrent clients issuing them (default -clients)")

	fs.Var(&o.mounts, "mounts", "mounts axis: numbers of mounts of our plugin (cumulative, one process)")

	fs.DurationVar(&o.hoursDuration, "hours-duration", time.Hour, "hours axis: length of the steady run")
	fs.DurationVar(&o.hoursInterval, "hours-interval", time.Minute, "hours axis: sampling interval")
	fs.Float64Var(&o.hoursRate, "hours-rate", 20, "hours axis: credentials (issued, then revoked) per second, per plugin")
	fs.DurationVar(&o.hoursSession, "hours-session", 5*time.Minute, "hours axis: lifetime of the emulator's STS sessions, so that their number levels off within the run")

	fs.IntVar(&o.latencyOps, "latency-ops", 2000, "latency axis: operations of each kind at one client")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range quickDefaults {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return nil, err
				}
			}
		}
	}
	if o.leaseClients <= 0 {
		o.leaseClients = o.clients
	}
	for _, a := range strings.Split(o.axes, ",") {
		switch strings.TrimSpace(a) {
		case "roles", "leases", "mounts", "hours", "latency":
		default:
			return nil, fmt.Errorf("-axes: unknown axis %q (roles, leases, mounts, hours, latency)", a)
		}
	}
	if o.clients < 1 || o.rounds < 1 || o.duration <= 0 || o.warmup < 0 || o.leases < 1 || o.roleWrites < 1 ||
		o.hoursDuration <= 0 || o.hoursInterval <= 0 || o.hoursRate <= 0 || o.hoursSession < 0 || o.latencyOps < 1 {
		return nil, errors.New("sizes, counts, rates and durations must be positive")
	}
	return o, nil
}

func (o *options) axis(name string) bool {
	for _, a := range strings.Split(o.axes, ",") {
		if strings.TrimSpace(a) == name {
			return true
		}
	}
	return false
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/alicloud-vault/vault-plugin-secrets-alicloud\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the repository")
		}
		dir = parent
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, f := range []struct{ path, fix string }{{o.vaultBin, "make vault"}, {o.emulatorBin, "make build"}} {
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s is missing: run `%s`", f.path, f.fix)
		}
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "bench-scale %s: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	if o.hashicorp && o.hashicorpBin == "" {
		if o.hashicorpBin, err = hcplugin.Binary(o.root, logf); err != nil {
			return err
		}
	}
	if o.pluginBin == "" {
		if o.pluginBin, err = buildProfiledPlugin(o.root, logf); err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp("", "alicloud-bench-scale-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work folder (kept): %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
	}

	r := &runner{o: o, logf: logf, work: work}
	rep := &report{Started: time.Now().UTC(), Machine: machineInfo(), LoadBefore: loadAvg(), Settings: o.settings()}
	axes := []struct {
		name string
		run  func(context.Context, *report) error
	}{
		{"latency", r.latencyAxis}, {"roles", r.rolesAxis}, {"mounts", r.mountsAxis}, {"leases", r.leasesAxis}, {"hours", r.hoursAxis},
	}
	var runErr error
	for _, a := range axes {
		if !o.axis(a.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		logf("axis %s", a.name)
		t0 := time.Now()
		err := a.run(ctx, rep)
		r.stopStack()
		if err != nil {
			runErr = fmt.Errorf("axis %s: %w", a.name, err)
			rep.Failed = append(rep.Failed, runErr.Error())
			logf("%v", runErr)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		logf("axis %s done in %s", a.name, time.Since(t0).Round(time.Second))
	}
	rep.Finished = time.Now().UTC()
	rep.LoadAfter = loadAvg()
	rep.evaluate(o)
	printReport(stdout, rep)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(o.out, "scale-"+rep.Started.Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "scale-latest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresults: %s\n", path)
	return runErr
}

// buildProfiledPlugin builds bench/profiled (our plugin with pprof behind
// BENCH_PPROF_ADDR) into the repository-local cache; the goroutine counts
// come from its pprof endpoint.
func buildProfiledPlugin(root string, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(root, ".cache", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "vault-plugin-secrets-alicloud-profiled")
	logf("building the profiled plugin into %s", bin)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./bench/profiled")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the profiled plugin: %v\n%s", err, out)
	}
	return bin, nil
}
