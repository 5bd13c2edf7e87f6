package alicloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// walRollback undoes the cloud-side work of an operation that did not finish
// (the process died, or its own cleanup failed). Vault calls it for WAL
// entries older than walRollbackMinAge; an error keeps the entry for the
// next run.
func (b *backend) walRollback(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
	switch kind {
	case walKindRAMUser:
		var w walRAMUser
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		if w.UserName == "" {
			return nil
		}
		c, err := b.getClient(ctx, req.Storage)
		if err != nil {
			return err
		}
		b.Logger().Info("rolling back a RAM user whose issue did not finish", "user", w.UserName, "role", w.RoleName)
		return b.deleteRAMUser(ctx, req.Storage, c, w.UserName, nil)
	case walKindRolePolicy:
		var w walRolePolicy
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a custom policy whose role write did not finish", "policy", w.PolicyName, "role", w.RoleName)
		return b.rollbackRolePolicy(ctx, req, w)
	case walKindRolePolicyVersion:
		var w walRolePolicy
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a custom policy version whose role write did not finish", "policy", w.PolicyName, "role", w.RoleName)
		return b.rollbackPolicyVersion(ctx, req, w)
	case walKindStaticKey:
		var w walStaticKey
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.rollbackStaticKey(ctx, req.Storage, w)
	case walKindRotateRoot:
		var w walRotateRoot
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a root rotation that did not finish", "user", w.UserName)
		return b.rollbackRotateRoot(ctx, req.Storage, w)
	default:
		return fmt.Errorf("unknown WAL entry kind %q", kind)
	}
}

// decodeWAL converts WAL data (a JSON-decoded map) into out.
func decodeWAL(data interface{}, out interface{}) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding WAL data: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding WAL data: %w", err)
	}
	return nil
}

// deleteRAMUser removes a RAM user and everything on it: it lists what the
// user has now (keys, attached policies, groups), so things added outside
// Vault do not block the deletion, removes them, and deletes the user. Keys
// go first, so the credentials stop working even if a later step fails.
// perLease names custom policies created for this user alone (HashiCorp's
// leases) that are deleted afterwards. A user that does not exist counts as
// deleted. Revocation and the WAL rollback share this code.
func (b *backend) deleteRAMUser(ctx context.Context, s logical.Storage, c *engineClient, userName string, perLease []string) error {
	var errs []error
	note := func(what string, err error) {
		if err != nil && !aliyun.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}

	var detachedCustom []string
	keys, err := c.api.ListAccessKeys(ctx, userName)
	switch {
	case aliyun.IsNotFound(err):
		// Gone already (revoked twice, or never created).
	case err != nil:
		return upstreamErr("listing the AccessKeys of RAM user "+userName, err)
	default:
		for _, k := range keys {
			note("deleting AccessKey "+k.AccessKeyID, c.api.DeleteAccessKey(ctx, userName, k.AccessKeyID))
		}
		policies, err := c.api.ListPoliciesForUser(ctx, userName)
		note("listing the policies of RAM user "+userName, err)
		for _, p := range policies {
			err := c.api.DetachPolicyFromUser(ctx, p.PolicyType, p.PolicyName, userName)
			note(fmt.Sprintf("detaching policy %s (%s)", p.PolicyName, p.PolicyType), err)
			if err == nil && p.PolicyType == aliyun.PolicyTypeCustom {
				detachedCustom = append(detachedCustom, p.PolicyName)
			}
		}
		groups, err := c.api.ListGroupsForUser(ctx, userName)
		note("listing the groups of RAM user "+userName, err)
		for _, g := range groups {
			note("removing RAM user from group "+g.GroupName, c.api.RemoveUserFromGroup(ctx, userName, g.GroupName))
		}
		if len(errs) == 0 {
			note("deleting RAM user "+userName, b.deleteUserResolvingConflicts(ctx, c, userName))
		}
	}

	return b.finishUserRemoval(ctx, s, c, userName, perLease, detachedCustom, errs)
}

// finishUserRemoval ends the removal of a RAM user: it deletes the user's
// per-lease policies (HashiCorp's leases) and, when nothing failed before
// (errs), offers the custom policies detached from it to the clean-up of
// deleted roles' policies.
func (b *backend) finishUserRemoval(ctx context.Context, s logical.Storage, c *engineClient, userName string, perLease, detachedCustom []string, errs []error) error {
	for _, p := range perLease {
		if err := c.api.DeletePolicy(ctx, p, true); err != nil && !aliyun.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting per-lease policy %s: %w", p, err))
		}
	}
	if len(errs) > 0 {
		return upstreamErr("removing RAM user "+userName, errors.Join(errs...))
	}
	// Shared policies of deleted roles go once their last holder is gone.
	for _, p := range detachedCustom {
		if err := b.collectPolicy(ctx, s, c, p); err != nil {
			b.Logger().Warn("deleting a custom policy of a deleted role failed; the periodic clean-up will retry", "policy", p, "error", err)
		}
	}
	return nil
}

// removeLeasedUser removes the RAM user of a lease from what the lease says
// is on it: its AccessKey, policies and groups, all at once, then the user
// (3 calls for a role with one policy, where deleteRAMUser's listing takes
// 6). It reports whether the user is gone, with the custom policies it
// detached. Anything added to the user outside Vault makes RAM refuse the
// deletion (DeleteConflict), and any failure leaves the rest to
// deleteRAMUser, which lists what the user has.
func (b *backend) removeLeasedUser(ctx context.Context, c *engineClient, ld *leaseData) (gone bool, detachedCustom []string) {
	if ld.AccessKeyID == "" {
		return false, nil
	}
	calls := []func() error{func() error { return c.api.DeleteAccessKey(ctx, ld.UserName, ld.AccessKeyID) }}
	for _, list := range [][]*remotePolicy{ld.InlinePolicies, ld.RemotePolicies, ld.ManagedPolicies} {
		for _, p := range list {
			if p == nil || p.Name == "" {
				continue
			}
			calls = append(calls, func() error { return c.api.DetachPolicyFromUser(ctx, p.Type, p.Name, ld.UserName) })
			if p.Type == aliyun.PolicyTypeCustom {
				detachedCustom = append(detachedCustom, p.Name)
			}
		}
	}
	for _, g := range ld.RAMGroups {
		calls = append(calls, func() error { return c.api.RemoveUserFromGroup(ctx, ld.UserName, g) })
	}
	// Not found: the key, attachment or membership is gone already.
	for _, err := range fanOut(calls) {
		if err != nil && !aliyun.IsNotFound(err) {
			return false, nil
		}
	}
	if err := b.deleteUserResolvingConflicts(ctx, c, ld.UserName); err != nil {
		b.Logger().Debug("the RAM user has more than its lease recorded; listing what it has", "user", ld.UserName, "error", err)
		return false, nil
	}
	return true, detachedCustom
}

// deleteUserResolvingConflicts deletes a user, removing a console password or
// MFA device added out of band when RAM names them as the obstacle.
func (b *backend) deleteUserResolvingConflicts(ctx context.Context, c *engineClient, userName string) error {
	for attempt := 0; attempt < 3; attempt++ {
		err := c.api.DeleteUser(ctx, userName)
		code := aliyun.ErrorCode(err)
		switch {
		case err == nil || aliyun.IsNotFound(err):
			return nil
		case strings.HasPrefix(code, "DeleteConflict.User.LoginProfile"):
			if derr := c.api.DeleteLoginProfile(ctx, userName); derr != nil && !aliyun.IsNotFound(derr) {
				return fmt.Errorf("removing the console login profile: %w", derr)
			}
		case strings.HasPrefix(code, "DeleteConflict.User.MFADevice"):
			if derr := c.api.UnbindMFADevice(ctx, userName); derr != nil && !aliyun.IsNotFound(derr) {
				return fmt.Errorf("unbinding the MFA device: %w", derr)
			}
		default:
			return err
		}
	}
	return c.api.DeleteUser(ctx, userName)
}
