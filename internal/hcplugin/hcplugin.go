// Package hcplugin provides HashiCorp's AliCloud secrets plugin (github.com/hashicorp/vault-plugin-secrets-alicloud)
// as an external plugin binary, at the version bench/hashicorp/go.mod pins (the one Vault 1.21.0 bundles as its
// builtin "alicloud"). The benchmark runs it side by side with this engine; the end-to-end tests migrate mounts from
// it, as OpenBao users (whose server bundles no AliCloud plugin) and users of its external builds would.
package hcplugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Module is HashiCorp's plugin module.
const Module = "github.com/hashicorp/vault-plugin-secrets-alicloud"

// CacheDir is the per-user cache that scripts/vault.sh and scripts/openbao.sh also use.
func CacheDir() string {
	if d := os.Getenv("VAULT_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "vault-plugin-secrets-alicloud")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "vault-plugin-secrets-alicloud")
	}
	return filepath.Join(home, ".cache", "vault-plugin-secrets-alicloud")
}

// Version reads the version bench/hashicorp/go.mod pins; root is the repository root.
func Version(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "bench", "hashicorp", "go.mod"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == Module {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("bench/hashicorp/go.mod does not require %s", Module)
}

// Binary returns HashiCorp's plugin binary, building it once per version and Go version into the per-user cache, with
// the flags this project's release build uses (static, trimmed, stripped). logf reports a build.
func Binary(root string, logf func(string, ...any)) (string, error) {
	version, err := Version(root)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheDir(), "hashicorp-alicloud-"+version+"-"+runtime.Version())
	bin := filepath.Join(dir, "vault-plugin-secrets-alicloud")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	logf("building HashiCorp's plugin %s into %s (once; about a minute)", version, bin)
	tmp := fmt.Sprintf("%s.tmp.%d", bin, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, Module+"/cmd/vault-plugin-secrets-alicloud")
	cmd.Dir = filepath.Join(root, "bench", "hashicorp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building HashiCorp's plugin: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}
