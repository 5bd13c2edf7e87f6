package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// vaultClient is a lean Vault HTTP client for the load generator: one
// keep-alive transport sized for the clients, no retries, and only the JSON
// decoding a phase needs, so the harness spends little of the machine's CPU.
type vaultClient struct {
	addr, token string
	http        *http.Client
}

func newVaultClient(addr, token string, conns int) *vaultClient {
	tr := &http.Transport{
		Proxy:               nil, // Vault is on loopback; never a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &vaultClient{addr: addr, token: token, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// vaultError is a non-2xx answer.
type vaultError struct {
	Status int
	Errors []string
}

func (e *vaultError) Error() string {
	return fmt.Sprintf("vault: HTTP %d: %s", e.Status, strings.Join(e.Errors, "; "))
}

// do sends a request to /v1/<path> and decodes a JSON answer into out (when
// non-nil). A non-2xx answer is a *vaultError.
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
	req.Header.Set("X-Vault-Token", c.token)
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

// secretResponse is the part of a credential response the phases check.
type secretResponse struct {
	LeaseID string `json:"lease_id"`
	Data    struct {
		AccessKey     string `json:"access_key"`
		SecretKey     string `json:"secret_key"`
		SecurityToken string `json:"security_token"`
	} `json:"data"`
	Auth *struct {
		ClientToken string `json:"client_token"`
	} `json:"auth"`
}

// readCreds reads <mount>/creds/<role> and checks the answer holds a key,
// and an STS token when wantToken.
func (c *vaultClient) readCreds(ctx context.Context, mount, role string, wantToken bool) (*secretResponse, error) {
	var s secretResponse
	if err := c.do(ctx, http.MethodGet, mount+"/creds/"+role, nil, &s); err != nil {
		return nil, err
	}
	if s.Data.AccessKey == "" || s.Data.SecretKey == "" {
		return nil, fmt.Errorf("%s/creds/%s: no access_key or secret_key in the answer", mount, role)
	}
	if wantToken && s.Data.SecurityToken == "" {
		return nil, fmt.Errorf("%s/creds/%s: no security_token in the answer", mount, role)
	}
	if s.LeaseID == "" {
		return nil, fmt.Errorf("%s/creds/%s: no lease", mount, role)
	}
	return &s, nil
}

// revoke revokes a lease synchronously (the default of sys/leases/revoke),
// so the time includes the plugin's cleanup in the cloud.
func (c *vaultClient) revoke(ctx context.Context, leaseID string) error {
	return c.do(ctx, http.MethodPut, "sys/leases/revoke", map[string]any{"lease_id": leaseID}, nil)
}
