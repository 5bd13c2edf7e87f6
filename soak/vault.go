package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// vaultClient is a small Vault HTTP client: one keep-alive transport, no
// retries, no proxy.
type vaultClient struct {
	addr, token string
	http        *http.Client
	// on500, when set, is told about every answer with status 500.
	on500 func(method, path, text string)
}

func newVaultClient(addr, token string, conns int) *vaultClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
	}
	return &vaultClient{addr: addr, token: token, http: &http.Client{Transport: tr, Timeout: 90 * time.Second}}
}

// vaultError is a non-2xx answer.
type vaultError struct {
	Status int
	Errors []string
}

func (e *vaultError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.Join(e.Errors, "; "))
}

// do sends a request to /v1/<path> and decodes a JSON answer into out.
func (c *vaultClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
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
		if resp.StatusCode == http.StatusInternalServerError && c.on500 != nil {
			c.on500(method, path, strings.Join(ve.Errors, "; "))
		}
		return ve
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// list LISTs path and returns its keys (none for a 404).
func (c *vaultClient) list(ctx context.Context, path string) ([]string, error) {
	var out struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	err := c.do(ctx, "LIST", path, nil, &out)
	if ve, ok := err.(*vaultError); ok && ve.Status == http.StatusNotFound {
		return nil, nil
	}
	return out.Data.Keys, err
}

// secretResponse is a credential response.
type secretResponse struct {
	LeaseID       string `json:"lease_id"`
	LeaseDuration int    `json:"lease_duration"`
	Renewable     bool   `json:"renewable"`
	Data          struct {
		AccessKey     string `json:"access_key"`
		SecretKey     string `json:"secret_key"`
		SecurityToken string `json:"security_token"`
	} `json:"data"`
}

// fiveHundreds counts the answers with status 500 per path, with their
// distinct error texts and times.
type fiveHundreds struct {
	mu     sync.Mutex
	events []fiveHundred
}

// fiveHundred is one answer with status 500.
type fiveHundred struct {
	At   time.Time
	Path string
	Text string
}

type fiveHundredPath struct {
	Count int            `json:"count"`
	Texts map[string]int `json:"texts"`
	Times []string       `json:"times"`
}

var (
	leaseIDPart = regexp.MustCompile(`/[A-Za-z0-9]{24}$`)
	churnPart   = regexp.MustCompile(`churn-[0-9]+`)
)

func (f *fiveHundreds) record(method, path, text string) {
	path = leaseIDPart.ReplaceAllString(path, "/<lease>")
	path = churnPart.ReplaceAllString(path, "churn-N")
	key := method + " " + path
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, fiveHundred{At: time.Now(), Path: key, Text: text})
}

// split returns the 500s by path, those that came from the plugin process
// dying under the request apart from the others. A 500 is put apart only
// with two pieces of evidence: the harness killed the plugin or Vault at
// most 10 s before (a loaded machine can stall Vault for seconds), and
// Vault's own log, within a second, says so:
//   - a gRPC Unavailable error in the answer, and Vault logged "plugin
//     process exited ... signal: killed" (pluginDied);
//   - Vault's masked "internal error", and Vault logged "failed to run
//     existence check" with a gRPC Unavailable error (maskedAt): it hides
//     the error of an existence check whose plugin died.
func (f *fiveHundreds) split(kills, pluginDied, maskedAt []time.Time) (other, atKill map[string]*fiveHundredPath) {
	f.mu.Lock()
	defer f.mu.Unlock()
	other, atKill = map[string]*fiveHundredPath{}, map[string]*fiveHundredPath{}
	near := func(t time.Time, ts []time.Time, before, after time.Duration) bool {
		for _, x := range ts {
			if !t.Before(x.Add(-before)) && !t.After(x.Add(after)) {
				return true
			}
		}
		return false
	}
	for _, e := range f.events {
		dst := other
		afterKill := near(e.At, kills, 0, 10*time.Second)
		switch {
		case afterKill && strings.Contains(e.Text, "rpc error: code = Unavailable") && near(e.At, pluginDied, time.Second, time.Second):
			dst = atKill
		case afterKill && strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(e.Text), "1 error occurred:")) == "* internal error" &&
			near(e.At, maskedAt, time.Second, time.Second):
			dst = atKill
		}
		p := dst[e.Path]
		if p == nil {
			p = &fiveHundredPath{Texts: map[string]int{}}
			dst[e.Path] = p
		}
		p.Count++
		if len(p.Texts) < 20 || p.Texts[e.Text] > 0 {
			p.Texts[e.Text]++
		}
		if len(p.Times) < 50 {
			p.Times = append(p.Times, e.At.UTC().Format("15:04:05.000"))
		}
	}
	return other, atKill
}

func countOf(m map[string]*fiveHundredPath) int {
	n := 0
	for _, p := range m {
		n += p.Count
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
