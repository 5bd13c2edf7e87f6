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

// profile starts a CPU profile of our plugin covering phase p (warm-up
// included) when -pprof-dir is set and p runs on the "ours" mount; the
// returned func waits for it, writes it and a heap profile, and records
// their paths in p.
func (b *bench) profile(p *phaseResult, kind string) (stop func()) {
	if b.o.pprofDir == "" || p.Mount != "ours" {
		return func() {}
	}
	if err := os.MkdirAll(b.o.pprofDir, 0o755); err != nil {
		b.logf("pprof: %v", err)
		return func() {}
	}
	base := "http://" + b.pprofAddr() + "/debug/pprof/"
	secs := int(math.Ceil((b.o.warmup + b.o.duration).Seconds()))
	cpuPath := filepath.Join(b.o.pprofDir, kind+"-cpu.pprof")
	done := make(chan error, 1)
	go func() {
		done <- fetch(base+fmt.Sprintf("profile?seconds=%d", secs), cpuPath, time.Duration(secs+30)*time.Second)
	}()
	return func() {
		if err := <-done; err != nil {
			b.logf("pprof cpu: %v", err)
		} else {
			p.Profiles = append(p.Profiles, cpuPath)
		}
		heapPath := filepath.Join(b.o.pprofDir, kind+"-heap.pprof")
		if err := fetch(base+"heap", heapPath, 30*time.Second); err != nil {
			b.logf("pprof heap: %v", err)
		} else {
			p.Profiles = append(p.Profiles, heapPath)
		}
		allocsPath := filepath.Join(b.o.pprofDir, kind+"-allocs.pprof")
		if err := fetch(base+"allocs", allocsPath, 30*time.Second); err == nil {
			p.Profiles = append(p.Profiles, allocsPath)
		}
	}
}

// fetch saves the body of url to path.
func fetch(url, path string, timeout time.Duration) error {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
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
