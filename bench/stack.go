package main

import (
	"bufio"
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

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// baseEnv is the harness's environment without anything that would point a
// child elsewhere (cluster.CleanEnv: Vault variables, proxies, Alibaba
// credentials, which HashiCorp's plugin reads before its configured key, and
// CA files).
func baseEnv() []string { return cluster.CleanEnv() }

// emulatorProc is the alicloud-emulator command with its plain listener,
// its proxy and the CA file the proxy's certificates chain to.
type emulatorProc struct {
	*process
	URL      string // plain-HTTP RPC, admin, metadata
	ProxyURL string
	CAFile   string
	http     *http.Client
}

// startEmulator starts the emulator command with its files named after name;
// extra arguments follow the harness's own.
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
	p, err := proc.Start(name, bin, args, baseEnv(), filepath.Join(dir, name+".log"), false)
	if err != nil {
		return nil, err
	}
	e := &emulatorProc{process: p, URL: "http://" + addr, ProxyURL: "http://" + proxyAddr, CAFile: caFile,
		http: &http.Client{Timeout: 30 * time.Second}}
	if err := p.WaitFor("readiness", 30*time.Second, 100*time.Millisecond, func() error {
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
	resp, err := e.http.Get(e.URL + "/_emulator/counters")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /_emulator/counters: %s: %s", resp.Status, b)
	}
	var c map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return nil, err
	}
	return c, nil
}

// ResetCounters zeroes the counters, between phases.
func (e *emulatorProc) ResetCounters() error {
	return e.admin(http.MethodDelete, "/_emulator/counters", nil, nil)
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
		// The admin API refuses bodies of any other type (no cross-origin
		// simple requests).
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

// vaultProc is a Vault dev server.
type vaultProc struct {
	*process
	Addr  string
	Token string
}

// startVault starts `vault server -dev` with the plugin directory and an
// environment that sends every Alibaba Cloud call (and the ECS metadata
// address) to the emulator's proxy; plugins inherit Vault's environment.
func startVault(bin, dir, pluginDir string, emu *emulatorProc, logLevel string) (*vaultProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	const token = "bench-root"
	env := vaultEnv(emu)
	args := []string{"server", "-dev", "-dev-root-token-id=" + token, "-dev-listen-address=" + addr,
		"-dev-plugin-dir=" + pluginDir, "-log-level=" + logLevel}
	p, err := proc.Start("vault", bin, args, env, filepath.Join(dir, "vault.log"), false)
	if err != nil {
		return nil, err
	}
	v := &vaultProc{process: p, Addr: "http://" + addr, Token: token}
	c := &http.Client{Timeout: 5 * time.Second}
	if err := p.WaitFor("readiness", 60*time.Second, 100*time.Millisecond, func() error {
		resp, err := c.Get(v.Addr + "/v1/sys/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	}); err != nil {
		p.Stop(10 * time.Second)
		return nil, err
	}
	return v, nil
}

// vaultEnv is the environment of a Vault server (and so of its plugins):
// the harness's, cleaned by baseEnv, with every Alibaba Cloud call sent to
// the emulator's proxy and its CA trusted. Loopback addresses (the API, the
// cluster's Raft and request forwarding) never go through a proxy.
func vaultEnv(emu *emulatorProc) []string {
	return append(baseEnv(),
		"HTTPS_PROXY="+emu.ProxyURL, "https_proxy="+emu.ProxyURL,
		"HTTP_PROXY="+emu.ProxyURL, "http_proxy="+emu.ProxyURL,
		"NO_PROXY=", "no_proxy=",
		"SSL_CERT_FILE="+emu.CAFile,
	)
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

// copyFile copies src to dst with mode 0755 (plugin binaries).
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

// procMem is the memory of one process, from /proc/<pid>/status.
type procMem struct {
	PID    int     `json:"pid"`
	RSSMB  float64 `json:"rss_mb"`  // VmRSS
	PeakMB float64 `json:"peak_mb"` // VmHWM: the largest RSS so far
}

// findProcesses returns the PIDs whose executable is exe.
func findProcesses(exe string) ([]int, error) {
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		got, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		if got == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// readMem reads VmRSS and VmHWM of pid.
func readMem(pid int) (procMem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	defer f.Close()
	m := procMem{PID: pid}
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
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmRSS":
			m.RSSMB = kb / 1024
		case "VmHWM":
			m.PeakMB = kb / 1024
		}
	}
	if m.RSSMB == 0 {
		return m, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return m, sc.Err()
}

// pluginMem returns the memory of the single process running exe.
func pluginMem(exe string) (procMem, error) {
	pids, err := findProcesses(exe)
	if err != nil {
		return procMem{}, err
	}
	switch len(pids) {
	case 0:
		return procMem{}, fmt.Errorf("no process runs %s", exe)
	case 1:
		return readMem(pids[0])
	default:
		// A multiplexed plugin serves every mount from one process; more than
		// one means Vault restarted it, and the newest is the one serving.
		var best procMem
		for _, pid := range pids {
			m, err := readMem(pid)
			if err == nil && m.PID > best.PID {
				best = m
			}
		}
		if best.PID == 0 {
			return procMem{}, errors.New("no readable plugin process")
		}
		return best, nil
	}
}

// cpuSeconds returns the user+system CPU time pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
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

// machineBusySeconds is the CPU time all CPUs spent busy since boot, from the
// first line of /proc/stat (user, nice, system, irq, softirq, steal).
func machineBusySeconds() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: malformed")
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return busy / 100, nil
}
