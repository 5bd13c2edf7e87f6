package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
)

// process is a child process whose output goes to a log file (appended, so a
// restarted Vault keeps one log).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

// startProcess runs bin with args and env, its stdout and stderr appended to
// logPath. The kernel sends it SIGTERM if the harness dies (Pdeathsig), so
// no Vault or emulator outlives an interrupted run.
func startProcess(name, bin string, args, env []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// alive reports whether the process has not exited yet.
func (p *process) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits, killing the process after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil || !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *process) kill() {
	if p == nil || !p.alive() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// baseEnv is the harness's environment without anything that would point a
// child elsewhere: Vault variables, proxies, Alibaba credentials.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch uk := strings.ToUpper(k); {
		case strings.HasPrefix(uk, "VAULT_"), strings.HasPrefix(uk, "ALIBABA_CLOUD_"), strings.HasPrefix(uk, "ALICLOUD_"),
			uk == "HTTP_PROXY", uk == "HTTPS_PROXY", uk == "NO_PROXY", uk == "ALL_PROXY", uk == "SSL_CERT_FILE", uk == "SSL_CERT_DIR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// goTool finds the go command: PATH first, then $GOROOT/bin.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// repoRoot walks up from the working directory to the module root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "vault-plugin-secrets-alicloud") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the vault-plugin-secrets-alicloud module")
		}
		dir = parent
	}
}

// buildBinaries builds the plugin (into pluginDir, stamped with version) and
// the emulator (into dir) from the checkout at root.
func buildBinaries(root, dir, pluginDir, version string) (plugin, emu string, err error) {
	plugin = filepath.Join(pluginDir, pluginName)
	emu = filepath.Join(dir, "alicloud-emulator")
	for _, b := range []struct{ out, pkg string }{{plugin, "./cmd/" + pluginName}, {emu, "./cmd/alicloud-emulator"}} {
		cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	// /proc/<pid>/exe holds the resolved path: compare with that.
	if p, err := filepath.EvalSymlinks(plugin); err == nil {
		plugin = p
	}
	return plugin, emu, nil
}

// sha256File returns the hex sha256 of a file, for plugin registration.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// emulatorProc is the alicloud-emulator command.
type emulatorProc struct {
	*process
	URL       string
	StateFile string
	http      *http.Client
}

// startEmulator runs the emulator on a free port with the seed file, a state
// file (the harness reads the engine's and static user's key secrets from
// it, to look for them in Vault's logs) and a fault seed.
func startEmulator(bin, dir, seedFile string, faultSeed int64) (*emulatorProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	stateFile := filepath.Join(dir, "emulator-state.json")
	args := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-seed", seedFile, "-quiet",
		"-fault-seed", strconv.FormatInt(faultSeed, 10), "-state", stateFile, "-state-interval", "2s"}
	p, err := startProcess("emulator", bin, args, baseEnv(), filepath.Join(dir, "emulator.log"))
	if err != nil {
		return nil, err
	}
	e := &emulatorProc{process: p, URL: fmt.Sprintf("http://127.0.0.1:%d", port), StateFile: stateFile,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.Counters(); err == nil {
			return e, nil
		} else if !p.alive() || time.Now().After(deadline) {
			p.stop(5 * time.Second)
			return nil, fmt.Errorf("emulator not ready: %v; log:\n%s", err, cluster.Tail(p.logPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// admin calls the emulator's admin API.
func (e *emulatorProc) admin(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Counters returns the emulator's per-action call counters.
func (e *emulatorProc) Counters() (map[string]int64, error) {
	var c map[string]int64
	err := e.admin(http.MethodGet, "/_emulator/counters", nil, &c)
	return c, err
}

// vaultProc is one Vault server with file storage, killed and restarted on
// the same storage during the run.
type vaultProc struct {
	bin, dir   string
	pluginExe  string
	Addr       string
	logPath    string
	auditPath  string
	unsealKey  string
	RootToken  string
	mu         sync.Mutex
	proc       *process
	starts     int
	strayKills int // plugin processes left behind by a killed Vault, killed by the harness
}

// newVault writes the Vault configuration: file storage, loopback
// listener, the plugin directory, and raw_storage_endpoint so the harness
// can list the mount's WAL entries at the end.
func newVault(bin, dir, pluginDir, pluginExe, logLevel string) (*vaultProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cport, err := freePort()
	if err != nil {
		return nil, err
	}
	v := &vaultProc{bin: bin, dir: dir, pluginExe: pluginExe, Addr: fmt.Sprintf("http://127.0.0.1:%d", port),
		logPath: filepath.Join(dir, "vault.log"), auditPath: filepath.Join(dir, "audit.log")}
	cfg := fmt.Sprintf(`storage "file" {
  path = %q
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr             = %q
cluster_addr         = "https://127.0.0.1:%d"
plugin_directory     = %q
disable_mlock        = true
raw_storage_endpoint = true
log_level            = %q
`, filepath.Join(dir, "data"), port, cport, v.Addr, cport, pluginDir, logLevel)
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return v, nil
}

// Start runs Vault, initialises it on the first start, unseals it and waits
// until it is active.
func (v *vaultProc) Start(ctx context.Context) error {
	p, err := startProcess("vault", v.bin, []string{"server", "-config=" + filepath.Join(v.dir, "vault.hcl")}, baseEnv(), v.logPath)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.proc = p
	v.starts++
	v.mu.Unlock()
	c := newVaultClient(v.Addr, "", 2)
	wait := func(what string, ok func() error) error {
		deadline := time.Now().Add(90 * time.Second)
		for {
			err := ok()
			if err == nil {
				return nil
			}
			if !p.alive() {
				return fmt.Errorf("vault exited while waiting for %s: %v; log:\n%s", what, p.err, cluster.Tail(v.logPath, 30))
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("vault: no %s within 90s: %v; log:\n%s", what, err, cluster.Tail(v.logPath, 30))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := wait("listener", func() error { return c.do(ctx, http.MethodGet, "sys/seal-status", nil, nil) }); err != nil {
		return err
	}
	if v.unsealKey == "" {
		var init struct {
			Keys      []string `json:"keys"`
			RootToken string   `json:"root_token"`
		}
		if err := c.do(ctx, http.MethodPut, "sys/init", map[string]any{"secret_shares": 1, "secret_threshold": 1}, &init); err != nil {
			return fmt.Errorf("vault init: %w", err)
		}
		v.unsealKey, v.RootToken = init.Keys[0], init.RootToken
	}
	if err := c.do(ctx, http.MethodPut, "sys/unseal", map[string]any{"key": v.unsealKey}, nil); err != nil {
		return fmt.Errorf("vault unseal: %w", err)
	}
	c.token = v.RootToken
	return wait("active node with its mount table", func() error {
		var h struct {
			Sealed  bool `json:"sealed"`
			Standby bool `json:"standby"`
		}
		if err := c.do(ctx, http.MethodGet, "sys/health", nil, &h); err != nil {
			return err
		}
		if h.Sealed || h.Standby {
			return errors.New("sealed or standby")
		}
		return c.do(ctx, http.MethodGet, "sys/mounts", nil, nil)
	})
}

// pid is the running Vault's process id (0 when down).
func (v *vaultProc) pid() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.proc == nil || !v.proc.alive() {
		return 0
	}
	return v.proc.cmd.Process.Pid
}

// Kill sends SIGKILL to Vault, then to the plugin processes it left behind
// (go-plugin servers outlive a parent killed this way).
func (v *vaultProc) Kill() {
	v.mu.Lock()
	p := v.proc
	v.mu.Unlock()
	p.kill()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pids := processesOf(v.pluginExe, 0)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				v.strayKills++
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop shuts Vault down with SIGTERM (it stops its plugins on the way out).
func (v *vaultProc) Stop() {
	v.mu.Lock()
	p := v.proc
	v.mu.Unlock()
	p.stop(30 * time.Second)
	for _, pid := range processesOf(v.pluginExe, 0) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processesOf returns the pids whose executable is exe and, when ppid is not
// 0, whose parent is ppid.
func processesOf(exe string, ppid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || strings.TrimSuffix(got, " (deleted)") != exe {
			continue
		}
		if ppid != 0 && parentOf(pid) != ppid {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// parentOf reads the parent pid from /proc/<pid>/stat (field 4).
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// copyFile copies src over dst (mode 0755: a plugin binary).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
