package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// mountCase is the mounts axis at one number of mounts of one
// implementation, all served by one plugin process.
type mountCase struct {
	Impl   string `json:"impl"`
	Mounts int    `json:"mounts"`
	// Identities counts the mounts by engine identity.
	Identities map[string]int `json:"identities"`
	Plugin     procSample     `json:"plugin"`
	// RSSPerMountMB is the plugin's RSS growth per mount since the first
	// case of the implementation.
	RSSPerMountMB float64 `json:"rss_per_mount_mb"`
	// IdentityFetches counts the engine-identity fetches (ecs:GetCredentials,
	// sts:AssumeRoleWithOIDC) since the first mount was configured;
	// IdentityLifetimes how many identity lifetimes (the emulator's hour)
	// the axis has lasted so far, rounded up.
	IdentityFetches   int64   `json:"identity_fetches"`
	FetchesPerMount   float64 `json:"fetches_per_mount"`
	IdentityLifetimes int     `json:"identity_lifetimes"`
	// Issue is the throughput with every client picking a random mount;
	// PerMount* the spread of operations over the mounts.
	Issue        latencies `json:"issue"`
	PerMountMin  int       `json:"per_mount_min"`
	PerMountMax  int       `json:"per_mount_max"`
	PerMountMean float64   `json:"per_mount_mean"`
	Profiles     []string  `json:"profiles,omitempty"`
}

// identityLifetime is how long the emulator's STS sessions, and so the
// engine identities of the mounts axis, last.
const identityLifetime = time.Hour

func (r *runner) mountsAxis(ctx context.Context, rep *report) error {
	s, err := r.newStack(ctx, "mounts", "inmem")
	if err != nil {
		return err
	}
	token, err := s.oidcTokenFile()
	if err != nil {
		return err
	}
	if err := s.emu.ResetCounters(); err != nil {
		return err
	}
	start := time.Now()
	impls := []string{implOurs}
	if r.o.hashicorp {
		impls = append(impls, implHC)
	}
	for _, impl := range impls {
		var paths []string
		var first *mountCase
		for _, n := range r.o.mounts {
			c := &mountCase{Impl: impl, Mounts: n, Identities: map[string]int{}}
			for i := len(paths); i < n; i++ {
				path := fmt.Sprintf("%s-m%03d", impl, i)
				// Ours alternates the ECS instance role (metadata service)
				// and an OIDC role (RRSA token file); HashiCorp's plugin has
				// no OIDC identity, and its ECS one is an empty key pair (its
				// SDK's chain reads 100.100.100.200 through the proxy).
				var cfg map[string]any
				switch {
				case impl == implHC:
					cfg = map[string]any{"access_key": "", "secret_key": ""}
				case i%2 == 0:
					cfg = map[string]any{"credential_type": "ecs_ram_role", "metadata_endpoint": s.emu.URL}
				default:
					cfg = map[string]any{"credential_type": "oidc_role_arn", "role_arn": oidcRoleARN, "oidc_provider_arn": oidcProvARN, "oidc_token_file": token}
				}
				if err := s.mount(ctx, path, impl, cfg); err != nil {
					return err
				}
				if err := s.vc.do(ctx, http.MethodPost, path+"/role/sts", map[string]any{"role_arn": targetARN}, nil); err != nil {
					return err
				}
				if _, err := s.vc.readCreds(ctx, path, "sts", true); err != nil {
					return fmt.Errorf("smoke test: %w", err)
				}
				paths = append(paths, path)
			}
			for i := range paths {
				if impl == implHC || i%2 == 0 {
					c.Identities["ecs_ram_role"]++
				} else {
					c.Identities["oidc_role_arn"]++
				}
			}
			counts := make([]atomic.Int64, len(paths))
			c.Issue = measure(ctx, r.o.clients, r.o.warmup, r.o.duration, func(ctx context.Context, _ int) error {
				i := rand.IntN(len(paths))
				_, err := s.vc.readCreds(ctx, paths[i], "sts", true)
				if err == nil {
					counts[i].Add(1)
				}
				return err
			}, s.pluginPID(impl))
			var per []int
			for i := range counts {
				per = append(per, int(counts[i].Load()))
			}
			c.PerMountMin, c.PerMountMax = slices.Min(per), slices.Max(per)
			var sum int
			for _, v := range per {
				sum += v
			}
			c.PerMountMean = round2(float64(sum) / float64(len(per)))
			for _, p := range paths {
				if err := s.vc.revokePrefix(ctx, p+"/creds/"); err != nil {
					return err
				}
			}
			c.Plugin = s.plugin(impl)
			if first == nil {
				first = c
			} else if n > first.Mounts {
				c.RSSPerMountMB = round2((c.Plugin.RSSMB - first.Plugin.RSSMB) / float64(n-first.Mounts))
			}
			calls, err := s.emu.Counters()
			if err != nil {
				return err
			}
			// Fetches of every implementation so far: count only this one's
			// by subtracting what the earlier implementations left.
			c.IdentityFetches = calls["ecs:GetCredentials"] + calls["sts:AssumeRoleWithOIDC"] - r.fetchesBefore(rep, impl)
			c.FetchesPerMount = round2(float64(c.IdentityFetches) / float64(n))
			c.IdentityLifetimes = int(time.Since(start)/identityLifetime) + 1
			rep.Mounts = append(rep.Mounts, c)
			r.logf("mounts: %s x%d: %.1f/s, p99 %.1f ms, per mount %d..%d ops, RSS %.1f MB, %d identity fetches",
				impl, n, c.Issue.PerSecond, c.Issue.P99MS, c.PerMountMin, c.PerMountMax, c.Plugin.RSSMB, c.IdentityFetches)
			if impl == implOurs {
				c.Profiles = r.profiles(s, fmt.Sprintf("mounts-%d", n))
			}
		}
	}
	return nil
}

// fetchesBefore is the identity fetches the implementations measured before
// impl made (their largest case holds their total).
func (r *runner) fetchesBefore(rep *report, impl string) int64 {
	last := map[string]int64{}
	for _, c := range rep.Mounts {
		if c.Impl != impl {
			last[c.Impl] = c.IdentityFetches
		}
	}
	var n int64
	for _, v := range last {
		n += v
	}
	return n
}
