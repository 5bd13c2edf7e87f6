package alicloud

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// Rotate-root and static roles replace an AccessKey the same way: a WAL
// entry naming the keys that must survive, CreateAccessKey, a check that the
// new key works (RAM is eventually consistent), then the caller stores it
// and deletes the key it replaces. newAccessKey is the part they share.

// keyRequest describes one new AccessKey.
type keyRequest struct {
	// walKind and wal are the WAL entry written before the key is created;
	// its rollback deletes any key of the user that is neither in keep nor
	// stored.
	walKind string
	wal     interface{}
	// step prefixes the crash points: <step>:wal, <step>:create_key,
	// <step>:confirm.
	step string
	// userName is the RAM user; empty for the caller's own user (rotate-root:
	// Alibaba documents an omitted UserName as the calling user).
	userName string
	// label names the user in messages.
	label string
	// keep are the user's keys before the creation.
	keep []string
	// confirm checks that the new key works; it may retry for a while
	// (at most RotateConfirmTimeout).
	confirm func(ctx context.Context, key *aliyun.AccessKey) error
}

// newAccessKey creates and confirms a new AccessKey under a WAL entry and
// returns it with the entry's id, which the caller deletes once the key is
// stored and the old one is handled. When the creation fails in a way that
// may have created a key (a lost answer, a 5xx), or the new key does not
// work, the keys that are not in keep are deleted at once; if that fails
// too, the WAL entry stays and the rollback deletes them later. No key is
// ever left that neither storage nor a WAL entry knows of.
func (b *backend) newAccessKey(ctx context.Context, s logical.Storage, c *engineClient, r keyRequest) (*aliyun.AccessKey, string, error) {
	walID, err := framework.PutWAL(ctx, s, r.walKind, r.wal)
	if err != nil {
		return nil, "", fmt.Errorf("writing WAL entry: %w", err)
	}
	if b.crashed(r.step + ":wal") {
		return nil, "", errSimulatedCrash
	}
	key, err := b.createAccessKey(ctx, c, r.userName, r.label, r.keep)
	if err != nil {
		if aliyun.MayHaveApplied(err) {
			b.dropNewKeys(ctx, s, c, r, walID)
		} else {
			// RAM refused: no key was created.
			b.deleteWAL(ctx, s, walID)
		}
		return nil, "", upstreamErr("creating a new AccessKey for "+r.label, err)
	}
	if b.crashed(r.step + ":create_key") {
		return nil, "", errSimulatedCrash
	}
	if err := r.confirm(ctx, key); err != nil {
		b.dropNewKeys(ctx, s, c, r, walID)
		return nil, "", fmt.Errorf("the new AccessKey %s of %s was not accepted by STS within %s, so it was deleted: %w",
			key.AccessKeyID, r.label, b.env.RotateConfirmTimeout, err)
	}
	if b.crashed(r.step + ":confirm") {
		return nil, "", errSimulatedCrash
	}
	return key, walID, nil
}

// createAttempts bounds how often a create whose answer was lost is tried
// again once RAM has said that it made nothing.
const createAttempts = 3

// pauseBeforeCreate waits before attempt+1 of a create: 200 ms, then 400 ms.
func (b *backend) pauseBeforeCreate(ctx context.Context, attempt int) error {
	return b.env.Sleep(ctx, time.Duration(attempt)*200*time.Millisecond)
}

// createAccessKey creates an AccessKey for userName ("" for the caller's
// own user). When the answer may have been lost, RAM is asked what exists:
// a key that is not in keep can only be the lost attempt's, whose secret
// nobody saw, so it is deleted and the creation tried again. Once it
// succeeds after such a loss, any other unknown key is deleted too. An error
// that leaves RAM's state unknown is returned as it is (MayHaveApplied).
func (b *backend) createAccessKey(ctx context.Context, c *engineClient, userName, label string, keep []string) (*aliyun.AccessKey, error) {
	lost := false
	for attempt := 1; ; attempt++ {
		key, err := c.api.CreateAccessKey(ctx, userName)
		if err == nil {
			if lost {
				b.deleteUnknownKeys(ctx, c, userName, label, append(append([]string{}, keep...), key.AccessKeyID))
			}
			return key, nil
		}
		if !aliyun.MayHaveApplied(err) || attempt == createAttempts {
			return nil, err
		}
		lost = true
		if b.deleteUnknownKeys(ctx, c, userName, label, keep) != nil {
			return nil, err
		}
		if b.pauseBeforeCreate(ctx, attempt) != nil {
			return nil, err
		}
	}
}

// deleteUnknownKeys deletes the keys of userName that are not in keep: keys
// whose creation's answer was lost, or that did not work.
func (b *backend) deleteUnknownKeys(ctx context.Context, c *engineClient, userName, label string, keep []string) error {
	keys, err := c.api.ListAccessKeys(ctx, userName)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if contains(keep, k.AccessKeyID) {
			continue
		}
		if err := c.api.DeleteAccessKey(ctx, userName, k.AccessKeyID); err != nil && !aliyun.IsEntityNotExist(err) {
			return err
		}
		b.Logger().Info("deleted a new AccessKey that could not be used", "user", label, "access_key_id", k.AccessKeyID)
	}
	return nil
}

// dropNewKeys deletes the keys of r's user that are not in r.keep, then the
// WAL entry; on any failure the entry stays for the rollback.
func (b *backend) dropNewKeys(ctx context.Context, s logical.Storage, c *engineClient, r keyRequest, walID string) {
	if err := b.deleteUnknownKeys(ctx, c, r.userName, r.label, r.keep); err != nil && !aliyun.IsEntityNotExist(err) {
		b.Logger().Error("deleting a new AccessKey that could not be used failed; the WAL rollback will retry", "user", r.label, "error", err)
		return
	}
	b.deleteWAL(ctx, s, walID)
}
