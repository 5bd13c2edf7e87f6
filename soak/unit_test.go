package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScanForSecrets(t *testing.T) {
	dir := t.TempDir()
	secret := "AbCdEfGhIjKlMnOpQrStUvWxYz0123"
	token := "CAISAQAAAABsharedprefix" + strings.Repeat("x", 40)
	log := "line one\nsecret_key=" + secret + " here\n\"token\":\"" + token + "\"\nhmac-sha256:deadbeef\n" +
		"embedded" + secret + "\n"
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	leaks, n, err := scanForSecrets(path, map[string]string{secret: "a secret_key", token: "a token", "CAISAQAAAABsharedprefix" + strings.Repeat("y", 40): "another token"})
	if err != nil || n != int64(len(log)) {
		t.Fatalf("scan: %v, %d bytes", err, n)
	}
	if len(leaks) != 2 || leaks[0].Line != 2 || leaks[0].What != "a secret_key" || leaks[1].Line != 3 || leaks[1].What != "a token" {
		t.Fatalf("leaks: %+v", leaks)
	}
	if strings.Contains(leaks[0].Prefix, secret[4:]) {
		t.Fatalf("the report holds the secret: %q", leaks[0].Prefix)
	}
}

func TestParseFaultKinds(t *testing.T) {
	k, err := parseFaultKinds("throttle=2, lost_answer ,drop=0")
	if err != nil || len(k) != 2 || k[0] != (weightedKind{"throttle", 2}) || k[1] != (weightedKind{"lost_answer", 1}) {
		t.Fatalf("got %v, %v", k, err)
	}
	for _, bad := range []string{"boom", "throttle=x", "5xx=-1"} {
		if _, err := parseFaultKinds(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPolicyRole(t *testing.T) {
	for name, want := range map[string]string{"vault-7c66ea7b-churn-1044-0": "churn-1044", "vault-7c66ea7b-ramuser-0": "ramuser", "soak-seed-read": ""} {
		if got := policyRole(name); got != want {
			t.Errorf("policyRole(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFiveHundredsSplit(t *testing.T) {
	var f fiveHundreds
	f.record("GET", "alicloud/creds/sts", "1 error occurred: rpc error: code = Unavailable desc = error reading from server: EOF")
	f.record("DELETE", "alicloud/role/churn-12", "1 error occurred: rpc error: code = Unavailable desc = EOF")
	f.record("GET", "alicloud/creds/ramuser", "internal error")
	f.record("PUT", "alicloud/role/ramuser", "1 error occurred:\n\t* internal error\n\n")
	now := time.Now()
	kill := []time.Time{now.Add(-5 * time.Second)}
	// A kill alone is not enough: Vault's log must show the plugin killed.
	if other, atKill := f.split(kill, nil, nil); countOf(other) != 4 || countOf(atKill) != 0 {
		t.Fatalf("without Vault's log lines: other %v, at kill %v", other, atKill)
	}
	other, atKill := f.split(kill, []time.Time{now}, nil)
	if countOf(other) != 2 || other["GET alicloud/creds/ramuser"] == nil || other["PUT alicloud/role/ramuser"] == nil ||
		countOf(atKill) != 2 || atKill["DELETE alicloud/role/churn-N"] == nil {
		t.Fatalf("other %v, at kill %v", other, atKill)
	}
	// A masked "internal error" goes apart only with its own log line.
	other, atKill = f.split(kill, []time.Time{now}, []time.Time{now})
	if countOf(other) != 1 || countOf(atKill) != 3 || atKill["PUT alicloud/role/ramuser"] == nil {
		t.Fatalf("with the log line: other %v, at kill %v", other, atKill)
	}
	// Log lines without a kill of the harness's: every 500 counts.
	if other, _ := f.split([]time.Time{now.Add(-time.Minute)}, []time.Time{now}, []time.Time{now}); countOf(other) != 4 {
		t.Fatalf("without a kill every 500 counts: %v", other)
	}
}

func TestLogLinesOfOrphans(t *testing.T) {
	dir := t.TempDir()
	log := "2026-11-29T18:22:13.923Z [DEBUG] secrets.vault-plugin-secrets-alicloud.x: issued a RAM user: role=ramuser user=vault-root-ramuser-1-abc\nother\n"
	path := filepath.Join(dir, "vault.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &soak{vault: &vaultProc{logPath: path}, res: &result{Orphans: []orphan{{Kind: "group member", Name: "soak-devs/vault-root-ramuser-1-abc"}}}}
	s.logLinesOfOrphans()
	got := s.res.Orphans[0].MadeBy
	if len(got) != 1 || got[0] != "vault.log: 2026-11-29T18:22:13.923Z issued a RAM user: role=ramuser user=vault-root-ramuser-1-abc" {
		t.Fatalf("made by: %q", got)
	}
}

func TestLogTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vault.log")
	log := `2026-11-29T18:30:56.293Z [ERROR] core: failed to run existence check: error="rpc error: code = Unavailable desc = error reading from server: EOF"
2026-11-29T18:30:57.000Z [ERROR] core: failed to run existence check: error="something else"
2026-11-29T18:55:11.913Z [ERROR] secrets.x: plugin process exited: plugin=/tmp/p id=13845 error="signal: killed"
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got := logTimes(path, "failed to run existence check", "code = Unavailable")
	if len(got) != 1 || got[0].Format(time.RFC3339Nano) != "2026-11-29T18:30:56.293Z" {
		t.Fatalf("existence checks: %v", got)
	}
	got = logTimes(path, "plugin process exited", `error="signal: killed"`)
	if len(got) != 1 || got[0].Format(time.RFC3339Nano) != "2026-11-29T18:55:11.913Z" {
		t.Fatalf("plugin deaths: %v", got)
	}
}
