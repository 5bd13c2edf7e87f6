package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

const (
	pluginName = "vault-plugin-secrets-alicloud"
	// pluginVersion is stamped into the plugin the harness builds; Vault refuses a registration whose -version
	// differs from the version the plugin reports, so this also checks the build-time stamping.
	pluginVersion = "v0.0.0-e2e"
	// mount is where the tests enable the plugin, as the README tells operators to.
	mount = "alicloud"
)

// Servers the suite runs on: E2E_SERVER picks one per `go test` run (make test runs the package once for each).
const (
	serverVault   = "vault"
	serverOpenBao = "openbao"
)

// suite holds what TestMain prepared for every test: the binaries, or why they are missing.
var suite struct {
	server     string // serverVault or serverOpenBao
	vaultBin   string // the server binary: vault, or OpenBao's bao (also its CLI and agent)
	pluginDir  string // holds only the plugin binary; used as every Vault's plugin_directory
	pluginSHA  string // hex sha256 of the plugin binary
	skipReason string // non-empty: the tests cannot run, and this says how to fix it
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "alicloud-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := prepare(tmp); err != nil {
		suite.skipReason = err.Error()
	}
	return m.Run()
}

// prepare finds Vault and builds the plugin from the current source, so the tests always run today's code rather than
// whatever bin/ holds.
func prepare(tmp string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	suite.server = os.Getenv("E2E_SERVER")
	var vaultBin string
	switch suite.server {
	case "", serverVault:
		suite.server = serverVault
		vaultBin = os.Getenv("VAULT_BINARY")
		if vaultBin == "" {
			vaultBin = filepath.Join(root, "bin", "vault")
		}
		if _, err := os.Stat(vaultBin); err != nil {
			return fmt.Errorf("no Vault binary at %s: run `make vault` (builds the pinned Vault once and caches it) or set VAULT_BINARY", vaultBin)
		}
	case serverOpenBao:
		vaultBin = os.Getenv("BAO_BINARY")
		if vaultBin == "" {
			vaultBin = filepath.Join(root, "bin", "bao")
		}
		if _, err := os.Stat(vaultBin); err != nil {
			return fmt.Errorf("no OpenBao binary at %s: run `make openbao` (see the README, \"Vault and OpenBao\") or set BAO_BINARY", vaultBin)
		}
	default:
		return fmt.Errorf("E2E_SERVER=%q: must be %q or %q", suite.server, serverVault, serverOpenBao)
	}
	suite.vaultBin = vaultBin

	suite.pluginDir = filepath.Join(tmp, "plugins")
	if err := os.MkdirAll(suite.pluginDir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(suite.pluginDir, pluginName)
	args := []string{"build", "-o", bin, "-ldflags", "-X main.version=" + pluginVersion}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/"+pluginName)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the plugin (go %s): %v\n%s", strings.Join(args, " "), err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	suite.pluginSHA = sha256Hex(data)
	return nil
}

// sha256Hex is the hex SHA-256 of data, as the plugin catalog takes it.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// repoRoot is the module root: go test runs a package's tests in the package's folder.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("e2e: %s is not the module root: %w", root, err)
	}
	return root, nil
}

// goTool finds the go command: PATH first, then $GOROOT/bin when GOROOT is set.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// requireSuite skips or fails t when the binaries are missing: E2E_REQUIRED=1 (make test, CI) turns a missing Vault
// into a failure so a broken set-up can never pass as "all tests skipped".
func requireSuite(t *testing.T) {
	t.Helper()
	if suite.skipReason == "" {
		if testing.Short() && os.Getenv("E2E_REQUIRED") != "1" {
			t.Skip("e2e: skipped in -short mode")
		}
		return
	}
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("e2e: E2E_REQUIRED=1 but the tests cannot run: %s", suite.skipReason)
	}
	t.Skipf("e2e: %s", suite.skipReason)
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// vaultServer is one Vault server process with file storage, so it can be stopped and started again with its data.
type vaultServer struct {
	t       testing.TB
	dir     string
	port    int
	Addr    string
	logPath string
	env     []string // added to the server's environment

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	err    error         // cmd's exit status, valid once exited is closed

	unsealKey string
	RootToken string
	Client    *api.Client
}

// startVault starts, initialises and unseals a Vault server with a plugin directory holding the plugin under test,
// and extraConfig appended to its configuration file.
// The server is stopped at the end of the test; its log is printed when the test failed, and searched for data
// races and panics reported by the plugin either way.
func startVault(t *testing.T, extraConfig ...string) *vaultServer {
	t.Helper()
	return startServer(t, serverOptions{Config: strings.Join(extraConfig, "\n")})
}

// serverOptions are what startServer adds to a test server: Env (VAR=value) to its process environment, which its
// plugins inherit, and Config to its configuration file.
type serverOptions struct {
	Env    []string
	Config string
}

// startServer is startVault with options.
func startServer(t *testing.T, o serverOptions) *vaultServer {
	t.Helper()
	requireSuite(t)
	dir := t.TempDir()
	v := &vaultServer{t: t, dir: dir, port: freePort(t), logPath: filepath.Join(dir, "vault.log"), env: o.Env}
	v.Addr = fmt.Sprintf("http://127.0.0.1:%d", v.port)
	cfg := fmt.Sprintf(`
storage "file" {
  path = %q
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr         = %q
cluster_addr     = "https://127.0.0.1:%d"
plugin_directory = %q
disable_mlock    = true
log_level        = "debug"
`, filepath.Join(dir, "data"), v.port, freePort(t), v.Addr, freePort(t), suite.pluginDir) + o.Config
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.Stop()
		v.checkLog()
	})
	v.Start()
	return v
}

// Start runs the server process, initialises it on first start, and unseals it.
func (v *vaultServer) Start() {
	v.t.Helper()
	logFile, err := os.OpenFile(v.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		v.t.Fatal(err)
	}
	cmd := exec.Command(suite.vaultBin, "server", "-config="+filepath.Join(v.dir, "vault.hcl"))
	cmd.Env = append(cleanEnv(), v.env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		v.t.Fatalf("starting vault: %v", err)
	}
	v.cmd, v.exited = cmd, make(chan struct{})
	go func() {
		v.err = cmd.Wait()
		logFile.Close()
		close(v.exited)
	}()

	client, err := api.NewClient(&api.Config{Address: v.Addr, Timeout: 60 * time.Second, MaxRetries: 0})
	if err != nil {
		v.t.Fatal(err)
	}
	client.ClearNamespace()
	v.Client = client
	ctx := context.Background()
	v.waitFor("the listener", func() bool {
		_, err := client.Sys().SealStatusWithContext(ctx)
		return err == nil
	})
	if v.unsealKey == "" {
		init, err := client.Sys().InitWithContext(ctx, &api.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			v.fatalf("vault operator init: %v", err)
		}
		v.unsealKey, v.RootToken = init.Keys[0], init.RootToken
	}
	if _, err := client.Sys().UnsealWithContext(ctx, v.unsealKey); err != nil {
		v.fatalf("vault operator unseal: %v", err)
	}
	client.SetToken(v.RootToken)
	v.waitFor("an active, unsealed node", func() bool {
		h, err := client.Sys().HealthWithContext(ctx)
		return err == nil && h.Initialized && !h.Sealed && !h.Standby
	})
	// Mounts are set up after unseal; until then a write to a plugin mount can answer "no handler".
	v.waitFor("the mount table", func() bool {
		_, err := client.Sys().ListMountsWithContext(ctx)
		return err == nil
	})
}

// Stop shuts the server down the way an operator's SIGTERM does; Vault stops its plugin processes on the way out.
func (v *vaultServer) Stop() {
	if v.cmd == nil {
		return
	}
	select {
	case <-v.exited:
	default:
		_ = v.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-v.exited:
		case <-time.After(30 * time.Second):
			v.t.Errorf("vault did not stop within 30s of SIGTERM; killing it")
			_ = v.cmd.Process.Kill()
			<-v.exited
		}
	}
	v.cmd = nil
}

// Restart stops the server and starts it again on the same address and storage, then unseals it.
func (v *vaultServer) Restart() {
	v.t.Helper()
	v.Stop()
	v.Start()
}

func (v *vaultServer) waitFor(what string, ok func() bool) {
	v.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		select {
		case <-v.exited:
			v.fatalf("vault exited while waiting for %s: %v", what, v.err)
		default:
		}
		if time.Now().After(deadline) {
			v.fatalf("vault: no %s within 60s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (v *vaultServer) fatalf(format string, args ...any) {
	v.t.Helper()
	v.t.Fatalf("%s\n--- vault log (last lines) ---\n%s", fmt.Sprintf(format, args...), v.logTail(60))
}

func (v *vaultServer) logTail(n int) string {
	data, err := os.ReadFile(v.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkLog fails the test when the plugin, which writes its stderr into Vault's log, reported a data race or a
// panic, and prints the log's tail when the test failed for any reason.
func (v *vaultServer) checkLog() {
	f, err := os.Open(v.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "WARNING: DATA RACE") || strings.Contains(line, "panic: ") {
			v.t.Errorf("vault log reports a plugin failure: %s", line)
		}
	}
	if v.t.Failed() {
		v.t.Logf("--- vault log %s (last lines) ---\n%s", v.logPath, v.logTail(80))
	}
}

// cleanEnv is the test's environment without what would point a server, its plugins or the CLI elsewhere: VAULT_*
// and BAO_* (a developer's own VAULT_ADDR or BAO_TOKEN), Alibaba credentials (ALICLOUD_*, ALIBABA_CLOUD_*: HashiCorp's
// plugin reads them before its config), proxies and SSL_CERT_FILE.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch uk := strings.ToUpper(k); {
		case strings.HasPrefix(uk, "VAULT_"), strings.HasPrefix(uk, "BAO_"), strings.HasPrefix(uk, "ALICLOUD_"), strings.HasPrefix(uk, "ALIBABA_CLOUD_"),
			uk == "HTTP_PROXY", uk == "HTTPS_PROXY", uk == "NO_PROXY", uk == "ALL_PROXY", uk == "SSL_CERT_FILE", uk == "SSL_CERT_DIR":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// cliVars are the variables that point a CLI command at addr with token: VAULT_ADDR and VAULT_TOKEN for vault,
// BAO_ADDR and BAO_TOKEN for bao (which also reads the VAULT_ ones; TestOpenBaoDeclarativePlugin checks that).
func cliVars(addr, token string) []string {
	prefix := "VAULT_"
	if suite.server == serverOpenBao {
		prefix = "BAO_"
	}
	return []string{prefix + "ADDR=" + addr, prefix + "TOKEN=" + token}
}

// cliResult is the outcome of one CLI command.
type cliResult struct {
	Stdout, Stderr string
	Err            error
}

// CLI runs the vault CLI against this server with the root token, as an operator would type it.
func (v *vaultServer) CLI(args ...string) cliResult {
	v.t.Helper()
	return v.cliWithEnv(cliVars(v.Addr, v.RootToken), args...)
}

// cliWithEnv runs the CLI with env (VAR=value entries) added to the test's environment without VAULT_* and BAO_*.
func (v *vaultServer) cliWithEnv(env []string, args ...string) cliResult {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.vaultBin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// MustCLI runs the vault CLI and fails the test when it exits non-zero.
func (v *vaultServer) MustCLI(args ...string) string {
	v.t.Helper()
	r := v.CLI(args...)
	if r.Err != nil {
		v.t.Fatalf("vault %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// CLIJSON runs a CLI command and decodes its standard output, which the caller asks for with -format=json, into out.
func (v *vaultServer) CLIJSON(out any, args ...string) {
	v.t.Helper()
	stdout := v.MustCLI(args...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		v.t.Fatalf("vault %s: decoding JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// pluginEnv is the environment of the operator settings the tests register the plugin with: the emulator on
// http://127.0.0.1 allowed besides Alibaba's own endpoints, ambient identities allowed, and OIDC token files in the
// system's temporary directory, where tests make their temporary directories.
func pluginEnv() []string {
	return []string{
		"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*",
		"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true",
		"ALICLOUD_PLUGIN_TOKEN_DIRS=" + os.TempDir(),
	}
}

// registerPluginCLI registers the plugin under test in the catalog as a secrets plugin called name, with its sha256,
// version and the given environment, the way the README tells operators: `vault plugin register -env ...` on Vault;
// on OpenBao, whose `plugin register` has no -env flag, a write to sys/plugins/catalog/secret/<name> with env=...
func (v *vaultServer) registerPluginCLI(name string, env ...string) cliResult {
	v.t.Helper()
	if suite.server == serverOpenBao {
		args := []string{"write", "sys/plugins/catalog/secret/" + name, "sha256=" + suite.pluginSHA, "version=" + pluginVersion, "command=" + pluginName}
		for _, kv := range env {
			args = append(args, "env="+kv)
		}
		return v.CLI(args...)
	}
	args := []string{"plugin", "register", "-sha256=" + suite.pluginSHA, "-version=" + pluginVersion}
	for _, kv := range env {
		args = append(args, "-env="+kv)
	}
	return v.CLI(append(args, "-command="+pluginName, "secret", name)...)
}

// registerPlugin is registerPluginCLI, failing the test when the command fails.
func (v *vaultServer) registerPlugin(name string, env ...string) {
	v.t.Helper()
	if r := v.registerPluginCLI(name, env...); r.Err != nil {
		v.t.Fatalf("registering plugin %s: %v\nstdout: %s\nstderr: %s", name, r.Err, r.Stdout, r.Stderr)
	}
}

// installPlugin registers the plugin under test in Vault's catalog with its sha256 and version and enables it at
// mount, with the CLI commands the README gives operators, then checks that the mount runs exactly that binary.
func (v *vaultServer) installPlugin() {
	v.t.Helper()
	v.registerPlugin(pluginName, pluginEnv()...)
	v.MustCLI("secrets", "enable", "-path="+mount, "-plugin-version="+pluginVersion, pluginName)

	var mounts map[string]struct {
		Type                 string `json:"type"`
		PluginVersion        string `json:"plugin_version"`
		RunningPluginVersion string `json:"running_plugin_version"`
		RunningSHA256        string `json:"running_sha256"`
	}
	v.CLIJSON(&mounts, "secrets", "list", "-format=json", "-detailed")
	m, ok := mounts[mount+"/"]
	switch {
	case !ok:
		v.t.Fatalf("secrets list: no %s/ mount", mount)
	case m.Type != pluginName:
		v.t.Fatalf("mount %s/ has type %q, want %q", mount, m.Type, pluginName)
	case m.RunningPluginVersion != pluginVersion:
		v.t.Fatalf("mount %s/ runs plugin version %q, want %q (the version stamped at build time)", mount, m.RunningPluginVersion, pluginVersion)
	case m.RunningSHA256 != suite.pluginSHA:
		v.t.Fatalf("mount %s/ runs a binary with sha256 %s, want %s", mount, m.RunningSHA256, suite.pluginSHA)
	}
}

// Read reads path through the API and fails the test on an error.
func (v *vaultServer) Read(path string) *api.Secret {
	v.t.Helper()
	s, err := v.Client.Logical().Read(path)
	if err != nil {
		v.t.Fatalf("read %s: %v", path, err)
	}
	return s
}

// Write writes path through the API and fails the test on an error.
func (v *vaultServer) Write(path string, data map[string]any) *api.Secret {
	v.t.Helper()
	s, err := v.Client.Logical().Write(path, data)
	if err != nil {
		v.t.Fatalf("write %s: %v", path, err)
	}
	return s
}

// responseError returns the HTTP status and the error strings of a failed API call.
func responseError(t testing.TB, err error) (int, string) {
	t.Helper()
	var re *api.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a Vault response error, got %v", err)
	}
	return re.StatusCode, strings.Join(re.Errors, "; ")
}

// eventually polls cond every 200ms until it returns nil or timeout passes, then fails with cond's last error.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// httpGetJSON fetches url with the token and decodes the JSON answer.
func httpGetJSON(t testing.TB, url, token string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
