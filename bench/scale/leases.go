package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// leaseCase is the live-leases axis for one implementation.
type leaseCase struct {
	Impl   string `json:"impl"`
	Mount  string `json:"mount"`
	Leases int    `json:"leases"` // live leases Vault listed before the restart
	// Issue is the load that made the leases.
	Issue latencies `json:"issue"`
	// PluginIssued and VaultIssued are the processes with every lease live.
	PluginIssued procSample `json:"plugin_issued"`
	VaultIssued  procSample `json:"vault_issued"`
	// RestartActiveS is from starting the stopped Vault to an unsealed,
	// active node; RestartRestoredS to its log's "lease restore complete"
	// (Vault loads leases in the background after unsealing).
	RestartActiveS   float64    `json:"restart_active_s"`
	RestartRestoredS float64    `json:"restart_restored_s"`
	PluginRestarted  procSample `json:"plugin_restarted"`
	VaultRestarted   procSample `json:"vault_restarted"`
	// RevokeS is a synchronous sys/leases/revoke-prefix/<mount>/creds/;
	// RevokeUpstream the emulator's calls meanwhile (an STS lease needs none).
	RevokeS         float64          `json:"revoke_s"`
	RevokePerSecond float64          `json:"revoke_per_second"`
	RevokeUpstream  int64            `json:"revoke_upstream_calls"`
	RevokeCalls     map[string]int64 `json:"revoke_calls,omitempty"`
	LeftAfterRevoke int              `json:"left_after_revoke"`
	PluginRevoked   procSample       `json:"plugin_revoked"`
	Profiles        []string         `json:"profiles,omitempty"`
}

func (r *runner) leasesAxis(ctx context.Context, rep *report) error {
	s, err := r.newStack(ctx, "leases", "file")
	if err != nil {
		return err
	}
	impls := []string{implOurs}
	if r.o.hashicorp {
		impls = append(impls, implHC)
	}
	for _, impl := range impls {
		c := &leaseCase{Impl: impl, Mount: impl + "-leases"}
		rep.Leases = append(rep.Leases, c)
		if err := s.mount(ctx, c.Mount, impl, accessKey); err != nil {
			return err
		}
		if err := s.vc.do(ctx, http.MethodPost, c.Mount+"/role/sts", map[string]any{"role_arn": targetARN}, nil); err != nil {
			return err
		}
		// The emulator keeps every STS session for its hour: start each
		// implementation from the seed.
		if err := s.emu.admin(http.MethodPost, "/_emulator/reset", nil, nil); err != nil {
			return err
		}
		r.logf("leases: %s: issuing %d STS credentials", c.Mount, r.o.leases)
		var issued atomic.Int64
		done := make(chan struct{})
		go func() {
			// A long issue says where it is now and then.
			t := time.NewTicker(30 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					r.logf("leases: %s: %d issued", c.Mount, issued.Load())
				}
			}
		}()
		c.Issue = summarize(drive(ctx, r.o.leaseClients, 0, r.o.leases, func(ctx context.Context, _ int) error {
			_, err := s.vc.readCreds(ctx, c.Mount, "sts", true)
			if err == nil {
				issued.Add(1)
			}
			return err
		}))
		close(done)
		if c.Issue.Errors > 0 {
			r.logf("leases: %s: %d issues failed, first: %s", c.Mount, c.Issue.Errors, c.Issue.FirstError)
		}
		if c.Leases, err = s.vc.countLeases(ctx, c.Mount+"/creds/sts/"); err != nil {
			return err
		}
		c.PluginIssued, c.VaultIssued = s.plugin(impl), s.vaultSample()
		if impl == implOurs {
			c.Profiles = r.profiles(s, "leases-issued")
		}

		r.logf("leases: %s: restarting Vault with %d leases", c.Mount, c.Leases)
		s.vault.Stop(2 * time.Minute)
		t0 := time.Now()
		restored, err := s.vault.start(ctx)
		if err != nil {
			return err
		}
		c.RestartActiveS = round2(time.Since(t0).Seconds())
		select {
		case t := <-restored:
			c.RestartRestoredS = round2(t.Sub(t0).Seconds())
		case <-time.After(30 * time.Minute):
			return fmt.Errorf("no \"lease restore complete\" in Vault's log 30 minutes after its restart")
		case <-ctx.Done():
			return ctx.Err()
		}
		// A request on the mount makes sure the plugin runs again.
		if err := s.vc.do(ctx, http.MethodGet, c.Mount+"/role/sts", nil, nil); err != nil {
			return err
		}
		c.PluginRestarted, c.VaultRestarted = s.plugin(impl), s.vaultSample()

		if err := s.emu.ResetCounters(); err != nil {
			return err
		}
		r.logf("leases: %s: revoke-prefix", c.Mount)
		t0 = time.Now()
		if err := s.vc.revokePrefix(ctx, c.Mount+"/creds/"); err != nil {
			return fmt.Errorf("revoke-prefix %s/creds/: %w", c.Mount, err)
		}
		d := time.Since(t0)
		c.RevokeS = round2(d.Seconds())
		if d > 0 {
			c.RevokePerSecond = round2(float64(c.Leases) / d.Seconds())
		}
		calls, err := s.emu.Counters()
		if err != nil {
			return err
		}
		c.RevokeCalls, c.RevokeUpstream = calls, upstream(calls)
		if c.LeftAfterRevoke, err = s.vc.countLeases(ctx, c.Mount+"/creds/sts/"); err != nil {
			return err
		}
		c.PluginRevoked = s.plugin(impl)
		r.logf("leases: %s: %d leases, restart %.1fs (restored %.1fs), revoke %.1fs, %d upstream calls",
			c.Mount, c.Leases, c.RestartActiveS, c.RestartRestoredS, c.RevokeS, c.RevokeUpstream)
	}
	return nil
}
