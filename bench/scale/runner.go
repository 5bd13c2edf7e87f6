package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Names in the emulator's account (as in bench/: one engine user, one role
// the assumed_role roles assume, ECS and OIDC roles for engine identities).
const (
	accountID     = "1234567890123456"
	rootUser      = "vault-root"
	rootKeyID     = "LTAI5tBenchVaultRootKy01"
	rootKeySecret = "benchVaultRootSecretNotForProd" // a fake account in a local emulator
	targetRole    = "bench-target"
	ecsRole       = "bench-ecs"
	oidcRole      = "bench-oidc-engine"
	oidcProvider  = "bench-oidc"
	oidcAudience  = "sts.aliyuncs.com"
	ourPluginName = "vault-plugin-secrets-alicloud"
	hcPluginName  = "hashicorp-alicloud"
	implOurs      = "ours"
	implHC        = "hashicorp"
)

var (
	targetARN   = "acs:ram::" + accountID + ":role/" + targetRole
	oidcRoleARN = "acs:ram::" + accountID + ":role/" + oidcRole
	oidcProvARN = "acs:ram::" + accountID + ":oidc-provider/" + oidcProvider
	rootTrust   = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + accountID + `:root"]}}]}`
	ecsTrust    = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`
	oidcTrust   = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["` + oidcProvARN + `"]},"Condition":{"StringEquals":{"oidc:aud":"` + oidcAudience + `"}}}]}`
	enginePerms = []map[string]string{{"name": "AliyunRAMFullAccess", "type": "System"}, {"name": "AliyunSTSAssumeRoleAccess", "type": "System"}}
	accessKey   = map[string]any{"access_key": rootKeyID, "secret_key": rootKeySecret}
)

func seed() map[string]any {
	return map[string]any{
		"account_id": accountID,
		"users": []any{map[string]any{
			"name":        rootUser,
			"access_keys": []any{map[string]any{"id": rootKeyID, "secret": rootKeySecret, "status": "Active"}},
			"policies":    enginePerms,
		}},
		"roles": []any{
			map[string]any{"name": targetRole, "trust_policy": rootTrust, "max_session_duration": 3600,
				"policies": []any{map[string]string{"name": "ReadOnlyAccess", "type": "System"}}},
			map[string]any{"name": ecsRole, "trust_policy": ecsTrust, "max_session_duration": 3600, "policies": enginePerms},
			map[string]any{"name": oidcRole, "trust_policy": oidcTrust, "max_session_duration": 3600, "policies": enginePerms},
		},
		"oidc_providers": []any{map[string]any{"name": oidcProvider, "client_ids": []string{oidcAudience}}},
		"ecs":            map[string]any{"role_name": ecsRole},
	}
}

// runner runs the axes, one stack (emulator, Vault, plugins) at a time.
type runner struct {
	o    *options
	logf func(string, ...any)
	work string
	cur  *stack
}

// stack is one emulator and one Vault with our plugin (and HashiCorp's)
// registered.
type stack struct {
	dir       string
	emu       *emulatorProc
	vault     *vaultProc
	vc        *vaultClient
	ourExe    string
	hcExe     string
	pprofAddr string
}

func (r *runner) stopStack() {
	if r.cur == nil {
		return
	}
	if r.cur.vault != nil && r.cur.vault.process != nil {
		r.cur.vault.Stop(60 * time.Second)
	}
	if r.cur.emu != nil {
		r.cur.emu.Stop(10 * time.Second)
	}
	r.cur = nil
}

// newStack starts a fresh emulator (with emuArgs) and Vault (storage
// "inmem" or "file") for one axis and registers the plugins.
func (r *runner) newStack(ctx context.Context, name, storage string, emuArgs ...string) (*stack, error) {
	r.stopStack()
	s := &stack{dir: filepath.Join(r.work, name)}
	r.cur = s
	if err := os.MkdirAll(filepath.Join(s.dir, "plugins"), 0o755); err != nil {
		return nil, err
	}
	data, err := json.Marshal(seed())
	if err != nil {
		return nil, err
	}
	seedFile := filepath.Join(s.dir, "seed.json")
	if err := os.WriteFile(seedFile, data, 0o600); err != nil {
		return nil, err
	}
	if s.emu, err = startEmulator(r.o.emulatorBin, s.dir, "emulator", seedFile, emuArgs...); err != nil {
		return nil, err
	}
	s.ourExe = filepath.Join(s.dir, "plugins", ourPluginName)
	if err := copyFile(r.o.pluginBin, s.ourExe); err != nil {
		return nil, err
	}
	if r.o.hashicorp {
		s.hcExe = filepath.Join(s.dir, "plugins", hcPluginName)
		if err := copyFile(r.o.hashicorpBin, s.hcExe); err != nil {
			return nil, err
		}
	}
	if s.vault, err = newVault(r.o.vaultBin, s.dir, filepath.Join(s.dir, "plugins"), storage, s.emu); err != nil {
		return nil, err
	}
	if _, err := s.vault.start(ctx); err != nil {
		return nil, err
	}
	s.vc = newVaultClient(s.vault.Addr, s.vault.Token, max(r.o.clients, r.o.leaseClients))
	if s.pprofAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	tokenDir := s.dir
	for _, p := range []struct{ name, exe string }{{ourPluginName, s.ourExe}, {hcPluginName, s.hcExe}} {
		if p.exe == "" {
			continue
		}
		sum, err := sha256File(p.exe)
		if err != nil {
			return nil, err
		}
		in := map[string]any{"sha256": sum, "command": filepath.Base(p.exe)}
		if p.name == ourPluginName {
			in["env"] = []string{
				"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*",
				"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true",
				"ALICLOUD_PLUGIN_TOKEN_DIRS=" + tokenDir,
				"BENCH_PPROF_ADDR=" + s.pprofAddr,
			}
		}
		if err := s.vc.do(ctx, http.MethodPut, "sys/plugins/catalog/secret/"+p.name, in, nil); err != nil {
			return nil, fmt.Errorf("registering %s: %w", p.name, err)
		}
	}
	r.logf("%s: emulator %s, vault %s (%s storage)", name, s.emu.URL, s.vault.Addr, storage)
	return s, nil
}

// pluginName is the catalog name of impl.
func pluginName(impl string) string {
	if impl == implHC {
		return hcPluginName
	}
	return ourPluginName
}

// mount enables impl at path and writes its config.
func (s *stack) mount(ctx context.Context, path, impl string, config map[string]any) error {
	if err := s.vc.do(ctx, http.MethodPost, "sys/mounts/"+path, map[string]any{"type": pluginName(impl)}, nil); err != nil {
		return fmt.Errorf("enabling %s at %s: %w", impl, path, err)
	}
	if err := s.vc.do(ctx, http.MethodPost, path+"/config", config, nil); err != nil {
		return fmt.Errorf("%s/config: %w", path, err)
	}
	return nil
}

// oidcTokenFile has the emulator's issuer mint a token for the engine's OIDC
// identity and writes it where an ACK cluster would mount it.
func (s *stack) oidcTokenFile() (string, error) {
	var tok struct {
		Token string `json:"token"`
	}
	if err := s.emu.admin(http.MethodPost, "/_emulator/oidc/token", map[string]any{
		"provider": oidcProvider, "subject": "system:serviceaccount:vault:vault", "audience": oidcAudience, "ttl_seconds": 6 * 3600,
	}, &tok); err != nil {
		return "", err
	}
	path := filepath.Join(s.dir, "oidc-token")
	return path, os.WriteFile(path, []byte(tok.Token), 0o600)
}

// procSample is the size of one process at one moment.
type procSample struct {
	procStatus
	// Goroutines come from the plugin's pprof endpoint (ours) or the
	// emulator's stats; 0 when not available (HashiCorp's plugin: see
	// Threads).
	Goroutines int `json:"goroutines,omitempty"`
}

// plugin samples impl's plugin process.
func (s *stack) plugin(impl string) procSample {
	exe := s.ourExe
	if impl == implHC {
		exe = s.hcExe
	}
	st, err := pluginStatus(exe)
	if err != nil {
		return procSample{}
	}
	out := procSample{procStatus: st}
	if impl == implOurs {
		out.Goroutines, _ = goroutines(s.pprofAddr)
	}
	return out
}

// pluginPID is the pid of impl's plugin process (0 when none runs).
func (s *stack) pluginPID(impl string) int {
	exe := s.ourExe
	if impl == implHC {
		exe = s.hcExe
	}
	st, err := pluginStatus(exe)
	if err != nil {
		return 0
	}
	return st.PID
}

// vaultSample samples Vault.
func (s *stack) vaultSample() procSample {
	st, _ := readStatus(s.vault.Pid())
	return procSample{procStatus: st}
}

// emulatorSample samples the emulator, with its goroutines from its stats.
func (s *stack) emulatorSample() (procSample, emulatorStats) {
	st, _ := readStatus(s.emu.Pid())
	es, _ := s.emu.Stats()
	return procSample{procStatus: st, Goroutines: es.Goroutines}, es
}

// upstream sums the emulator's counters.
func upstream(c map[string]int64) int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// profiles saves heap and goroutine profiles of our plugin (-pprof-dir).
func (r *runner) profiles(s *stack, name string) []string {
	if r.o.pprofDir == "" {
		return nil
	}
	var out []string
	for _, kind := range []string{"heap", "goroutine"} {
		path := filepath.Join(r.o.pprofDir, name+"-"+kind+".pprof")
		if err := fetch("http://"+s.pprofAddr+"/debug/pprof/"+kind, path, 30*time.Second); err != nil {
			r.logf("pprof %s: %v", kind, err)
			continue
		}
		out = append(out, path)
	}
	return out
}
