package main

import (
	"bufio"
	"bytes"
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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/cluster"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/proc"
)

// process is a child process whose output goes to a log file (internal/proc).
type process = proc.Process

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// baseEnv is the harness's environment without anything that would point a
// child elsewhere (cluster.CleanEnv), nor the harness's own settings (BENCH_*)
// and Go's memory tuning (GOGC, GOMEMLIMIT), which would change what is measured.
func baseEnv() []string {
	var env []string
	for _, kv := range cluster.CleanEnv() {
		k, _, _ := strings.Cut(kv, "=")
		if uk := strings.ToUpper(k); strings.HasPrefix(uk, "BENCH_") || uk == "GOGC" || uk == "GOMEMLIMIT" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// emulatorProc is the alicloud-emulator command.
type emulatorProc struct {
	*process
	URL      string
	ProxyURL string
	CAFile   string
	http     *http.Client
}

func startEmulator(bin, dir, name, seedFile string, extra ...string) (*emulatorProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	proxyAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, name+"-ca.pem")
	args := append([]string{"-listen", addr, "-proxy-listen", proxyAddr, "-ca-out", caFile, "-seed", seedFile, "-quiet"}, extra...)
	p, err := proc.Start(name, bin, args, baseEnv(), filepath.Join(dir, name+".log"), true)
	if err != nil {
		return nil, err
	}
	e := &emulatorProc{process: p, URL: "http://" + addr, ProxyURL: "http://" + proxyAddr, CAFile: caFile,
		http: &http.Client{Timeout: 60 * time.Second}}
	if err := p.WaitFor("admin API", 30*time.Second, 50*time.Millisecond, func() error {
		if _, err := os.Stat(caFile); err != nil {
			return err
		}
		_, err := e.Counters()
		return err
	}); err != nil {
		p.Stop(5 * time.Second)
		return nil, err
	}
	return e, nil
}

// Counters returns the emulator's per-action call counters.
func (e *emulatorProc) Counters() (map[string]int64, error) {
	var c map[string]int64
	return c, e.admin(http.MethodGet, "/_emulator/counters", nil, &c)
}

// ResetCounters zeroes the counters.
func (e *emulatorProc) ResetCounters() error {
	return e.admin(http.MethodDelete, "/_emulator/counters", nil, nil)
}

// emulatorStats is GET /_emulator/stats (emulator.Stats).
type emulatorStats struct {
	Sessions        int     `json:"sessions"`
	ExpiredSessions int     `json:"expired_sessions"`
	PendingExpiries int     `json:"pending_expiries"`
	Pruned          int     `json:"pruned"`
	Goroutines      int     `json:"goroutines"`
	HeapAllocMB     float64 `json:"heap_alloc_mb"`
}

func (e *emulatorProc) Stats() (emulatorStats, error) {
	var s emulatorStats
	return s, e.admin(http.MethodGet, "/_emulator/stats", nil, &s)
}

func (e *emulatorProc) admin(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
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
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// vaultProc is a Vault server (not dev mode: initialised and unsealed by the
// harness) on in-memory or file storage; with file storage it can be
// restarted with its leases.
type vaultProc struct {
	*process
	bin, dir  string
	Addr      string
	Token     string
	unsealKey string
	env       []string
}

// newVault writes the server's configuration. storage is "inmem" or "file".
func newVault(bin, dir, pluginDir, storage string, emu *emulatorProc) (*vaultProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	caddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	stanza := `storage "inmem" {}`
	if storage == "file" {
		stanza = fmt.Sprintf("storage \"file\" {\n  path = %q\n}", filepath.Join(dir, "vault-data"))
	}
	// default_max_request_duration: a synchronous revoke-prefix of 100,000
	// leases takes longer than the default 90 s.
	cfg := fmt.Sprintf(`%s
listener "tcp" {
  address         = %q
  cluster_address = %q
  tls_disable     = true
}
api_addr                     = "http://%s"
cluster_addr                 = "https://%s"
plugin_directory             = %q
disable_mlock                = true
default_max_request_duration = "2h"
log_level                    = "info"
`, stanza, addr, caddr, addr, caddr, pluginDir)
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	// HashiCorp's plugin has fixed *.aliyuncs.com endpoints and the ECS
	// metadata address: the proxy takes both to the emulator.
	env := append(baseEnv(),
		"HTTPS_PROXY="+emu.ProxyURL, "https_proxy="+emu.ProxyURL,
		"HTTP_PROXY="+emu.ProxyURL, "http_proxy="+emu.ProxyURL,
		"NO_PROXY=", "no_proxy=", "SSL_CERT_FILE="+emu.CAFile)
	return &vaultProc{bin: bin, dir: dir, Addr: "http://" + addr, env: env}, nil
}

// start runs Vault, initialises it on the first start and unseals it. It
// returns when Vault is active; restored is closed when Vault's log says the
// lease restore completed.
func (v *vaultProc) start(ctx context.Context) (restored <-chan time.Time, err error) {
	logPath := filepath.Join(v.dir, "vault.log")
	var off int64
	if fi, err := os.Stat(logPath); err == nil {
		off = fi.Size()
	}
	p, err := proc.Start("vault", v.bin, []string{"server", "-config=" + filepath.Join(v.dir, "vault.hcl")}, v.env, logPath, true)
	if err != nil {
		return nil, err
	}
	v.process = p
	c := newVaultClient(v.Addr, "", 2)
	if err := p.WaitFor("listener", 90*time.Second, 50*time.Millisecond, func() error { return c.do(ctx, http.MethodGet, "sys/seal-status", nil, nil) }); err != nil {
		return nil, err
	}
	if v.unsealKey == "" {
		var init struct {
			Keys      []string `json:"keys"`
			RootToken string   `json:"root_token"`
		}
		if err := c.do(ctx, http.MethodPut, "sys/init", map[string]any{"secret_shares": 1, "secret_threshold": 1}, &init); err != nil {
			return nil, fmt.Errorf("vault init: %w", err)
		}
		v.unsealKey, v.Token = init.Keys[0], init.RootToken
	}
	if err := c.do(ctx, http.MethodPut, "sys/unseal", map[string]any{"key": v.unsealKey}, nil); err != nil {
		return nil, fmt.Errorf("vault unseal: %w", err)
	}
	c.token = v.Token
	if err := p.WaitFor("active node", 90*time.Second, 50*time.Millisecond, func() error {
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
	}); err != nil {
		return nil, err
	}
	ch := make(chan time.Time, 1)
	go func() {
		for {
			if logContains(logPath, off, "lease restore complete") {
				ch <- time.Now()
				return
			}
			select {
			case <-p.Exited():
				return
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return ch, nil
}

// logContains reports whether the file holds s after offset off.
func logContains(path string, off int64, s string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false
	}
	b, _ := io.ReadAll(f)
	return bytes.Contains(b, []byte(s))
}

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

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// findProcesses returns the PIDs whose executable is exe.
func findProcesses(exe string) []int {
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && got == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStatus is what /proc/<pid>/status says of a process's size.
type procStatus struct {
	PID     int     `json:"pid"`
	RSSMB   float64 `json:"rss_mb"`
	PeakMB  float64 `json:"peak_mb"`
	Threads int     `json:"threads"`
}

func readStatus(pid int) (procStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	defer f.Close()
	s := procStatus{PID: pid}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) < 1 {
			continue
		}
		n, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSSMB = round2(n / 1024)
		case "VmHWM":
			s.PeakMB = round2(n / 1024)
		case "Threads":
			s.Threads = int(n)
		}
	}
	if s.RSSMB == 0 {
		return s, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return s, sc.Err()
}

// pluginStatus reads the newest process running exe (a multiplexed plugin
// serves every mount from one process; a newer one means Vault restarted it).
func pluginStatus(exe string) (procStatus, error) {
	pids := findProcesses(exe)
	if len(pids) == 0 {
		return procStatus{}, fmt.Errorf("no process runs %s", exe)
	}
	var best procStatus
	var err error
	for _, pid := range pids {
		if pid > best.PID {
			var s procStatus
			if s, err = readStatus(pid); err == nil {
				best = s
			}
		}
	}
	if best.PID == 0 {
		return best, err
	}
	return best, nil
}

// goroutines reads the goroutine count from a net/http/pprof endpoint
// (bench/profiled): the first line of /debug/pprof/goroutine?debug=1 is
// "goroutine profile: total N".
func goroutines(pprofAddr string) (int, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, err
	}
	_, n, ok := strings.Cut(strings.TrimSpace(line), "total ")
	if !ok {
		return 0, fmt.Errorf("pprof goroutine: unexpected %q", line)
	}
	return strconv.Atoi(n)
}

// fetch saves the body of url to path.
func fetch(url, path string, timeout time.Duration) error {
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuSeconds returns the user+system CPU time pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	if pid == 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: malformed times", pid)
	}
	return (utime + stime) / 100, nil
}

// loadAvg is /proc/loadavg's first three fields.
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

func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}
