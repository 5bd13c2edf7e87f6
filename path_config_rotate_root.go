package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// walKindRotateRoot is the WAL kind written before rotate-root creates a key.
const walKindRotateRoot = "rotate_root"

type walRotateRoot struct {
	// UserName is the user's name as the caller's ARN spells it; UserID
	// identifies it (empty in entries of earlier versions).
	UserName       string   `json:"user_name"`
	UserID         string   `json:"user_id,omitempty"`
	OldAccessKeyID string   `json:"old_access_key_id"`
	ExistingKeyIDs []string `json:"existing_key_ids"`
}

func pathConfigRotateRoot(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config/rotate-root",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "rotate",
			OperationSuffix: "root-credentials",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathRotateRootWrite,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
		},
		HelpSynopsis:    pathConfigRotateRootHelpSyn,
		HelpDescription: pathConfigRotateRootHelpDesc,
	}
}

func (b *backend) pathRotateRootWrite(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	b.configMu.Lock()
	defer b.configMu.Unlock()
	res, err := b.rotateRoot(ctx, req.Storage)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return logical.ErrorResponse(ie.msg), nil
		}
		return nil, err
	}
	// The schedule (root_rotation_schedule.go) counts from this rotation.
	if err := b.recordRootRotation(ctx, req.Storage, time.Time{}); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the rotation succeeded but recording its time failed: %v", err))
	}
	resp := &logical.Response{Data: map[string]interface{}{"access_key": res.AccessKeyID}}
	for _, w := range res.Warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

// rotateRootResult is the outcome of a root rotation.
type rotateRootResult struct {
	// AccessKeyID is the key the config now holds.
	AccessKeyID string
	// OldAccessKeyID is the key it replaced.
	OldAccessKeyID string
	// Warnings are problems that did not stop the rotation.
	Warnings []string
}

// rotateRoot replaces the config's AccessKey with a new key of the same RAM
// user: WAL entry, CreateAccessKey, confirm the new key works (RAM is
// eventually consistent, so GetCallerIdentity is retried for a while), store
// it, delete the old key, remove the WAL entry. At every step storage holds
// a working key; a crash leaves at most one extra key, which the rollback
// deletes. The key operations name no user: Alibaba documents an omitted
// UserName as the calling user, so nothing depends on how the caller's ARN
// spells the user's name. Input problems come back as *inputError. The
// caller holds configMu. Scheduled rotations call it too.
func (b *backend) rotateRoot(ctx context.Context, s logical.Storage) (*rotateRootResult, error) {
	cfg, err := readConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, inputErrorf("config: the engine has no config to rotate")
	}
	if t := cfg.effectiveType(); t != credTypeAccessKey {
		return nil, inputErrorf("rotate-root: only an AccessKey config (credential_type %q) can be rotated; this config uses %q", credTypeAccessKey, t)
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		return nil, err
	}
	id, err := c.api.GetCallerIdentity(ctx)
	if err != nil {
		return nil, upstreamErr("checking the configured AccessKey", err)
	}
	if id.IdentityType != aliyun.IdentityRAMUser {
		return nil, inputErrorf("rotate-root: the configured AccessKey belongs to %s %s, not to a RAM user; only a RAM user's AccessKey can be rotated", id.IdentityType, id.Arn)
	}
	// The name is for messages and the WAL entry's log lines only.
	userName := ramUserFromARN(id.Arn)
	label := "the engine's RAM user " + userName
	keys, err := c.api.ListAccessKeys(ctx, "")
	if err != nil {
		return nil, upstreamErr("listing the AccessKeys of "+label, err)
	}
	existing := keyIDs(keys)
	if len(keys) >= 2 {
		var other []string
		for _, k := range existing {
			if k != cfg.AccessKey {
				other = append(other, k)
			}
		}
		return nil, inputErrorf("rotate-root: RAM user %q already has two AccessKeys (%s); delete the one Vault does not use (%s) and try again",
			userName, strings.Join(existing, ", "), strings.Join(other, ", "))
	}

	newCfg := *cfg
	var newClient *engineClient
	r := keyRequest{
		walKind: walKindRotateRoot,
		wal:     &walRotateRoot{UserName: userName, UserID: id.UserID, OldAccessKeyID: cfg.AccessKey, ExistingKeyIDs: existing},
		step:    "rotate_root",
		label:   label,
		keep:    existing,
		confirm: func(ctx context.Context, key *aliyun.AccessKey) error {
			newCfg.AccessKey, newCfg.SecretKey = key.AccessKeyID, key.AccessKeySecret
			nc, err := b.newEngineClient(&newCfg)
			if err != nil {
				return err
			}
			if err := b.confirmKey(ctx, nc, id); err != nil {
				nc.close()
				return err
			}
			newClient = nc
			return nil
		},
	}
	newKey, walID, err := b.newAccessKey(ctx, s, c, r)
	if err != nil {
		if newClient != nil {
			newClient.close() // a simulated crash after the confirmation
		}
		if errors.Is(err, errSimulatedCrash) {
			return nil, err
		}
		return nil, fmt.Errorf("%w; the config is unchanged", err)
	}
	if err := writeConfig(ctx, s, &newCfg); err != nil {
		newClient.close()
		b.dropNewKeys(ctx, s, c, r, walID)
		return nil, err
	}
	// Requests still running on the old client go on with the new key.
	c.successor.Store(newClient)
	b.setClient(newClient)
	if b.crashed("rotate_root:store") {
		return nil, errSimulatedCrash
	}
	res := &rotateRootResult{AccessKeyID: newKey.AccessKeyID, OldAccessKeyID: cfg.AccessKey}
	if err := newClient.api.DeleteAccessKey(ctx, "", cfg.AccessKey); err != nil && !aliyun.IsEntityNotExist(err) {
		// The WAL entry stays: the rollback deletes the old key later.
		b.Logger().Warn("deleting the old AccessKey failed; the WAL rollback will retry", "user", userName, "access_key_id", cfg.AccessKey, "error", err)
		res.Warnings = append(res.Warnings, fmt.Sprintf("the new AccessKey is in use, but deleting the old one (%s) failed and will be retried: %v", cfg.AccessKey, err))
		return res, nil
	}
	if b.crashed("rotate_root:delete_old") {
		return nil, errSimulatedCrash
	}
	b.deleteWAL(ctx, s, walID)
	b.Logger().Info("rotated the root AccessKey", "user", userName, "old_access_key_id", cfg.AccessKey, "access_key_id", newKey.AccessKeyID)
	return res, nil
}

// confirmKey calls GetCallerIdentity with a new key until it answers with
// the expected identity or the confirmation time runs out.
func (b *backend) confirmKey(ctx context.Context, c *engineClient, want *aliyun.CallerIdentity) error {
	deadline := b.now().Add(b.env.RotateConfirmTimeout)
	var last error
	for {
		id, err := c.api.GetCallerIdentity(ctx)
		switch {
		case err == nil && sameIdentity(id, want):
			return nil
		case err == nil:
			return fmt.Errorf("the new key belongs to %s, not %s", id.Arn, want.Arn)
		case !aliyun.IsAuthFailure(err) && !aliyun.IsRetryable(err):
			return err
		}
		last = err
		if !b.now().Before(deadline) {
			return last
		}
		if err := b.env.Sleep(ctx, b.env.RotateConfirmInterval); err != nil {
			return last
		}
	}
}

// sameIdentity compares two callers by their ids, which do not change when
// a name is spelled differently; by ARN when the ids are missing.
func sameIdentity(a, b *aliyun.CallerIdentity) bool {
	if a.UserID != "" && b.UserID != "" {
		return a.UserID == b.UserID && a.AccountID == b.AccountID
	}
	return a.Arn == b.Arn
}

// ramUserFromARN returns the user name of acs:ram::<account>:user/<name>.
func ramUserFromARN(arn string) string {
	i := strings.Index(arn, ":user/")
	if i < 0 {
		return ""
	}
	return arn[i+len(":user/"):]
}

// rollbackRotateRoot removes the key a rotation left behind: a new key that
// never made it into storage, or the old key once storage holds the new one.
func (b *backend) rollbackRotateRoot(ctx context.Context, s logical.Storage, w walRotateRoot) error {
	b.configMu.Lock()
	defer b.configMu.Unlock()
	cfg, err := readConfig(ctx, s)
	if err != nil {
		return err
	}
	if cfg == nil {
		return errNotConfigured
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		return err
	}
	// The rotated user is the caller's own when the stored config still
	// belongs to it (the usual case); by name otherwise (an entry from an
	// earlier version, or a config rewritten for another user since).
	user := w.UserName
	if w.UserID != "" {
		id, err := c.api.GetCallerIdentity(ctx)
		if err != nil {
			return upstreamErr("checking the configured AccessKey", err)
		}
		if id.UserID == w.UserID {
			user = ""
		}
	}
	keys, err := c.api.ListAccessKeys(ctx, user)
	if err != nil {
		if aliyun.IsEntityNotExist(err) {
			return nil
		}
		return upstreamErr("listing the AccessKeys of RAM user "+w.UserName, err)
	}
	stored := ""
	if cfg.effectiveType() == credTypeAccessKey {
		stored = cfg.AccessKey
	}
	storedIsUsers := false
	for _, k := range keys {
		if k.AccessKeyID == stored {
			storedIsUsers = true
		}
	}
	var errs []error
	for _, k := range keys {
		id := k.AccessKeyID
		var del bool
		switch {
		case id == stored:
		case !contains(w.ExistingKeyIDs, id):
			del = true // created by the rotation, never stored
		case id == w.OldAccessKeyID && storedIsUsers:
			del = true // the rotation was stored; the old key retires
		}
		if !del {
			continue
		}
		if err := c.api.DeleteAccessKey(ctx, user, id); err != nil && !aliyun.IsEntityNotExist(err) {
			errs = append(errs, fmt.Errorf("deleting AccessKey %s: %w", id, err))
			continue
		}
		b.Logger().Info("rollback deleted an AccessKey left by a root rotation", "user", w.UserName, "access_key_id", id)
	}
	if len(errs) > 0 {
		return upstreamErr("rolling back a root rotation", errors.Join(errs...))
	}
	return nil
}

const pathConfigRotateRootHelpSyn = "Replace the engine's own AccessKey with a new one."

const pathConfigRotateRootHelpDesc = `
For a config with credential_type "access_key" whose key belongs to a RAM
user, this creates a new AccessKey for that user, checks that it works (STS
GetCallerIdentity, retried for a few seconds while RAM propagates it), stores
it, and deletes the old key. It returns the new access_key.

The RAM user must hold only the key Vault uses: RAM allows two keys per user
and the rotation needs the second slot; if the user already has two keys, the
rotation changes nothing and names them. Vault is never left without a
working key: if it stops at any step, the stored key still works and the WAL
rollback deletes the key left over.

The same rotation runs on a schedule when config has rotation_period or
rotation_schedule; a rotation here resets that schedule's count.
`
