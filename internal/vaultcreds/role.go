package vaultcreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// Source is the Source of the credentials a Role produces.
const Source = "vault"

// Role is a credentials.Provider that reads one creds path of the secrets
// engine (for example alicloud/creds/app). STS credentials are read anew on
// each Retrieve. Credentials without a security token (a RAM user's
// AccessKey) come with a lease that the Role holds: Retrieve renews it while
// Vault extends it, reads new credentials once it cannot be extended much
// further, and Close revokes every lease still alive.
//
// Wrap a Role in a credentials.Cache, which calls Retrieve ahead of expiry.
type Role struct {
	Name string
	Path string

	vault Vault
	clock func() time.Time
	log   *slog.Logger

	mu     sync.Mutex
	held   *lease   // the lease of the credentials handed out now
	old    []*lease // replaced leases, alive until they expire or Close
	closed bool

	// validUntil is the expiration of the last credentials produced (unix
	// nanoseconds), for the readiness check.
	validUntil atomic.Int64
}

type lease struct {
	id        string
	renewable bool
	duration  time.Duration // the lease duration asked for again at each renewal
	expires   time.Time
	creds     credentials.Credentials
}

// RoleOptions configure NewRole.
type RoleOptions struct {
	Name  string
	Path  string
	Vault Vault
	// Clock returns the current time (default time.Now).
	Clock  func() time.Time
	Logger *slog.Logger
}

// NewRole returns the provider of one creds path.
func NewRole(o RoleOptions) *Role {
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Role{Name: o.Name, Path: o.Path, vault: o.Vault, clock: clock, log: log.With("role", o.Name, "path", o.Path)}
}

// Retrieve renews the held lease, or reads new credentials.
func (r *Role) Retrieve(ctx context.Context) (credentials.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return credentials.Credentials{}, errors.New("vault: shutting down")
	}
	now := r.clock()
	r.forgetExpired(now)
	if l := r.held; l != nil && l.renewable && now.Before(l.expires) {
		if c, ok := r.renew(ctx, l, now); ok {
			return c, nil
		}
	}
	c, l, err := r.read(ctx)
	if err != nil {
		return credentials.Credentials{}, err
	}
	if r.held != nil {
		r.old = append(r.old, r.held)
	}
	r.held = l
	r.validUntil.Store(c.Expiration.UnixNano())
	return c, nil
}

// renew extends the held lease. It reports false when the lease could not be
// extended by at least half its duration (its max TTL is near, or Vault
// refused), so that new credentials are read instead.
func (r *Role) renew(ctx context.Context, l *lease, now time.Time) (credentials.Credentials, bool) {
	s, err := r.vault.Renew(ctx, l.id, int(l.duration/time.Second))
	if err != nil {
		r.log.Warn("renewing the lease failed; reading new credentials", "lease_id", l.id, "error", err)
		return credentials.Credentials{}, false
	}
	granted := time.Duration(s.LeaseDuration) * time.Second
	if granted < l.duration/2 {
		r.log.Info("the lease is near its max TTL; reading new credentials", "lease_id", l.id, "granted", granted.String())
		if exp := now.Add(granted); exp.After(l.expires) {
			l.expires = exp
		}
		return credentials.Credentials{}, false
	}
	l.expires = now.Add(granted)
	c := l.creds
	c.Expiration = l.expires
	r.validUntil.Store(c.Expiration.UnixNano())
	r.log.Info("lease renewed", "access_key_id", c.AccessKeyID, "lease_id", l.id, "expiration", c.Expiration.UTC().Format(time.RFC3339))
	return c, true
}

// read reads the creds path once.
func (r *Role) read(ctx context.Context) (credentials.Credentials, *lease, error) {
	s, err := r.vault.Read(ctx, r.Path)
	if err != nil {
		return credentials.Credentials{}, nil, fmt.Errorf("vault read %s: %w", r.Path, err)
	}
	c, l, err := fromSecret(s, r.clock())
	if err != nil {
		return credentials.Credentials{}, nil, fmt.Errorf("vault read %s: %w", r.Path, err)
	}
	attrs := []any{"access_key_id", c.AccessKeyID, "expiration", c.Expiration.UTC().Format(time.RFC3339)}
	if l != nil {
		attrs = append(attrs, "lease_id", l.id, "renewable", l.renewable)
	}
	r.log.Info("new credentials", attrs...)
	return c, l, nil
}

// fromSecret turns a creds answer into credentials. Without a security token
// the answer's lease is returned too, to be held.
func fromSecret(s *api.Secret, now time.Time) (credentials.Credentials, *lease, error) {
	str := func(k string) string {
		v, _ := s.Data[k].(string)
		return v
	}
	c := credentials.Credentials{
		AccessKeyID:     str("access_key"),
		AccessKeySecret: str("secret_key"),
		SecurityToken:   str("security_token"),
		Source:          Source,
	}
	if !c.HasKeys() {
		return credentials.Credentials{}, nil, errNoData
	}
	leaseEnd := time.Time{}
	if s.LeaseDuration > 0 {
		leaseEnd = now.Add(time.Duration(s.LeaseDuration) * time.Second)
	}
	if e := str("expiration"); e != "" {
		t, err := aliyun.ParseTime(e)
		if err != nil {
			return credentials.Credentials{}, nil, fmt.Errorf("the answer's expiration: %v", err)
		}
		c.Expiration = t
	}
	// The lease may end before the STS session does; the credentials are
	// good until the earlier of the two.
	if !leaseEnd.IsZero() && (c.Expiration.IsZero() || leaseEnd.Before(c.Expiration)) {
		c.Expiration = leaseEnd
	}
	if c.Expiration.IsZero() {
		return credentials.Credentials{}, nil, errors.New("the answer has neither an expiration nor a lease duration")
	}
	if c.SecurityToken != "" || s.LeaseID == "" {
		// STS credentials end on their own; revoking their lease changes nothing.
		return c, nil, nil
	}
	return c, &lease{
		id:        s.LeaseID,
		renewable: s.Renewable,
		duration:  time.Duration(s.LeaseDuration) * time.Second,
		expires:   leaseEnd,
		creds:     c,
	}, nil
}

// forgetExpired drops replaced leases that Vault has revoked by now.
func (r *Role) forgetExpired(now time.Time) {
	kept := r.old[:0]
	for _, l := range r.old {
		if now.Before(l.expires) {
			kept = append(kept, l)
		}
	}
	r.old = kept
}

// ValidUntil is the expiration of the last credentials produced (zero before
// the first).
func (r *Role) ValidUntil() time.Time {
	n := r.validUntil.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Close revokes every lease the role holds that has not expired, and makes
// later Retrieve calls fail. It returns the errors of the revocations.
func (r *Role) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	now := r.clock()
	r.forgetExpired(now)
	leases := r.old
	if r.held != nil && now.Before(r.held.expires) {
		leases = append(leases, r.held)
	}
	r.held, r.old = nil, nil
	var errs []error
	for _, l := range leases {
		if err := r.vault.Revoke(ctx, l.id); err != nil {
			errs = append(errs, fmt.Errorf("revoking lease %s: %w", l.id, err))
			r.log.Error("revoking the lease failed", "lease_id", l.id, "error", err)
			continue
		}
		r.log.Info("lease revoked", "lease_id", l.id, "access_key_id", l.creds.AccessKeyID)
	}
	return errors.Join(errs...)
}
