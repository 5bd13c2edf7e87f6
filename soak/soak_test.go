package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// testLog sends the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// TestSoakShort is the soak in about a minute: a few plugin kills, one
// Vault restart, every fault kind the emulator accepts, and the same audit
// as `make soak`. It needs a Vault binary (VAULT_BINARY, else bin/vault);
// like the end-to-end tests it is skipped with -short or without Vault,
// unless E2E_REQUIRED=1 (make test), which turns a missing Vault into a
// failure. SOAK_SEED replays a seed.
func TestSoakShort(t *testing.T) {
	required := os.Getenv("E2E_REQUIRED") == "1"
	if testing.Short() && !required {
		t.Skip("soak: skipped in -short mode")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	vaultBin := os.Getenv("VAULT_BINARY")
	if vaultBin == "" {
		vaultBin = filepath.Join(root, "bin", "vault")
	}
	if _, err := os.Stat(vaultBin); err != nil {
		if required {
			t.Fatalf("soak: E2E_REQUIRED=1 but there is no Vault binary at %s: run `make vault` or set VAULT_BINARY", vaultBin)
		}
		t.Skipf("soak: no Vault binary at %s: run `make vault` or set VAULT_BINARY", vaultBin)
	}

	o := defaultOptions()
	o.Seed = uint64(time.Now().UnixNano())>>1 + 1
	if v := os.Getenv("SOAK_SEED"); v != "" {
		if o.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED: %v", err)
		}
	}
	o.VaultBin = vaultBin
	o.Duration = time.Minute
	o.PluginKills = 4
	o.VaultRestarts = 1
	o.RotateRoot = 20 * time.Second
	o.WALWait = 150 * time.Second
	o.Log = testLog{t}
	o.Out = filepath.Join(root, "soak", "results", fmt.Sprintf("soak-short-%s-seed%d.json", time.Now().UTC().Format("20060102T150405Z"), o.Seed))

	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	var table bytes.Buffer
	replay := fmt.Sprintf("SOAK_SEED=%d go test -run TestSoakShort -v ./soak", o.Seed)
	res := soakAndReport(ctx, o, replay, &table)
	t.Logf("\n%s", table.String())
	if err := writeJSON(o.Out, res); err != nil {
		t.Logf("writing %s: %v", o.Out, err)
	}
	if res.Error != "" {
		t.Fatalf("the soak did not run to the end: %s", res.Error)
	}
	for _, c := range []struct {
		what string
		n    int
	}{
		{"orphans", len(res.Orphans)},
		{"leaked secrets", len(res.Leaks)},
		{"unrevocable leases", len(res.Unrevocable)},
		{"HTTP 500 answers", res.FiveHundredN},
		{"live credentials refused", len(res.LiveRefused)},
	} {
		if c.n != 0 {
			t.Errorf("%s: %d, want 0 (seed %d; the table above names each; result %s)", c.what, c.n, o.Seed, o.Out)
		}
	}
	if len(res.PluginKills) < o.PluginKills || len(res.VaultRestarts) < o.VaultRestarts {
		t.Errorf("kills: %d plugin kills and %d Vault restarts, want %d and %d", len(res.PluginKills), len(res.VaultRestarts), o.PluginKills, o.VaultRestarts)
	}
}
