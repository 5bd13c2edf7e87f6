// Command bench measures this engine side by side with HashiCorp's AliCloud
// plugin on one Vault dev server and one emulator, in the same run:
//
//   - our plugin, registered as an external plugin (as operators run it);
//   - HashiCorp's plugin as Vault's builtin "alicloud";
//   - HashiCorp's plugin at the same version, built from the Go module proxy
//     and registered as an external plugin.
//
// HashiCorp's plugin has fixed *.aliyuncs.com endpoints, so Vault runs with
// HTTPS_PROXY/HTTP_PROXY pointing at the emulator's proxy and SSL_CERT_FILE
// at its CA; plugins inherit that environment. Our plugin uses its default
// endpoints too, so both take the same path (proxy, TLS) to the same
// emulator; an extra mount shows ours on the emulator's plain endpoint.
//
// For each mount it reports throughput and latency of assumed_role
// credentials and of ram_user credentials issued then revoked, the plugin
// process's memory, and the upstream calls per credential from the
// emulator's counters, with an AccessKey identity and with an ECS-role (and,
// for ours, an OIDC-role) identity; and two floors: Vault's own
// auth/token/create and a direct AssumeRole with our aliyun client.
//
// Last, a cluster phase starts a 3-node Raft cluster of the same Vault
// (internal/cluster) with ours and HashiCorp's external plugin, and measures
// their assumed_role credentials through the active node and through a
// standby, which forwards each request to the active node.
//
// Usage (from the repository root, after `make build vault`):
//
//	go run ./bench [-clients 16] [-duration 10s] [-warmup 2s] [-out bench/results]
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
	"strings"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/hcplugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command-line settings.
type options struct {
	root             string
	vaultBin         string
	pluginBin        string
	emulatorBin      string
	hashicorpBin     string
	clients          int
	rounds           int
	duration         time.Duration
	warmup           time.Duration
	identityDuration time.Duration
	refreshDuration  time.Duration
	session          time.Duration
	out              string
	only             string
	direct           bool
	keep             bool
	vaultLogLevel    string
	pprofDir         string
	pluginSet        bool // -plugin was given
	pluginB          string
	cluster          bool
	clusterNodes     int
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	o := &options{root: root}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defVault := filepath.Join(root, "bin", "vault")
	if v := os.Getenv("VAULT_BINARY"); v != "" {
		defVault = v
	}
	fs.StringVar(&o.vaultBin, "vault", defVault, "Vault binary (default: $VAULT_BINARY, else bin/vault from make vault)")
	fs.StringVar(&o.pluginBin, "plugin", filepath.Join(root, "bin", "vault-plugin-secrets-alicloud"), "our plugin binary (make build)")
	fs.StringVar(&o.pluginB, "plugin-b", "", "another build of our plugin, mounted at ours-b next to ours and measured right after it (A/B of a change)")
	fs.StringVar(&o.emulatorBin, "emulator", filepath.Join(root, "bin", "alicloud-emulator"), "emulator binary (make build)")
	fs.StringVar(&o.hashicorpBin, "hashicorp-plugin", "", "HashiCorp's plugin binary (default: built from bench/hashicorp once and cached)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of the throughput phases (floors, assumed_role, ram_user), every other one in reverse order")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each throughput phase, per round")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each throughput phase, per round (not measured)")
	fs.DurationVar(&o.identityDuration, "identity-duration", 5*time.Second, "time of each ECS/OIDC identity phase (no warm-up: the identity's first fetch counts)")
	fs.DurationVar(&o.session, "identity-session", 8*time.Second, "lifetime of the STS sessions of the second emulator, for the identity-refresh phases (0: skip them)")
	fs.DurationVar(&o.refreshDuration, "refresh-duration", 20*time.Second, "time of each identity-refresh phase (several -identity-session lifetimes)")
	fs.StringVar(&o.out, "out", filepath.Join(root, "bench", "results"), "folder for the JSON results")
	fs.StringVar(&o.only, "only", "", "comma-separated phase groups to run: floor,assumed_role,ram_user,identity,cluster (default: all)")
	fs.BoolVar(&o.cluster, "cluster", true, "run the cluster phase: creds/ through the active node and through a standby of a Raft cluster, ours and HashiCorp's external plugin (-cluster=false skips it)")
	fs.IntVar(&o.clusterNodes, "cluster-nodes", 3, "servers in the cluster phase's Raft cluster")
	fs.BoolVar(&o.direct, "direct", true, "also measure our plugin on the emulator's plain-HTTP endpoint (no proxy, no TLS)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (logs, seed) after the run")
	fs.StringVar(&o.vaultLogLevel, "vault-log-level", "warn", "Vault's log level")
	fs.StringVar(&o.pprofDir, "pprof-dir", "", "when set, register our plugin built from bench/profiled (pprof on; or -plugin, which must then be such a build) and write CPU and heap profiles of its assumed_role and ram_user phases here")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.pluginSet = o.pluginSet || f.Name == "plugin" })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.clusterNodes < 2 {
		return nil, errors.New("-cluster-nodes must be at least 2 (an active node and a standby)")
	}
	if !o.singleNode() && !o.runCluster() {
		return nil, errors.New("nothing to run: -only selects no phase group (or only cluster, with -cluster=false)")
	}
	if o.clients < 1 || o.rounds < 1 || o.duration <= 0 || o.warmup < 0 || o.identityDuration <= 0 || o.refreshDuration <= 0 || o.session < 0 {
		return nil, errors.New("-clients, -rounds, -duration, -identity-duration and -refresh-duration must be positive, -warmup and -identity-session not negative")
	}
	return o, nil
}

// groups reports whether phase group g is selected by -only.
func (o *options) group(g string) bool {
	if o.only == "" {
		return true
	}
	for _, s := range strings.Split(o.only, ",") {
		if strings.TrimSpace(s) == g {
			return true
		}
	}
	return false
}

// singleNode reports whether a phase group on the single dev server is selected.
func (o *options) singleNode() bool {
	return o.group("floor") || o.group("assumed_role") || o.group("ram_user") || o.group("identity")
}

// runCluster reports whether the cluster phase runs.
func (o *options) runCluster() bool { return o.cluster && o.group("cluster") }

// repoRoot walks up from the working directory to the module root.
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
			return "", errors.New("run from inside the repository (no go.mod of github.com/alicloud-vault/vault-plugin-secrets-alicloud above the working directory)")
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
	for _, f := range []struct{ path, fix string }{
		{o.vaultBin, "make vault"}, {o.pluginBin, "make build"}, {o.emulatorBin, "make build"},
	} {
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s is missing: run `%s`", f.path, f.fix)
		}
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }

	if o.hashicorpBin == "" {
		if o.hashicorpBin, err = hashicorpPlugin(o.root, logf); err != nil {
			return err
		}
	}
	ourBin := o.pluginBin
	if o.pprofDir != "" && !o.pluginSet {
		if ourBin, err = buildProfiledPlugin(o.root, logf); err != nil {
			return err
		}
	}

	work, err := os.MkdirTemp("", "alicloud-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work folder (kept): %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	b := &bench{o: o, logf: logf, work: work}
	report, err := b.run(ctx, ourBin)
	b.shutdown()
	if err != nil {
		return err
	}
	printReport(stdout, report)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(o.out, "bench-"+report.Started.UTC().Format("20060102T150405Z")+".json")
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "latest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nresults: %s\n", path)
	return nil
}

// hashicorpPlugin returns HashiCorp's plugin binary, built once per version (internal/hcplugin).
func hashicorpPlugin(root string, logf func(string, ...any)) (string, error) {
	return hcplugin.Binary(root, logf)
}

// buildProfiledPlugin builds bench/profiled (our plugin with pprof behind an
// environment variable) into the repository-local cache.
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
