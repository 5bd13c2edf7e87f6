package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// latencyResult is the latency axis: at one client, each kind of request in
// turn (the order rotating), so that every kind sees the same moments.
type latencyResult struct {
	Ops int `json:"ops_per_kind"`
	// Kinds: "token-create" (auth/token/create, a lease-writing Vault request
	// with no plugin), "ours" (creds/ of our plugin through the emulator's
	// proxy and TLS, HashiCorp's path), "ours-direct" (the emulator's
	// plain-HTTP endpoint), "hashicorp", and "assumerole-direct" (AssumeRole
	// from the harness with our aliyun client on the plain endpoint: the
	// upstream part of every creds/).
	Kinds map[string]latencies `json:"kinds"`
	// OverTokenMS is each creds kind's p50 minus token-create's p50: what
	// the engine (plugin, AssumeRole upstream, the lease) adds to a Vault
	// request.
	OverTokenMS map[string]float64 `json:"over_token_ms"`
	// OverUpstreamMS is OverTokenMS minus the p50 of assumerole-direct: what
	// is left once the upstream call itself is taken out (the plugin, its
	// gRPC round trip with Vault, Vault's handling of a plugin response).
	OverUpstreamMS map[string]float64 `json:"over_upstream_ms"`
}

func (r *runner) latencyAxis(ctx context.Context, rep *report) error {
	s, err := r.newStack(ctx, "latency", "inmem")
	if err != nil {
		return err
	}
	type kind struct {
		name string
		op   func(context.Context) error
	}
	creds := func(mount string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.vc.readCreds(ctx, mount, "sts", true)
			return err
		}
	}
	var parent struct {
		Auth *struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	if err := s.vc.do(ctx, http.MethodPost, "auth/token/create", map[string]any{"ttl": "2h", "policies": []string{"root"}}, &parent); err != nil {
		return err
	}
	if parent.Auth == nil {
		return errors.New("auth/token/create: no token")
	}
	child := &vaultClient{addr: s.vc.addr, token: parent.Auth.ClientToken, http: s.vc.http}
	kinds := []kind{{"token-create", func(ctx context.Context) error {
		var out struct {
			Auth *struct {
				ClientToken string `json:"client_token"`
			} `json:"auth"`
		}
		if err := child.do(ctx, http.MethodPost, "auth/token/create", map[string]any{"ttl": "1h", "policies": []string{"default"}}, &out); err != nil {
			return err
		}
		if out.Auth == nil || out.Auth.ClientToken == "" {
			return errors.New("auth/token/create: no token")
		}
		return nil
	}}}
	mounts := []struct {
		name, impl string
		cfg        map[string]any
	}{
		{"ours", implOurs, accessKey},
		{"ours-direct", implOurs, map[string]any{"access_key": rootKeyID, "secret_key": rootKeySecret, "sts_endpoint": s.emu.URL, "ram_endpoint": s.emu.URL}},
	}
	if r.o.hashicorp {
		mounts = append(mounts, struct {
			name, impl string
			cfg        map[string]any
		}{"hashicorp", implHC, accessKey})
	}
	for _, m := range mounts {
		if err := s.mount(ctx, m.name, m.impl, m.cfg); err != nil {
			return err
		}
		if err := s.vc.do(ctx, http.MethodPost, m.name+"/role/sts", map[string]any{"role_arn": targetARN}, nil); err != nil {
			return err
		}
		kinds = append(kinds, kind{m.name, creds(m.name)})
	}
	// The upstream floor: AssumeRole from this process with our aliyun
	// client on the emulator's plain endpoint, what every creds/ waits for.
	api, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: rootKeyID, AccessKeySecret: rootKeySecret}),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: s.emu.URL},
		HTTPClient:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}},
	})
	if err != nil {
		return err
	}
	kinds = append(kinds, kind{"assumerole-direct", func(ctx context.Context) error {
		out, err := api.AssumeRole(ctx, aliyun.AssumeRoleInput{RoleArn: targetARN, RoleSessionName: "bench-floor"})
		if err == nil && out.Credentials.SecurityToken == "" {
			err = errors.New("AssumeRole: no security token")
		}
		return err
	}})
	res := &latencyResult{Ops: r.o.latencyOps, Kinds: map[string]latencies{}, OverTokenMS: map[string]float64{},
		OverUpstreamMS: map[string]float64{}}
	rep.Latency = res
	lat := make([][]time.Duration, len(kinds))
	errs := make([]int, len(kinds))
	first := make([]string, len(kinds))
	warm := max(20, r.o.latencyOps/10)
	t0 := time.Now()
	for i := range warm + r.o.latencyOps {
		for j := range kinds {
			k := (i + j) % len(kinds)
			t := time.Now()
			err := kinds[k].op(ctx)
			d := time.Since(t)
			if i < warm {
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				errs[k]++
				if first[k] == "" {
					first[k] = err.Error()
				}
				continue
			}
			lat[k] = append(lat[k], d)
		}
	}
	el := time.Since(t0)
	for k, kd := range kinds {
		res.Kinds[kd.name] = summarize(lat[k], errs[k], first[k], el)
	}
	for _, kd := range kinds[1:] {
		if kd.name == "assumerole-direct" {
			continue
		}
		res.OverTokenMS[kd.name] = round2(res.Kinds[kd.name].P50MS - res.Kinds["token-create"].P50MS)
		res.OverUpstreamMS[kd.name] = round2(res.OverTokenMS[kd.name] - res.Kinds["assumerole-direct"].P50MS)
	}
	return nil
}
