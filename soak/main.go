// Command soak runs a bounded soak of the engine on a real Vault (file
// storage) with the plugin and the emulator as separate processes: a
// handful of clients issue, renew, revoke and let expire assumed_role and
// ram_user credentials, write and delete roles, read a static role that
// rotates every minute and call config/rotate-root, while the emulator
// injects faults into every RAM and STS action and the harness kills the
// plugin process and Vault itself (kill -9) at times spread over the run.
// At the end it revokes every lease, deletes the roles, waits for Vault's
// WAL rollback and audits the emulator: orphans, leaked secrets,
// unrevocable leases and HTTP 500 answers must all be zero.
//
// Usage (from the repository root, after `make vault`):
//
//	go run ./soak [-seed N] [-duration 10m] [-clients 4] [-plugin-kills 20] [-vault-restarts 3]
//
// See soak/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run parses the flags, runs the soak, prints the table, writes the JSON
// and returns the exit status: 0 pass, 1 findings, 2 harness failure.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := defaultOptions()
	o.Log = stderr
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of every random choice (0: pick one and print it)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long the load, faults and kills run")
	fs.IntVar(&o.Clients, "clients", o.Clients, "concurrent clients")
	fs.IntVar(&o.PluginKills, "plugin-kills", o.PluginKills, "kill -9 of the plugin process, spread over the duration")
	fs.IntVar(&o.VaultRestarts, "vault-restarts", o.VaultRestarts, "kill -9 of Vault and restart on the same storage, spread over the duration")
	fs.StringVar(&o.Faults, "faults", o.Faults, "fault kinds and their weights, kind=weight,... (throttle, 5xx, latency, drop, reset, lost_answer)")
	fs.Float64Var(&o.FaultRate, "fault-rate", o.FaultRate, "faults per second, on average (0: none)")
	fs.BoolVar(&o.RequireFaults, "require-faults", o.RequireFaults, "fail when the emulator refuses a fault kind; false leaves such kinds out (an emulator without reset and lost_answer)")
	fs.BoolVar(&o.CountKill500s, "count-kill-500s", false, "count the 500s Vault answers when a killed plugin dies under a request among the failing 500s")
	fs.DurationVar(&o.ShortTTL, "short-ttl", o.ShortTTL, "TTL of the ram_user role whose leases expire")
	fs.DurationVar(&o.StaticPeriod, "static-period", o.StaticPeriod, "rotation_period of the static role (at least 1m)")
	fs.DurationVar(&o.RotateRoot, "rotate-root", o.RotateRoot, "mean time between config/rotate-root calls")
	fs.DurationVar(&o.WALWait, "wal-wait", o.WALWait, "how long the end waits for Vault's rollback to empty the WAL")
	fs.StringVar(&o.VaultBin, "vault", "", "Vault binary (default: $VAULT_BINARY, else bin/vault)")
	fs.StringVar(&o.PluginBin, "plugin", "", "a prebuilt plugin binary (its version must be "+pluginVersion+"), instead of building the checkout's")
	fs.StringVar(&o.VaultLogLevel, "vault-log-level", o.VaultLogLevel, "Vault's log level (the plugin logs at it too)")
	fs.StringVar(&o.WorkDir, "workdir", "", "parent of the run's folder (default: the temp dir)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the run's folder (logs, Vault storage) even when the run passes")
	fs.StringVar(&o.Out, "out", "", "JSON result file (default soak/results/soak-<time>-seed<N>.json)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Seed == 0 {
		o.Seed = mrand.Uint64()>>1 + 1
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(stderr, "soak:", err)
		return 2
	}
	if o.VaultBin == "" {
		o.VaultBin = os.Getenv("VAULT_BINARY")
	}
	if o.VaultBin == "" {
		o.VaultBin = filepath.Join(root, "bin", "vault")
	}
	if _, err := os.Stat(o.VaultBin); err != nil {
		fmt.Fprintf(stderr, "soak: no Vault binary at %s: run `make vault` or set VAULT_BINARY\n", o.VaultBin)
		return 2
	}
	if o.Out == "" {
		o.Out = filepath.Join(root, "soak", "results", fmt.Sprintf("soak-%s-seed%d.json", time.Now().UTC().Format("20060102T150405Z"), o.Seed))
	}
	res := soakAndReport(ctx, o, replayCommand(fs, o.Seed), stdout)
	if err := writeJSON(o.Out, res); err != nil {
		fmt.Fprintln(stderr, "soak: writing the result:", err)
	} else {
		fmt.Fprintln(stdout, "result:", o.Out)
	}
	switch {
	case res.Error != "":
		return 2
	case !res.passed():
		return 1
	}
	return 0
}

// soakAndReport runs the soak and prints its table.
func soakAndReport(ctx context.Context, o options, replay string, w io.Writer) *result {
	s := &soak{}
	res, err := runSoak(ctx, o, s)
	s.collect(err)
	res.Replay = replay
	switch {
	case s.dir == "" || o.Keep:
	case res.passed():
		os.RemoveAll(s.dir)
		res.WorkDir += " (removed: the run passed; -keep keeps it)"
	default:
		// Keep the logs, which name what went wrong; drop storage and binaries.
		for _, sub := range []string{"data", "plugins", "alicloud-emulator"} {
			os.RemoveAll(filepath.Join(s.dir, sub))
		}
		res.WorkDir += " (logs kept: the run failed)"
	}
	printTable(w, res)
	return res
}

// replayCommand is the command line that replays this run: the same seed
// and every flag given.
func replayCommand(fs *flag.FlagSet, seed uint64) string {
	parts := []string{"go run ./soak", fmt.Sprintf("-seed %d", seed)}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "seed" && f.Name != "out" {
			parts = append(parts, fmt.Sprintf("-%s=%s", f.Name, shellQuote(f.Value.String())))
		}
	})
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,=/:") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
