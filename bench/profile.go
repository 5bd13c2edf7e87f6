package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// pprofAddr is the loopback address the profiled plugin serves pprof on,
// chosen once per run and passed to the plugin through its catalog env.
func (b *bench) pprofAddr() string {
	if b.pprofListen == "" {
		addr, err := freeAddr()
		if err != nil {
			addr = "127.0.0.1:6061"
		}
		b.pprofListen = addr
	}
	return b.pprofListen
}

// profile starts CPU profiles covering phase p (warm-up included) when
// -pprof-dir is set: of our plugin and of Vault on the "ours" mount, of Vault
// alone on the token-create floor. The returned func waits for them, adds
// heap and allocation profiles of the plugin, and records the files in p.
func (b *bench) profile(p *phaseResult, kind string) (stop func()) {
	plugin := p.Mount == "ours"
	if b.o.pprofDir == "" || (!plugin && p.Name != "token-create") {
		return func() {}
	}
	if err := os.MkdirAll(b.o.pprofDir, 0o755); err != nil {
		b.logf("pprof: %v", err)
		return func() {}
	}
	secs := int(math.Ceil((b.o.warmup + b.o.duration).Seconds()))
	timeout := time.Duration(secs+30) * time.Second
	type job struct {
		url, path, token string
	}
	jobs := []job{{fmt.Sprintf("%s/v1/sys/pprof/profile?seconds=%d", b.vault.Addr, secs),
		filepath.Join(b.o.pprofDir, kind+"-vault-cpu.pprof"), b.vault.Token}}
	base := "http://" + b.pprofAddr() + "/debug/pprof/"
	if plugin {
		jobs = append(jobs, job{base + fmt.Sprintf("profile?seconds=%d", secs), filepath.Join(b.o.pprofDir, kind+"-cpu.pprof"), ""})
	}
	errs := make([]chan error, len(jobs))
	for i, j := range jobs {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- fetch(j.url, j.path, j.token, timeout) }()
	}
	return func() {
		for i, j := range jobs {
			if err := <-errs[i]; err != nil {
				b.logf("pprof: %v", err)
			} else {
				p.Profiles = append(p.Profiles, j.path)
			}
		}
		if !plugin {
			return
		}
		for _, name := range []string{"heap", "allocs"} {
			path := filepath.Join(b.o.pprofDir, kind+"-"+name+".pprof")
			if err := fetch(base+name, path, "", 30*time.Second); err != nil {
				b.logf("pprof %s: %v", name, err)
			} else {
				p.Profiles = append(p.Profiles, path)
			}
		}
	}
}

// fetch saves the body of url to path, sending token as X-Vault-Token when
// set.
func fetch(url, path, token string, timeout time.Duration) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
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
