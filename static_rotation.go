package alicloud

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// staticRoleStoragePrefix holds one entry per static role: its settings, its
// schedule and its current AccessKey (secret included). One entry per role
// keeps a rotation's outcome atomic in storage; the prefix is marked for seal
// wrapping (effective on Vault Enterprise).
const staticRoleStoragePrefix = "static-role/"

// walKindStaticKey is the WAL kind written before a static role's new
// AccessKey is created (at role creation and at each rotation).
const walKindStaticKey = "static_key"

// Scheduling constants.
const (
	// minStaticRotationPeriod is the shortest rotation_period: Vault runs the
	// periodic function about once a minute.
	minStaticRotationPeriod = time.Minute
	// defaultStaticGracePeriod is the grace_period when none is given (or
	// half the rotation_period when that is shorter).
	defaultStaticGracePeriod = time.Hour
	// scheduleSlack is how late a rotation may run and still count as "on
	// time": the next one is then due one period after the scheduled time
	// rather than after the actual one, so the one-minute cadence of Vault's
	// periodic function does not push every rotation a minute later.
	scheduleSlack = 2 * time.Minute
	// retryBaseDelay and retryMaxDelay bound the backoff after a failed
	// scheduled rotation: 1, 2, 4 ... minutes, at most an hour.
	retryBaseDelay = time.Minute
	retryMaxDelay  = time.Hour
)

// staticRoleEntry is a stored static role.
type staticRoleEntry struct {
	// Username is the RAM user whose keys Vault owns, as RAM spells it.
	Username string `json:"username"`
	// RotationPeriod and GracePeriod are in seconds.
	RotationPeriod int64 `json:"rotation_period"`
	GracePeriod    int64 `json:"grace_period"`

	// AccessKeyID and SecretKey are the current key, the one static-creds
	// returns.
	AccessKeyID string `json:"access_key_id"`
	SecretKey   string `json:"secret_key"`
	// LastRotated is when the current key was created; NextRotation when
	// the next scheduled rotation is due.
	LastRotated  time.Time `json:"last_rotated"`
	NextRotation time.Time `json:"next_rotation"`

	// PreviousAccessKeyID is the key the last rotation replaced; it stays
	// active until PreviousExpires, then the periodic function deletes it.
	PreviousAccessKeyID string    `json:"previous_access_key_id,omitempty"`
	PreviousExpires     time.Time `json:"previous_expires,omitempty"`

	// Failure state of scheduled rotations: the last error, when it
	// happened, how many attempts in a row failed, and when the next attempt
	// may run (zero when the last attempt succeeded).
	LastError      string    `json:"last_error,omitempty"`
	LastErrorTime  time.Time `json:"last_error_time,omitempty"`
	FailedAttempts int       `json:"failed_attempts,omitempty"`
	NextAttempt    time.Time `json:"next_attempt,omitempty"`
}

func (e *staticRoleEntry) rotationPeriod() time.Duration {
	return time.Duration(e.RotationPeriod) * time.Second
}

func (e *staticRoleEntry) gracePeriod() time.Duration {
	return time.Duration(e.GracePeriod) * time.Second
}

// rotationDue reports whether a scheduled rotation should run at now.
func (e *staticRoleEntry) rotationDue(now time.Time) bool {
	return !now.Before(e.NextRotation) && !now.Before(e.NextAttempt)
}

// previousDue reports whether the previous key's grace period is over.
func (e *staticRoleEntry) previousDue(now time.Time) bool {
	return e.PreviousAccessKeyID != "" && !now.Before(e.PreviousExpires)
}

// dueAt is the earliest time the periodic function has work for this role.
func (e *staticRoleEntry) dueAt() time.Time {
	due := e.NextRotation
	if e.NextAttempt.After(due) {
		due = e.NextAttempt
	}
	if e.PreviousAccessKeyID != "" && e.PreviousExpires.Before(due) {
		due = e.PreviousExpires
	}
	return due
}

// clearFailure resets the failure state after a successful rotation.
func (e *staticRoleEntry) clearFailure() {
	e.LastError, e.LastErrorTime, e.FailedAttempts, e.NextAttempt = "", time.Time{}, 0, time.Time{}
}

// readStaticRole reads a static role; nil when it does not exist.
func readStaticRole(ctx context.Context, s logical.Storage, name string) (*staticRoleEntry, error) {
	entry, err := s.Get(ctx, staticRoleStoragePrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading static role %q: %w", name, err)
	}
	if entry == nil {
		return nil, nil
	}
	e := &staticRoleEntry{}
	if err := entry.DecodeJSON(e); err != nil {
		return nil, fmt.Errorf("decoding static role %q: %w", name, err)
	}
	return e, nil
}

// writeStaticRole stores a static role and tells the schedule cache when it
// is next due.
func (b *backend) writeStaticRole(ctx context.Context, s logical.Storage, name string, e *staticRoleEntry) error {
	entry, err := logical.StorageEntryJSON(staticRoleStoragePrefix+name, e)
	if err != nil {
		return fmt.Errorf("encoding static role %q: %w", name, err)
	}
	if err := s.Put(ctx, entry); err != nil {
		b.static.forget(name)
		return fmt.Errorf("writing static role %q: %w", name, err)
	}
	b.static.note(name, e.dueAt())
	return nil
}

// staticLock returns the lock of a static role. Rotations, writes, deletes
// and the rollback take it; reads of static-creds do not, because storage
// always holds a working key (the key being replaced stays valid until its
// grace period ends), so a read never waits for a rotation.
func (b *backend) staticLock(name string) *locksutil.LockEntry {
	return locksutil.LockForKey(b.staticLocks, name)
}

// staticUserLock returns the lock of a RAM user that static roles manage
// (RAM user names are case-insensitive). Creating a static role holds it
// from the check that no other role owns the user until the role is
// stored. It is taken after the static role's lock, never before.
func (b *backend) staticUserLock(userName string) *locksutil.LockEntry {
	return locksutil.LockForKey(b.staticUserLocks, strings.ToLower(userName))
}

// staticSchedule caches when each static role is next due, so the periodic
// function reads (and unwraps) only the roles with work to do. It is only a
// cache: a role it does not know is read from storage, so a new backend
// (after a restart or a leader change) rebuilds it on its first run.
type staticSchedule struct {
	mu  sync.Mutex
	due map[string]time.Time
}

func (s *staticSchedule) note(name string, due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.due == nil {
		s.due = map[string]time.Time{}
	}
	s.due[name] = due
}

func (s *staticSchedule) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.due, name)
}

// notDueBefore reports whether the cache knows name to have nothing to do
// before now.
func (s *staticSchedule) notDueBefore(name string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, ok := s.due[name]
	return ok && now.Before(due)
}

// invalidateKey drops the cached schedule of a static role changed on
// another node.
func (s *staticSchedule) invalidateKey(key string) {
	if name, ok := strings.CutPrefix(key, staticRoleStoragePrefix); ok {
		s.forget(name)
	}
}

// walStaticKey records, before a static role's key is created, which keys
// the user holds that must survive a rollback.
type walStaticKey struct {
	RoleName       string   `json:"role_name"`
	UserName       string   `json:"user_name"`
	ExistingKeyIDs []string `json:"existing_key_ids"`
}

// keyIDs returns the ids of keys.
func keyIDs(keys []aliyun.AccessKey) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.AccessKeyID)
	}
	return ids
}

// newStaticKey creates a new AccessKey for a static role's user under a WAL
// entry naming the keys that must survive a rollback (newAccessKey). The
// caller stores the key and then removes the WAL entry with the returned id.
func (b *backend) newStaticKey(ctx context.Context, s logical.Storage, c *engineClient, roleName, userName string, keep []string) (*aliyun.AccessKey, string, error) {
	return b.newAccessKey(ctx, s, c, keyRequest{
		walKind:  walKindStaticKey,
		wal:      &walStaticKey{RoleName: roleName, UserName: userName, ExistingKeyIDs: keep},
		step:     "static",
		userName: userName,
		label:    "RAM user " + userName,
		keep:     keep,
		confirm: func(ctx context.Context, key *aliyun.AccessKey) error {
			return b.confirmStaticKey(ctx, c, key, userName)
		},
	})
}

// confirmStaticKey calls GetCallerIdentity with key until STS answers with
// userName or the confirmation time runs out, so static-creds never hands
// out a key RAM has not propagated yet.
func (b *backend) confirmStaticKey(ctx context.Context, c *engineClient, key *aliyun.AccessKey, userName string) error {
	api, err := b.newAPIClient(&c.cfg, aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret}), nil)
	if err != nil {
		return err
	}
	deadline := b.now().Add(b.env.RotateConfirmTimeout)
	for {
		id, err := api.GetCallerIdentity(ctx)
		switch {
		case err == nil && id.IdentityType == aliyun.IdentityRAMUser && strings.EqualFold(ramUserFromARN(id.Arn), userName):
			return nil
		case err == nil:
			return fmt.Errorf("the new key belongs to %s, not to RAM user %s", id.Arn, userName)
		case !aliyun.IsAuthFailure(err) && !aliyun.IsRetryable(err):
			return err
		}
		if !b.now().Before(deadline) {
			return err
		}
		if serr := b.env.Sleep(ctx, b.env.RotateConfirmInterval); serr != nil {
			return err
		}
	}
}

// staticRotateOptions shape one rotation.
type staticRotateOptions struct {
	// takeOver lets the rotation delete keys of the user that are neither
	// the current nor the previous key.
	takeOver bool
	// scheduled marks a rotation run by the periodic function: the next one
	// is then due one period after this one's scheduled time (within
	// scheduleSlack), not after the time it actually ran.
	scheduled bool
}

// staticRotateResult is the outcome of a rotation.
type staticRotateResult struct {
	OldAccessKeyID string
	// Deleted lists the keys removed to make room for the new one.
	Deleted  []string
	Warnings []string
}

// rotateStaticRole replaces a static role's current key: it makes room (the
// previous key goes, its grace period cut short if it had not ended; keys
// Vault does not know go only with takeOver), creates and confirms the new
// key under a WAL entry, and stores it with the replaced key as previous,
// valid until the grace period ends. Storage holds a working current key at
// every step. The caller holds the role's lock; e is updated in place.
func (b *backend) rotateStaticRole(ctx context.Context, s logical.Storage, c *engineClient, name string, e *staticRoleEntry, opt staticRotateOptions) (*staticRotateResult, error) {
	now := b.now()
	res := &staticRotateResult{OldAccessKeyID: e.AccessKeyID}
	keys, err := c.api.ListAccessKeys(ctx, e.Username)
	if err != nil {
		if aliyun.IsEntityNotExist(err) {
			return nil, inputErrorf("RAM user %q no longer exists; delete the static role or re-create the user", e.Username)
		}
		return nil, upstreamErr("listing the AccessKeys of RAM user "+e.Username, err)
	}
	var strangers []string
	currentPresent, previousPresent := false, false
	for _, k := range keys {
		switch k.AccessKeyID {
		case e.AccessKeyID:
			currentPresent = true
		case e.PreviousAccessKeyID:
			previousPresent = true
		default:
			strangers = append(strangers, k.AccessKeyID)
		}
	}
	if len(strangers) > 0 && !opt.takeOver {
		return nil, inputErrorf("RAM user %q has AccessKeys that are neither the current nor the previous key of static role %q: %s "+
			"(created outside Vault, or left by an interrupted rotation that the WAL rollback will delete); "+
			"delete them, or rotate with take_over_keys=true to let Vault delete them",
			e.Username, name, strings.Join(strangers, ", "))
	}

	// Make room. The previous key goes first: it has been superseded.
	var toDelete []string
	if previousPresent {
		toDelete = append(toDelete, e.PreviousAccessKeyID)
		if now.Before(e.PreviousExpires) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the previous AccessKey %s was deleted before its grace period ended (%s) to make room for the new key",
				e.PreviousAccessKeyID, e.PreviousExpires.UTC().Format(time.RFC3339)))
		}
	}
	toDelete = append(toDelete, strangers...)
	for _, id := range toDelete {
		if err := c.api.DeleteAccessKey(ctx, e.Username, id); err != nil && !aliyun.IsEntityNotExist(err) {
			return nil, upstreamErr(fmt.Sprintf("deleting AccessKey %s of RAM user %s to make room for the new key", id, e.Username), err)
		}
		res.Deleted = append(res.Deleted, id)
		b.Logger().Info("deleted an AccessKey of a static role's user to make room for a rotation", "role", name, "user", e.Username, "access_key_id", id)
	}
	if e.PreviousAccessKeyID != "" {
		e.PreviousAccessKeyID, e.PreviousExpires = "", time.Time{}
		if err := b.writeStaticRole(ctx, s, name, e); err != nil {
			return nil, err
		}
	}
	if !currentPresent {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the current AccessKey %s was no longer in RAM (deleted outside Vault)", e.AccessKeyID))
	}

	var keep []string
	if currentPresent {
		keep = []string{e.AccessKeyID}
	}
	key, walID, err := b.newStaticKey(ctx, s, c, name, e.Username, keep)
	if err != nil {
		return nil, err
	}

	next := now.Add(e.rotationPeriod())
	if opt.scheduled && !e.NextRotation.IsZero() && now.Sub(e.NextRotation) <= scheduleSlack {
		if anchored := e.NextRotation.Add(e.rotationPeriod()); anchored.After(now) {
			next = anchored
		}
	}
	updated := *e
	updated.AccessKeyID, updated.SecretKey = key.AccessKeyID, key.AccessKeySecret
	updated.LastRotated, updated.NextRotation = now, next
	updated.PreviousAccessKeyID, updated.PreviousExpires = "", time.Time{}
	if currentPresent {
		updated.PreviousAccessKeyID, updated.PreviousExpires = e.AccessKeyID, now.Add(e.gracePeriod())
	}
	updated.clearFailure()
	if err := b.writeStaticRole(ctx, s, name, &updated); err != nil {
		// The WAL rollback deletes the unstored key.
		return nil, err
	}
	*e = updated
	if b.crashed("static:store") {
		return nil, errSimulatedCrash
	}
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.Logger().Warn("removing the WAL entry of a static rotation failed; the rollback will find nothing to do", "role", name, "error", err)
	}
	b.Logger().Info("rotated the AccessKey of a static role", "role", name, "user", e.Username,
		"access_key_id", e.AccessKeyID, "previous_access_key_id", e.PreviousAccessKeyID, "next_rotation", e.NextRotation)

	// A zero grace period retires the replaced key at once.
	if e.PreviousAccessKeyID != "" && e.GracePeriod == 0 {
		if err := b.retireStaticPrevious(ctx, s, c, name, e); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("deleting the replaced AccessKey %s failed and will be retried: %v", e.PreviousAccessKeyID, err))
		}
	}
	return res, nil
}

// retireStaticPrevious deletes a static role's previous key (its grace
// period is over) and forgets it. The caller holds the role's lock.
func (b *backend) retireStaticPrevious(ctx context.Context, s logical.Storage, c *engineClient, name string, e *staticRoleEntry) error {
	id := e.PreviousAccessKeyID
	if err := c.api.DeleteAccessKey(ctx, e.Username, id); err != nil && !aliyun.IsEntityNotExist(err) {
		return upstreamErr(fmt.Sprintf("deleting the previous AccessKey %s of RAM user %s", id, e.Username), err)
	}
	e.PreviousAccessKeyID, e.PreviousExpires = "", time.Time{}
	if err := b.writeStaticRole(ctx, s, name, e); err != nil {
		return err
	}
	b.Logger().Info("deleted the previous AccessKey of a static role after its grace period", "role", name, "user", e.Username, "access_key_id", id)
	return nil
}

// retryDelay is the wait after the n-th failed attempt in a row.
func retryDelay(n int) time.Duration {
	d := retryBaseDelay
	for i := 1; i < n && d < retryMaxDelay; i++ {
		d *= 2
	}
	if d > retryMaxDelay {
		d = retryMaxDelay
	}
	return d
}

// recordStaticFailure stores a failed scheduled rotation: the error shows
// on reads and the next attempt waits for the backoff.
func (b *backend) recordStaticFailure(ctx context.Context, s logical.Storage, name string, e *staticRoleEntry, cause error) error {
	now := b.now()
	cause = withPermissionHint(featureStaticRoles, cause)
	e.FailedAttempts++
	e.LastError = cause.Error()
	e.LastErrorTime = now
	e.NextAttempt = now.Add(retryDelay(e.FailedAttempts))
	b.Logger().Error("scheduled rotation of a static role failed", "role", name, "user", e.Username,
		"attempt", e.FailedAttempts, "next_attempt", e.NextAttempt, "error", cause)
	return b.writeStaticRole(ctx, s, name, e)
}

// staticRotationTask is the periodic job of static roles: it deletes
// previous keys whose grace period is over and rotates the roles that are
// due, retrying failed rotations with backoff. The schedule lives in storage,
// so it survives restarts and leader changes.
func (b *backend) staticRotationTask(ctx context.Context, req *logical.Request) error {
	return b.runStaticRotations(ctx, req.Storage)
}

// runStaticRotations is one run of the static roles' schedule at b.now().
func (b *backend) runStaticRotations(ctx context.Context, s logical.Storage) error {
	names, err := s.List(ctx, staticRoleStoragePrefix)
	if err != nil {
		return fmt.Errorf("listing static roles: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	var client *engineClient
	var errs []error
	for _, name := range names {
		if b.static.notDueBefore(name, b.now()) {
			continue
		}
		if client == nil {
			client, err = b.getClient(ctx, s)
			if errors.Is(err, errNotConfigured) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if err := b.runStaticRole(ctx, s, client, name); err != nil {
			errs = append(errs, fmt.Errorf("static role %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// runStaticRole does what is due for one static role.
func (b *backend) runStaticRole(ctx context.Context, s logical.Storage, c *engineClient, name string) error {
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()
	e, err := readStaticRole(ctx, s, name)
	if err != nil {
		return err
	}
	if e == nil {
		b.static.forget(name)
		return nil
	}
	now := b.now()
	var errs []error
	if e.previousDue(now) {
		if err := b.retireStaticPrevious(ctx, s, c, name, e); err != nil {
			b.Logger().Warn("deleting the previous AccessKey of a static role failed; the next run retries", "role", name, "access_key_id", e.PreviousAccessKeyID, "error", err)
			errs = append(errs, err)
		}
	}
	if e.rotationDue(now) {
		if _, err := b.rotateStaticRole(ctx, s, c, name, e, staticRotateOptions{scheduled: true}); err != nil {
			if errors.Is(err, errSimulatedCrash) {
				return err
			}
			if rerr := b.recordStaticFailure(ctx, s, name, e, err); rerr != nil {
				errs = append(errs, rerr)
			}
			errs = append(errs, err)
		}
	}
	b.static.note(name, e.dueAt())
	return errors.Join(errs...)
}

// rollbackStaticKey deletes the key an interrupted creation or rotation of a
// static role left behind: any key of the user that was not there before
// (w.ExistingKeyIDs) and that storage does not hold as the current or the
// previous key.
func (b *backend) rollbackStaticKey(ctx context.Context, s logical.Storage, w walStaticKey) error {
	if w.UserName == "" {
		return nil
	}
	lock := b.staticLock(w.RoleName)
	lock.Lock()
	defer lock.Unlock()
	e, err := readStaticRole(ctx, s, w.RoleName)
	if err != nil {
		return err
	}
	var current, previous string
	if e != nil && strings.EqualFold(e.Username, w.UserName) {
		current, previous = e.AccessKeyID, e.PreviousAccessKeyID
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		return err
	}
	keys, err := c.api.ListAccessKeys(ctx, w.UserName)
	if err != nil {
		if aliyun.IsEntityNotExist(err) {
			return nil
		}
		return upstreamErr("listing the AccessKeys of RAM user "+w.UserName, err)
	}
	var errs []error
	for _, k := range keys {
		id := k.AccessKeyID
		if id == current || id == previous || contains(w.ExistingKeyIDs, id) {
			continue
		}
		if err := c.api.DeleteAccessKey(ctx, w.UserName, id); err != nil && !aliyun.IsEntityNotExist(err) {
			errs = append(errs, fmt.Errorf("deleting AccessKey %s: %w", id, err))
			continue
		}
		b.Logger().Info("rollback deleted an AccessKey left by an interrupted static rotation", "role", w.RoleName, "user", w.UserName, "access_key_id", id)
	}
	if len(errs) > 0 {
		return upstreamErr("rolling back a static rotation", errors.Join(errs...))
	}
	return nil
}

// takeOverOrder sorts keys so that the one to delete first comes first:
// inactive keys, then the oldest.
func takeOverOrder(keys []aliyun.AccessKey) {
	sort.SliceStable(keys, func(i, j int) bool {
		ai, aj := keys[i].Status == aliyun.AccessKeyInactive, keys[j].Status == aliyun.AccessKeyInactive
		if ai != aj {
			return ai
		}
		return keys[i].CreateDate.Before(keys[j].CreateDate)
	})
}
