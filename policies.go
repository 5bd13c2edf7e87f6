package alicloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// The inline policies of a ram_user role live in RAM as custom policies,
// one per document, created when the role is written and shared by every
// user the role creates. An account holds at most 1500 custom policies, so a
// policy per lease (HashiCorp's way) would cap the engine near 1500 live
// credentials and double the calls per issue.
//
// A policy the role no longer uses (the role was deleted, or lost a
// document) is deleted at once when no principal holds it; otherwise a
// marker under policy-gc/ remembers it, and it is deleted when the last user
// holding it is revoked or by the periodic clean-up.

// policyGCPrefix holds the markers of managed policies waiting for deletion.
const policyGCPrefix = "policy-gc/"

// policyGCInterval is how often the periodic clean-up looks at the markers.
const policyGCInterval = 10 * time.Minute

type policyGCEntry struct {
	RoleName string    `json:"role_name"`
	Since    time.Time `json:"since"`
}

// walKindRolePolicy is the WAL kind written before a role write creates a
// custom policy.
const walKindRolePolicy = "role_policy"

type walRolePolicy struct {
	PolicyName string `json:"policy_name"`
	RoleName   string `json:"role_name"`
}

// managedPolicyDescription records the owner of a managed policy: the role
// and the mount (its backend UUID). Policies written by earlier versions
// name the role only (legacyManagedPolicyDescription); their names carry
// the mount's tag.
const (
	managedPolicyDescription       = "Created by Vault for role %s of mount %s; do not edit, Vault manages it."
	legacyManagedPolicyDescription = "Created by Vault for role %s; do not edit, Vault manages it."
)

// policyDescription is the description of the managed policies of roleName.
func (b *backend) policyDescription(roleName string) string {
	return fmt.Sprintf(managedPolicyDescription, roleName, b.backendUUID)
}

// ownsPolicy reports whether a custom policy's description says that this
// mount created it for roleName.
func (b *backend) ownsPolicy(description, roleName string) bool {
	return description == b.policyDescription(roleName) || description == fmt.Sprintf(legacyManagedPolicyDescription, roleName)
}

// notOwnedError is a custom policy that has the name a role's policy would
// have, but that this mount did not create for that role.
type notOwnedError struct {
	policy, description string
}

func (e *notOwnedError) Error() string {
	return fmt.Sprintf("RAM policy %q exists, and Vault did not create it for this role of this mount (its description: %q); "+
		"Vault will not take it over: delete or rename it in RAM, or give the role another name", e.policy, e.description)
}

// walKindRolePolicyVersion is the WAL kind written before a role write adds
// a version to one of its custom policies. If the process dies before the
// role is stored, RAM would be one document ahead of the stored role; the
// rollback sets RAM back to the stored role's document.
const walKindRolePolicyVersion = "role_policy_version"

// versionUndo records a policy version created during a role write, to undo
// it if the write fails, and the WAL entry written before it.
type versionUndo struct {
	policy, previous, created string
	walID                     string
}

// syncInlinePolicies makes RAM's custom policies match role.InlinePolicies
// and sets role.InlinePolicyNames. It returns the WAL ids to delete once the
// role is stored and the names of the policies the role no longer uses. On
// error, what it created is removed again (and new versions undone).
func (b *backend) syncInlinePolicies(ctx context.Context, s logical.Storage, c *engineClient, roleName string, old, role *roleEntry) (walIDs, unused []string, err error) {
	type createdPolicy struct{ name, walID string }
	var created []createdPolicy
	var undo []versionUndo
	defer func() {
		if err == nil || errors.Is(err, errSimulatedCrash) {
			return
		}
		for _, p := range created {
			if derr := c.api.DeletePolicy(ctx, p.name, true); derr != nil && !aliyun.IsEntityNotExist(derr) {
				b.Logger().Warn("removing a policy created by a failed role write failed; the rollback will retry", "policy", p.name, "error", derr)
				continue
			}
			_ = framework.DeleteWAL(ctx, s, p.walID)
		}
		for _, u := range undo {
			if uerr := c.api.SetDefaultPolicyVersion(ctx, u.policy, u.previous); uerr != nil {
				b.Logger().Warn("restoring a policy version after a failed role write failed; the rollback will retry", "policy", u.policy, "version", u.previous, "error", uerr)
				continue
			}
			_ = c.api.DeletePolicyVersion(ctx, u.policy, u.created)
			_ = framework.DeleteWAL(ctx, s, u.walID)
		}
		// The remaining WAL entries stay for the rollback, which deletes
		// what the stored role does not use.
		walIDs = nil
	}()

	var oldNames []string
	if old != nil {
		oldNames = old.InlinePolicyNames
	}
	names := make([]string, 0, len(role.InlinePolicies))
	for i, ip := range role.InlinePolicies {
		name := b.managedPolicyName(roleName, i)
		doc, err := compactDocument(ip.PolicyDocument)
		if err != nil {
			return nil, nil, inputErrorf("inline_policies[%d]: %v", i, err)
		}
		names = append(names, name)
		if i < len(oldNames) && oldNames[i] == name {
			// Even an unchanged document is compared with RAM's (one
			// GetPolicy): writing the role again repairs a policy that was
			// edited or deleted outside Vault.
			u, err := b.newPolicyVersion(ctx, c, name, roleName, doc, &versionWAL{s: s, roleName: roleName})
			if err == nil {
				if u != nil {
					undo = append(undo, *u)
					walIDs = append(walIDs, u.walID)
				}
				continue
			}
			if errors.Is(err, errSimulatedCrash) {
				return nil, nil, err
			}
			if !aliyun.IsEntityNotExist(err) {
				return nil, nil, policyDocumentErr(i, name, err)
			}
			// Deleted out of band: create it again below.
		}

		walID, err := framework.PutWAL(ctx, s, walKindRolePolicy, &walRolePolicy{PolicyName: name, RoleName: roleName})
		if err != nil {
			return nil, nil, fmt.Errorf("writing WAL entry: %w", err)
		}
		if b.crashed("role_policy:wal") {
			return nil, nil, errSimulatedCrash
		}
		_, err = c.api.CreatePolicy(ctx, aliyun.CreatePolicyInput{
			PolicyName:     name,
			Description:    b.policyDescription(roleName),
			PolicyDocument: doc,
		})
		switch {
		case err == nil:
			created = append(created, createdPolicy{name, walID})
			walIDs = append(walIDs, walID)
		case aliyun.IsAlreadyExists(err):
			// Left by an earlier role of the same name whose users still hold
			// it (or by a crash): take it over with a new version, if it is
			// this role's (newPolicyVersion checks).
			u, verr := b.newPolicyVersion(ctx, c, name, roleName, doc, &versionWAL{s: s, roleName: roleName})
			if verr != nil {
				// Nothing was created; this entry has nothing to roll back.
				_ = framework.DeleteWAL(ctx, s, walID)
			} else {
				walIDs = append(walIDs, walID)
			}
			if errors.Is(verr, errSimulatedCrash) {
				return nil, nil, verr
			}
			if verr != nil {
				return nil, nil, policyDocumentErr(i, name, verr)
			}
			if u != nil {
				undo = append(undo, *u)
				walIDs = append(walIDs, u.walID)
			}
			if err := s.Delete(ctx, policyGCPrefix+name); err != nil {
				return nil, nil, fmt.Errorf("clearing the clean-up marker of policy %q: %w", name, err)
			}
		default:
			// Nothing was created, unless the answer was lost: keep the WAL
			// entry for the rollback in that case only.
			if !aliyun.MayHaveApplied(err) {
				_ = framework.DeleteWAL(ctx, s, walID)
			}
			return nil, nil, policyDocumentErr(i, name, err)
		}
		if b.crashed("role_policy:create") {
			return nil, nil, errSimulatedCrash
		}
	}
	role.InlinePolicyNames = names
	if len(names) == 0 {
		role.InlinePolicyNames = nil
	}
	for _, n := range oldNames {
		if !contains(names, n) {
			unused = append(unused, n)
		}
	}
	return walIDs, unused, nil
}

// newPolicyVersion adds doc as the default version of a custom policy,
// deleting the oldest version when the policy has five; nothing when RAM's
// default document is doc already. With a WAL (a role write), an entry
// naming the policy and roleName is written first, so that a crash before
// the role is stored is rolled back (rollbackPolicyVersion); the caller
// deletes it once the role is stored. The returned undo record restores the
// previous default.
func (b *backend) newPolicyVersion(ctx context.Context, c *engineClient, name, roleName, doc string, wal *versionWAL) (*versionUndo, error) {
	cur, err := c.api.GetPolicy(ctx, aliyun.PolicyTypeCustom, name)
	if err != nil {
		return nil, err
	}
	if !b.ownsPolicy(cur.Policy.Description, roleName) {
		return nil, &notOwnedError{policy: name, description: cur.Policy.Description}
	}
	if cur.DefaultPolicyVersion.PolicyDocument != "" && sameJSON(cur.DefaultPolicyVersion.PolicyDocument, doc) {
		return nil, nil
	}
	var walID string
	if wal != nil {
		walID, err = framework.PutWAL(ctx, wal.s, walKindRolePolicyVersion, &walRolePolicy{PolicyName: name, RoleName: wal.roleName})
		if err != nil {
			return nil, fmt.Errorf("writing WAL entry: %w", err)
		}
		if b.crashed("role_policy_version:wal") {
			return nil, errSimulatedCrash
		}
	}
	v, err := c.api.CreatePolicyVersion(ctx, aliyun.CreatePolicyVersionInput{
		PolicyName:     name,
		PolicyDocument: doc,
		SetAsDefault:   true,
		RotateStrategy: aliyun.RotateDeleteOldest,
	})
	if err != nil {
		// RAM answered: no version was created. A lost answer keeps the
		// entry for the rollback.
		if wal != nil && !aliyun.MayHaveApplied(err) {
			_ = framework.DeleteWAL(ctx, wal.s, walID)
		}
		return nil, err
	}
	if b.crashed("role_policy_version:create") {
		return nil, errSimulatedCrash
	}
	return &versionUndo{policy: name, previous: cur.Policy.DefaultVersion, created: v.VersionID, walID: walID}, nil
}

// versionWAL is where newPolicyVersion writes its WAL entry during a role
// write.
type versionWAL struct {
	s        logical.Storage
	roleName string
}

// rollbackPolicyVersion sets a custom policy back to the document of the
// stored role after a role write died between adding a version and storing
// the role. A role that no longer has the policy leaves it to the policy
// clean-up.
func (b *backend) rollbackPolicyVersion(ctx context.Context, req *logical.Request, w walRolePolicy) error {
	lock := b.roleLock(w.RoleName)
	lock.Lock()
	defer lock.Unlock()
	role, err := readRole(ctx, req.Storage, w.RoleName)
	if err != nil || role == nil {
		return err
	}
	for i, name := range role.InlinePolicyNames {
		if name != w.PolicyName || i >= len(role.InlinePolicies) {
			continue
		}
		doc, err := compactDocument(role.InlinePolicies[i].PolicyDocument)
		if err != nil {
			return fmt.Errorf("role %q: inline policy %d: %w", w.RoleName, i, err)
		}
		c, err := b.getClient(ctx, req.Storage)
		if err != nil {
			return err
		}
		_, err = b.newPolicyVersion(ctx, c, name, w.RoleName, doc, nil)
		var no *notOwnedError
		if aliyun.IsEntityNotExist(err) || errors.As(err, &no) {
			// Gone from RAM (the next role write creates it again), or
			// replaced by a policy that is not Vault's: nothing to undo.
			return nil
		}
		return err
	}
	return nil
}

func sameJSON(a, b string) bool {
	var x, y interface{}
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// policyDocumentErr turns RAM's refusal of a document into an input error
// naming the document; other failures stay upstream errors.
func policyDocumentErr(i int, name string, err error) error {
	var no *notOwnedError
	if errors.As(err, &no) {
		return inputErrorf("inline_policies[%d]: %v", i, no)
	}
	code := aliyun.ErrorCode(err)
	if strings.HasPrefix(code, "InvalidParameter") || strings.HasPrefix(code, "MalformedPolicyDocument") ||
		strings.HasPrefix(code, "Invalid.Policy") || strings.HasPrefix(code, "LimitExceeded.Policy") {
		return inputErrorf("inline_policies[%d]: RAM refused the document: %v", i, err)
	}
	return upstreamErr(fmt.Sprintf("writing custom policy %q", name), err)
}

// walRetiring writes, before a role write or delete stores a role that no
// longer uses the named policies, a role_policy WAL entry for each: if the
// process dies before they are retired, the rollback retires them
// (rollbackRolePolicy: a policy the stored role does not use goes). The
// caller deletes the entries with deleteWALs once retirePolicies returned.
func (b *backend) walRetiring(ctx context.Context, s logical.Storage, roleName string, names []string) ([]string, error) {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id, err := framework.PutWAL(ctx, s, walKindRolePolicy, &walRolePolicy{PolicyName: n, RoleName: roleName})
		if err != nil {
			b.deleteWALs(ctx, s, ids)
			return nil, fmt.Errorf("writing WAL entry: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// retirePolicies deletes managed policies a role no longer uses, or marks
// those still held by a principal for later deletion. It returns warnings
// for the caller's response.
func (b *backend) retirePolicies(ctx context.Context, s logical.Storage, c *engineClient, roleName string, names []string) []string {
	var warnings []string
	for _, name := range names {
		pending, err := b.retirePolicy(ctx, s, c, roleName, name)
		switch {
		case err != nil:
			if merr := b.markPolicyForGC(ctx, s, name, roleName); merr != nil {
				b.Logger().Error("recording a policy for clean-up failed", "policy", name, "error", merr)
			}
			warnings = append(warnings, fmt.Sprintf("custom policy %q could not be deleted now and will be retried by the periodic clean-up: %v", name, err))
		case pending:
			warnings = append(warnings, fmt.Sprintf("custom policy %q is still attached to users of leases issued by this role; it will be deleted when they are revoked", name))
		}
	}
	return warnings
}

// retirePolicy deletes a managed policy unless a principal still holds it,
// in which case it records a clean-up marker and reports pending.
func (b *backend) retirePolicy(ctx context.Context, s logical.Storage, c *engineClient, roleName, name string) (pending bool, err error) {
	// Only a policy this mount made for the role is deleted.
	cur, err := c.api.GetPolicy(ctx, aliyun.PolicyTypeCustom, name)
	switch {
	case aliyun.IsEntityNotExist(err):
		return false, b.clearPolicyGC(ctx, s, name)
	case err != nil:
		return false, upstreamErr(fmt.Sprintf("checking policy %q", name), err)
	case !b.ownsPolicy(cur.Policy.Description, roleName):
		b.Logger().Warn("a custom policy due for clean-up was not created by Vault for its role; leaving it alone", "policy", name, "role", roleName)
		return false, b.clearPolicyGC(ctx, s, name)
	}
	ents, err := c.api.ListEntitiesForPolicy(ctx, aliyun.PolicyTypeCustom, name)
	if err != nil {
		if aliyun.IsEntityNotExist(err) {
			return false, b.clearPolicyGC(ctx, s, name)
		}
		return false, upstreamErr(fmt.Sprintf("listing the holders of policy %q", name), err)
	}
	if len(ents.Users)+len(ents.Groups)+len(ents.Roles) > 0 {
		return true, b.markPolicyForGC(ctx, s, name, roleName)
	}
	if err := c.api.DeletePolicy(ctx, name, true); err != nil {
		switch {
		case aliyun.IsEntityNotExist(err):
		case aliyun.IsConflict(err):
			// Attached meanwhile: wait for the holder's revocation.
			return true, b.markPolicyForGC(ctx, s, name, roleName)
		default:
			return false, upstreamErr(fmt.Sprintf("deleting policy %q", name), err)
		}
	}
	return false, b.clearPolicyGC(ctx, s, name)
}

func (b *backend) markPolicyForGC(ctx context.Context, s logical.Storage, name, roleName string) error {
	entry, err := logical.StorageEntryJSON(policyGCPrefix+name, &policyGCEntry{RoleName: roleName, Since: b.now().UTC()})
	if err != nil {
		return err
	}
	return s.Put(ctx, entry)
}

func (b *backend) clearPolicyGC(ctx context.Context, s logical.Storage, name string) error {
	return s.Delete(ctx, policyGCPrefix+name)
}

// collectPolicy deletes a policy marked for clean-up if its role does not
// use it again and nobody holds it. It is called after a revocation for the
// policies the revoked user held, and by the periodic clean-up.
func (b *backend) collectPolicy(ctx context.Context, s logical.Storage, c *engineClient, name string) error {
	entry, err := s.Get(ctx, policyGCPrefix+name)
	if err != nil || entry == nil {
		return err
	}
	var gc policyGCEntry
	if err := entry.DecodeJSON(&gc); err != nil {
		return fmt.Errorf("decoding the clean-up marker of policy %q: %w", name, err)
	}
	lock := b.roleLock(gc.RoleName)
	lock.Lock()
	defer lock.Unlock()
	role, err := readRole(ctx, s, gc.RoleName)
	if err != nil {
		return err
	}
	if role != nil && contains(role.InlinePolicyNames, name) {
		// Re-created role took the policy over.
		return b.clearPolicyGC(ctx, s, name)
	}
	_, err = b.retirePolicy(ctx, s, c, gc.RoleName, name)
	return err
}

// policyGCTask is the periodic clean-up of managed policies whose role is
// gone, for holders revoked without the engine (or a failed deletion).
func (b *backend) policyGCTask(ctx context.Context, req *logical.Request) error {
	b.gcMu.Lock()
	if now := b.now(); now.Sub(b.lastPolicyGC) < policyGCInterval {
		b.gcMu.Unlock()
		return nil
	} else {
		b.lastPolicyGC = now
	}
	b.gcMu.Unlock()

	names, err := req.Storage.List(ctx, policyGCPrefix)
	if err != nil || len(names) == 0 {
		return err
	}
	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		if errors.Is(err, errNotConfigured) {
			return nil
		}
		return err
	}
	var errs []error
	for _, name := range names {
		if err := b.collectPolicy(ctx, req.Storage, c, name); err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// rollbackRolePolicy undoes a CreatePolicy of a role write that did not
// finish: the policy is deleted unless the stored role uses it.
func (b *backend) rollbackRolePolicy(ctx context.Context, req *logical.Request, w walRolePolicy) error {
	lock := b.roleLock(w.RoleName)
	lock.Lock()
	defer lock.Unlock()
	role, err := readRole(ctx, req.Storage, w.RoleName)
	if err != nil {
		return err
	}
	if role != nil && contains(role.InlinePolicyNames, w.PolicyName) {
		return nil
	}
	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		return err
	}
	_, err = b.retirePolicy(ctx, req.Storage, c, w.RoleName, w.PolicyName)
	return err
}
