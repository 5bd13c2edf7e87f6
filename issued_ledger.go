package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
)

// Vault can lose a lease whose RAM user the engine made: the plugin process
// can die after the user was complete (and its WAL entry removed) and
// before its answer reached Vault, which then stores no lease; a lease can
// also become irrevocable after Vault's retries. The engine keeps its own
// record of every RAM user whose issue completed, filed under the hour its
// lease could last until at most, and removes the record when the lease is
// revoked. A user whose record outlives that hour (plus issuedGrace) is one
// Vault no longer holds a lease for: the engine deletes it itself. So every
// RAM user Vault issues is taken back at its max TTL at the latest, whatever
// happens to the lease.

// issuedPrefix holds the records: issued/<yyyymmddhh>/<issue id>.
const issuedPrefix = "issued/"

// issuedGrace is how long after a lease's latest possible end the engine
// waits before it takes the user back, leaving Vault's own revocation (and
// its retries) time to run first.
const issuedGrace = time.Hour

// issuedSweepInterval is how often the periodic function looks for records
// past their time.
const issuedSweepInterval = 10 * time.Minute

const issuedBucketLayout = "2006010215"

type issuedEntry struct {
	UserName string    `json:"user_name"`
	RoleName string    `json:"role_name"`
	IssueID  string    `json:"issue_id"`
	Expires  time.Time `json:"expires"`
}

// issuedKey files a record under the hour in which its lease ends at the
// latest.
func issuedKey(expires time.Time, issueID string) string {
	return issuedPrefix + expires.UTC().Format(issuedBucketLayout) + "/" + issueID
}

// unknownMaxTTL stands for the mount's maximum when Vault did not tell it
// (the system view answers 0 when its call fails, during a restart for
// example): long enough that no user of a lease Vault still holds is ever
// taken back early.
const unknownMaxTTL = 10 * 365 * 24 * time.Hour

// leaseMaxTTL is the longest a lease of role can last from its issue: the
// role's max_ttl, else the mount's maximum.
func (b *backend) leaseMaxTTL(role *roleEntry) time.Duration {
	if role != nil && role.MaxTTL > 0 {
		return role.MaxTTL
	}
	if m := b.System().MaxLeaseTTL(); m > 0 {
		return m
	}
	return unknownMaxTTL
}

// recordIssued stores the record of a completed issue and returns its key.
func (b *backend) recordIssued(ctx context.Context, s logical.Storage, e issuedEntry) (string, error) {
	key := issuedKey(e.Expires, e.IssueID)
	entry, err := logical.StorageEntryJSON(key, &e)
	if err != nil {
		return "", err
	}
	if err := s.Put(ctx, entry); err != nil {
		return "", fmt.Errorf("recording the issued RAM user: %w", err)
	}
	return key, nil
}

// forgetIssued removes the record of a revoked lease.
func (b *backend) forgetIssued(ctx context.Context, s logical.Storage, key string) {
	if !strings.HasPrefix(key, issuedPrefix) {
		return
	}
	if err := s.Delete(ctx, key); err != nil {
		b.Logger().Warn("removing the record of a revoked RAM user failed; the sweep will find the user gone", "error", err)
	}
}

// reissueRecord moves the record of a renewed lease when the renewal lets
// it last past the hour it is filed under (the role's max_ttl was raised).
// It returns the record's key now.
func (b *backend) reissueRecord(ctx context.Context, s logical.Storage, ld *leaseData, issueTime time.Time, maxTTL time.Duration) string {
	if ld.IssuedKey == "" || maxTTL <= 0 || issueTime.IsZero() {
		return ld.IssuedKey
	}
	expires := issueTime.Add(maxTTL)
	key := issuedKey(expires, ld.IssueID)
	if key <= ld.IssuedKey {
		return ld.IssuedKey
	}
	if _, err := b.recordIssued(ctx, s, issuedEntry{UserName: ld.UserName, RoleName: ld.RoleName, IssueID: ld.IssueID, Expires: expires}); err != nil {
		b.Logger().Warn("moving the record of a renewed RAM user failed; it keeps its earlier time", "user", ld.UserName, "error", err)
		return ld.IssuedKey
	}
	b.forgetIssued(ctx, s, ld.IssuedKey)
	return key
}

// issuedSweep runs the sweep at most every issuedSweepInterval.
type issuedSweep struct {
	mu   sync.Mutex
	last time.Time
}

// issuedSweepTask is the periodic job that takes back RAM users whose lease
// Vault no longer holds.
func (b *backend) issuedSweepTask(ctx context.Context, req *logical.Request) error {
	b.issued.mu.Lock()
	now := b.now()
	if now.Sub(b.issued.last) < issuedSweepInterval {
		b.issued.mu.Unlock()
		return nil
	}
	b.issued.last = now
	b.issued.mu.Unlock()
	return b.sweepIssued(ctx, req.Storage, now)
}

// sweepIssued takes back the users of records whose hour ended more than
// issuedGrace before now.
func (b *backend) sweepIssued(ctx context.Context, s logical.Storage, now time.Time) error {
	buckets, err := s.List(ctx, issuedPrefix)
	if err != nil || len(buckets) == 0 {
		return err
	}
	var c *engineClient
	var errs []error
	for _, bucket := range buckets {
		hour, err := time.Parse(issuedBucketLayout, strings.TrimSuffix(bucket, "/"))
		if err != nil || now.Before(hour.Add(time.Hour+issuedGrace)) {
			continue
		}
		ids, err := s.List(ctx, issuedPrefix+bucket)
		if err != nil {
			return err
		}
		for _, id := range ids {
			key := issuedPrefix + bucket + id
			raw, err := s.Get(ctx, key)
			if err != nil || raw == nil {
				errs = append(errs, err)
				continue
			}
			var e issuedEntry
			if err := raw.DecodeJSON(&e); err != nil {
				errs = append(errs, fmt.Errorf("decoding %s: %w", key, err))
				continue
			}
			if c == nil {
				if c, err = b.getClient(ctx, s); err != nil {
					if errors.Is(err, errNotConfigured) {
						return nil
					}
					return err
				}
			}
			b.Logger().Warn("taking back a RAM user whose lease Vault no longer holds (its max TTL has passed)", "user", e.UserName, "role", e.RoleName)
			detached, err := b.rollbackRAMUser(ctx, c, walRAMUser{UserName: e.UserName, RoleName: e.RoleName, IssueID: e.IssueID})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			b.collectPolicies(ctx, s, c, detached)
			if err := s.Delete(ctx, key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
