package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// vaultClient is a lean Vault HTTP client: one keep-alive transport, no
// retries, no timeouts beyond the request's context (a revoke-prefix of many
// leases is long).
type vaultClient struct {
	addr, token string
	http        *http.Client
}

func newVaultClient(addr, token string, conns int) *vaultClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &vaultClient{addr: addr, token: token, http: &http.Client{Transport: tr}}
}

type vaultError struct {
	Status int
	Errors []string
}

func (e *vaultError) Error() string {
	return fmt.Sprintf("vault: HTTP %d: %s", e.Status, strings.Join(e.Errors, "; "))
}

func (c *vaultClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	if _, ok := ctx.Deadline(); !ok && !strings.HasPrefix(path, "sys/leases/revoke-prefix/") {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.addr+"/v1/"+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("X-Vault-Token", c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		ve := &vaultError{Status: resp.StatusCode}
		var e struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
			ve.Errors = e.Errors
		} else {
			ve.Errors = []string{strings.TrimSpace(string(b))}
		}
		return ve
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// secretResponse is the part of a credential response the harness checks.
type secretResponse struct {
	LeaseID string `json:"lease_id"`
	Data    struct {
		AccessKey     string `json:"access_key"`
		SecretKey     string `json:"secret_key"`
		SecurityToken string `json:"security_token"`
	} `json:"data"`
}

func (c *vaultClient) readCreds(ctx context.Context, mount, role string, wantToken bool) (*secretResponse, error) {
	var s secretResponse
	if err := c.do(ctx, http.MethodGet, mount+"/creds/"+role, nil, &s); err != nil {
		return nil, err
	}
	if s.Data.AccessKey == "" || s.Data.SecretKey == "" || s.LeaseID == "" {
		return nil, fmt.Errorf("%s/creds/%s: no access_key, secret_key or lease in the answer", mount, role)
	}
	if wantToken && s.Data.SecurityToken == "" {
		return nil, fmt.Errorf("%s/creds/%s: no security_token in the answer", mount, role)
	}
	return &s, nil
}

func (c *vaultClient) revoke(ctx context.Context, leaseID string) error {
	return c.do(ctx, http.MethodPut, "sys/leases/revoke", map[string]any{"lease_id": leaseID}, nil)
}

// revokePrefix revokes every lease under prefix and waits for it (sync).
func (c *vaultClient) revokePrefix(ctx context.Context, prefix string) error {
	// Vault refuses a write to a path ending in "/".
	return c.do(ctx, http.MethodPut, "sys/leases/revoke-prefix/"+strings.TrimSuffix(prefix, "/"), map[string]any{"sync": true}, nil)
}

// countLeases lists the lease ids under prefix (one level: <mount>/creds/<role>/).
func (c *vaultClient) countLeases(ctx context.Context, prefix string) (int, error) {
	var out struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	err := c.do(ctx, "LIST", "sys/leases/lookup/"+prefix, nil, &out)
	var ve *vaultError
	if asVaultError(err, &ve) && ve.Status == http.StatusNotFound {
		return 0, nil
	}
	return len(out.Data.Keys), err
}

func asVaultError(err error, target **vaultError) bool {
	ve, ok := err.(*vaultError)
	if ok {
		*target = ve
	}
	return ok
}

// opFunc runs one operation for worker w.
type opFunc func(ctx context.Context, w int) error

// latencies summarizes one measured load.
type latencies struct {
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	// PluginCPUMS is the plugin process's CPU milliseconds per successful
	// operation (user and system, /proc/<pid>/stat), where measured.
	PluginCPUMS float64 `json:"plugin_cpu_ms_per_op,omitempty"`
}

func summarize(lat []time.Duration, errs int, first string, elapsed time.Duration) latencies {
	r := latencies{Ops: len(lat), Errors: errs, FirstError: first, Seconds: round2(elapsed.Seconds())}
	if elapsed > 0 {
		r.PerSecond = round2(float64(len(lat)) / elapsed.Seconds())
	}
	if len(lat) > 0 {
		s := slices.Clone(lat)
		slices.Sort(s)
		r.P50MS = msOf(percentile(s, 0.50))
		r.P99MS = msOf(percentile(s, 0.99))
		r.MaxMS = msOf(s[len(s)-1])
	}
	return r
}

func msOf(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// drive runs clients workers in a closed loop until d passes or, when count
// is positive, until count operations have been started. It returns every
// successful operation's latency.
func drive(ctx context.Context, clients int, d time.Duration, count int, op opFunc) (lat []time.Duration, errs int, first string, elapsed time.Duration) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		started atomic.Int64
		mu      sync.Mutex
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	if count > 0 {
		deadline = time.Now().Add(24 * time.Hour)
	}
	begin := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var e int
			var f string
			for ctx.Err() == nil {
				if count > 0 && started.Add(1) > int64(count) {
					break
				}
				t0 := time.Now()
				if t0.After(deadline) {
					break
				}
				if err := op(ctx, w); err != nil {
					if ctx.Err() != nil {
						break
					}
					e++
					if f == "" {
						f = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += e
			if first == "" {
				first = f
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs, first, time.Since(begin)
}

// measure runs a warm-up (dropped) and then a measured closed-loop load.
// When pid is not 0, the result also gives the CPU time that process spent
// per successful operation over the measured part: on a shared machine a
// steadier figure than throughput.
func measure(ctx context.Context, clients int, warmup, d time.Duration, op opFunc, pid int) latencies {
	if warmup > 0 {
		drive(ctx, clients, warmup, 0, op)
	}
	cpu0, err0 := cpuSeconds(pid)
	l := summarize(drive(ctx, clients, d, 0, op))
	if cpu1, err1 := cpuSeconds(pid); pid != 0 && err0 == nil && err1 == nil && l.Ops > 0 {
		l.PluginCPUMS = math.Round(1e5*(cpu1-cpu0)/float64(l.Ops)) / 100
	}
	return l
}
