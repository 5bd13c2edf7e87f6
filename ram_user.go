package alicloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// A dynamic RAM user's whole life: issue (WAL entry, CreateUser, then its
// policies, groups and AccessKey at once), teardown when its lease is
// revoked, and the rollback of one whose issue did not finish.
//
// Vault takes back what it issues only if it never forgets a user that may
// exist, and never deletes one it did not make:
//   - the WAL entry written before CreateUser stays until the user is known
//     to be gone or was never created; a create whose answer was lost keeps
//     it (aliyun.MayHaveApplied);
//   - "gone" is EntityNotExist.* and nothing else (aliyun.IsEntityNotExist);
//   - every user Vault creates carries a mark in its Comments (the mount and
//     the issue's id), and a rollback deletes a user only when the mark is
//     that of its own issue, so a user that existed before under a name a
//     deterministic username_template produces is left alone.
//
// Lock order: issuing holds the role's read lock; nothing here takes a role
// lock. The clean-up of deleted roles' policies (collectPolicies) takes role
// write locks, so only callers that hold no role lock call it: revocation
// and the WAL rollback, never the clean-up of a failed issue.

// walKindRAMUser is the WAL kind written before a RAM user is created.
const walKindRAMUser = "ram_user"

type walRAMUser struct {
	UserName string `json:"user_name"`
	RoleName string `json:"role_name"`
	// IssueID is the id written into the user's Comments; empty in entries
	// written by earlier versions.
	IssueID string `json:"issue_id,omitempty"`
}

// maxUserComments is RAM's limit on a user's Comments.
const maxUserComments = 128

// legacyUserCommentsPrefix starts the Comments of users made by earlier
// versions ("Created by Vault for role <role>").
const legacyUserCommentsPrefix = "Created by Vault for role "

// newIssueID returns 16 random hex characters.
func newIssueID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("alicloud: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// userComments is the mark of a user created by issue issueID for role
// roleName of this mount, within RAM's 128 characters (a long role name is
// shortened: the issue id, not the role, identifies the user).
func (b *backend) userComments(roleName, issueID string) string {
	prefix := fmt.Sprintf("Created by Vault (mount %s, issue %s) for role ", b.mountTag(), issueID)
	if len(prefix)+len(roleName) > maxUserComments {
		roleName = roleName[:maxUserComments-len(prefix)-3] + "..."
	}
	return prefix + roleName
}

// madeBy reports whether a user's Comments mark it as created by the issue
// that wrote w.
func (b *backend) madeBy(comments string, w walRAMUser) bool {
	if w.IssueID == "" {
		// An entry from an earlier version: its users carry the role only.
		return comments == legacyUserCommentsPrefix+w.RoleName
	}
	return strings.HasPrefix(comments, fmt.Sprintf("Created by Vault (mount %s, issue %s) ", b.mountTag(), w.IssueID))
}

// issueRAMUser creates a RAM user for role name: WAL entry, CreateUser,
// then at once attach the role's policies, join its groups and
// CreateAccessKey, then remove the WAL entry. A failure midway removes what
// was created before returning; when that removal fails too, or the process
// dies, the WAL rollback removes it.
func (b *backend) issueRAMUser(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	lock := b.roleLock(name)
	lock.RLock()
	role, err := b.cachedRole(ctx, req.Storage, name)
	if err == nil && role != nil && role.needsPolicyMigration() {
		// A role from HashiCorp's plugin: create its managed policies once.
		lock.RUnlock()
		if err := b.migrateRolePolicies(ctx, req.Storage, c, name); err != nil {
			return nil, err
		}
		lock.RLock()
		role, err = b.cachedRole(ctx, req.Storage, name)
	}
	defer lock.RUnlock()
	if err != nil {
		return nil, err
	}
	if role == nil {
		return logical.ErrorResponse("role %q does not exist", name), nil
	}

	tmpl := role.UsernameTemplate
	if tmpl == "" {
		tmpl = c.cfg.UsernameTemplate
	}
	if tmpl == "" {
		tmpl = defaultUsernameTemplate
	}
	userName, err := b.renderName("username_template", tmpl, newNameTemplateData(req.DisplayName, name), ramUserNameRegex, userNameRule)
	if err != nil {
		return nil, err
	}

	w := walRAMUser{UserName: userName, RoleName: name, IssueID: newIssueID()}
	walID, err := framework.PutWAL(ctx, req.Storage, walKindRAMUser, &w)
	if err != nil {
		return nil, fmt.Errorf("writing WAL entry: %w", err)
	}
	if b.crashed("ram_user:wal") {
		return nil, errSimulatedCrash
	}

	// abandon removes what this issue may have created, and the WAL entry
	// once that is done; otherwise the entry stays for the rollback.
	abandon := func(what string, cause error) (*logical.Response, error) {
		b.abandonRAMUser(ctx, req.Storage, walID, w)
		return nil, upstreamErr(what, cause)
	}

	err = b.createUser(ctx, c, w, aliyun.CreateUserInput{
		UserName:    userName,
		DisplayName: userName,
		Comments:    b.userComments(name, w.IssueID),
	})
	if err != nil {
		if aliyun.MayHaveApplied(err) {
			return abandon("creating RAM user "+userName, err)
		}
		// RAM refused: nothing was created. EntityAlreadyExists means a
		// user of that name exists already, and it is not this issue's.
		b.deleteWAL(ctx, req.Storage, walID)
		if aliyun.IsAlreadyExists(err) {
			return logical.ErrorResponse("username_template: RAM user %q exists already and Vault did not create it for this lease; "+
				"use a template that gives unique names (the default adds random characters)", userName), nil
		}
		return nil, upstreamErr("creating RAM user "+userName, err)
	}
	if b.crashed("ram_user:create_user") {
		return nil, errSimulatedCrash
	}

	managed := make([]*remotePolicy, 0, len(role.InlinePolicyNames))
	for _, p := range role.InlinePolicyNames {
		managed = append(managed, &remotePolicy{Name: p, Type: aliyun.PolicyTypeCustom})
	}
	// Once the user exists, its policies, groups and AccessKey are
	// independent of each other: ask for them at once. A failure of any
	// removes the user with whatever the others created.
	type step struct {
		what string
		// rolePolicy marks the attachment of one of the role's own custom
		// policies, which an operator repairs by writing the role again.
		rolePolicy bool
		run        func() error
	}
	var steps []step
	for _, p := range append(append([]*remotePolicy{}, managed...), role.RemotePolicies...) {
		steps = append(steps, step{
			what:       fmt.Sprintf("attaching policy %s (%s) to RAM user %s", p.Name, p.Type, userName),
			rolePolicy: p.Type == aliyun.PolicyTypeCustom && contains(role.InlinePolicyNames, p.Name),
			run:        func() error { return alreadyDone(c.api.AttachPolicyToUser(ctx, p.Type, p.Name, userName)) },
		})
	}
	for _, g := range role.RAMGroups {
		steps = append(steps, step{
			what: fmt.Sprintf("adding RAM user %s to group %s", userName, g),
			run:  func() error { return alreadyDone(c.api.AddUserToGroup(ctx, userName, g)) },
		})
	}
	var key *aliyun.AccessKey
	steps = append(steps, step{
		what: "creating an AccessKey for RAM user " + userName,
		run: func() (err error) {
			// The user is new: every key it has is this issue's.
			key, err = b.createAccessKey(ctx, c, userName, "RAM user "+userName, nil)
			return err
		},
	})
	calls := make([]func() error, len(steps))
	for i := range steps {
		calls[i] = steps[i].run
	}
	errs := fanOut(calls)
	for _, point := range []string{"ram_user:attach_policy", "ram_user:add_group", "ram_user:create_access_key"} {
		if b.crashed(point) {
			return nil, errSimulatedCrash
		}
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		what := steps[i].what
		if steps[i].rolePolicy && aliyun.IsEntityNotExist(err) {
			what += fmt.Sprintf(" (the role's custom policy is missing in RAM: write role/%s again to re-create it)", name)
		}
		return abandon(what, err)
	}
	// The engine's own record of the user, before the WAL entry goes: from
	// here the user is never without one or the other.
	issuedKey, err := b.recordIssued(ctx, req.Storage, issuedEntry{
		UserName: userName, RoleName: name, IssueID: w.IssueID, Expires: b.now().Add(b.leaseMaxTTL(role)),
	})
	if err != nil {
		return abandon("recording the issued RAM user", err)
	}
	if err := framework.DeleteWAL(ctx, req.Storage, walID); err != nil {
		b.forgetIssued(ctx, req.Storage, issuedKey)
		return abandon("removing the WAL entry", err)
	}
	if b.crashed("ram_user:issued") {
		return nil, errSimulatedCrash
	}

	remote := role.RemotePolicies
	if remote == nil {
		remote = []*remotePolicy{}
	}
	groups := role.RAMGroups
	if groups == nil {
		groups = []string{}
	}
	resp := b.Secret(secretType).Response(map[string]interface{}{
		"access_key": key.AccessKeyID,
		"secret_key": key.AccessKeySecret,
	}, map[string]interface{}{
		// HashiCorp's keys: its revocation code (and ours) reads them.
		"role_type":     leaseRoleTypeRAM,
		"role_name":     name,
		"username":      userName,
		"access_key_id": key.AccessKeyID,
		// Per-lease policies to delete on revocation: none, ours are shared.
		"inline_policies": []*remotePolicy{},
		"remote_policies": remote,
		// Ours: the role's shared custom policies and groups, and the issue
		// id in the user's Comments.
		"managed_policies": managed,
		"ram_groups":       groups,
		"issue_id":         w.IssueID,
		"issued_key":       issuedKey,
	})
	if role.TTL != 0 {
		resp.Secret.TTL = role.TTL
	}
	if role.MaxTTL != 0 {
		resp.Secret.MaxTTL = role.MaxTTL
	}
	resp.Secret.Renewable = true
	b.Logger().Debug("issued a RAM user", "role", name, "user", userName, "access_key_id", key.AccessKeyID)
	return resp, nil
}

// createUser creates the user of an issue. When the answer may have been
// lost, RAM is asked: a user marked as this issue's was created; no user
// means nothing was, and the creation is tried again. A conflict after a
// lost answer is checked the same way, so it is never taken for a user that
// existed before. An error that leaves RAM's state unknown is returned as
// it is (MayHaveApplied).
func (b *backend) createUser(ctx context.Context, c *engineClient, w walRAMUser, in aliyun.CreateUserInput) error {
	lost := false
	for attempt := 1; ; attempt++ {
		_, err := c.api.CreateUser(ctx, in)
		if err == nil {
			return nil
		}
		switch {
		case aliyun.MayHaveApplied(err):
			lost = true
		case !lost || !aliyun.IsAlreadyExists(err):
			// Refused, and no earlier answer was lost: nothing was made.
			return err
		}
		u, gerr := c.api.GetUser(ctx, w.UserName)
		switch {
		case gerr == nil && b.madeBy(u.Comments, w):
			return nil
		case gerr == nil:
			return err // someone else's user of that name
		case !aliyun.IsEntityNotExist(gerr) || attempt == createAttempts:
			return err
		}
		if b.pauseBeforeCreate(ctx, attempt) != nil {
			return err
		}
	}
}

// alreadyDone turns "already attached" and "already a member", which a retry
// gets when the first attempt's answer was lost, into success.
func alreadyDone(err error) error {
	if aliyun.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// abandonRAMUser removes what a failed issue may have created, with the
// engine's current client (the config may have changed during the issue, a
// root rotation for example), and then its WAL entry. When the removal
// fails, the entry stays and the WAL rollback tries again. The caller holds
// the role's read lock, so the role's policies are not collected here.
func (b *backend) abandonRAMUser(ctx context.Context, s logical.Storage, walID string, w walRAMUser) {
	c, err := b.getClient(ctx, s)
	if err == nil {
		_, err = b.rollbackRAMUser(ctx, c, w)
	}
	if err != nil {
		b.Logger().Error("removing a partly created RAM user failed; the WAL rollback will retry", "user", w.UserName, "error", err)
		return
	}
	b.deleteWAL(ctx, s, walID)
}

// rollbackRAMUser removes the user an unfinished issue may have created:
// nothing when no such user exists, and nothing when the user of that name
// is not marked as this issue's. It returns the custom policies it detached.
func (b *backend) rollbackRAMUser(ctx context.Context, c *engineClient, w walRAMUser) ([]string, error) {
	u, err := c.api.GetUser(ctx, w.UserName)
	switch {
	case aliyun.IsEntityNotExist(err):
		return nil, nil
	case err != nil:
		return nil, upstreamErr("checking RAM user "+w.UserName, err)
	case !b.madeBy(u.Comments, w):
		b.Logger().Warn("a RAM user has the name an unfinished issue chose, but that issue did not create it; leaving it alone",
			"user", w.UserName, "role", w.RoleName)
		return nil, nil
	}
	return b.removeRAMUser(ctx, c, w.UserName)
}

// walRollbackRAMUser is the WAL rollback of an issue that did not finish.
func (b *backend) walRollbackRAMUser(ctx context.Context, s logical.Storage, w walRAMUser) error {
	if w.UserName == "" {
		return nil
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		return err
	}
	b.Logger().Info("rolling back a RAM user whose issue did not finish", "user", w.UserName, "role", w.RoleName)
	detached, err := b.rollbackRAMUser(ctx, c, w)
	if err != nil {
		return err
	}
	b.collectPolicies(ctx, s, c, detached)
	return nil
}

// revokeRAMUser deletes the RAM user of a ram_user lease with everything on
// it: first from what the lease recorded, else by listing what the user has.
// A user already gone counts as revoked, so revoking twice is harmless.
func (b *backend) revokeRAMUser(ctx context.Context, s logical.Storage, ld *leaseData) error {
	if ld.UserName == "" {
		return fmt.Errorf("lease data has no username")
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		return err
	}
	gone, detached := b.removeLeasedUser(ctx, c, ld)
	if !gone {
		if ld.IssueID != "" {
			// The lease's key is gone and the user was not: make sure the
			// user of that name is still this lease's before sweeping it.
			u, err := c.api.GetUser(ctx, ld.UserName)
			switch {
			case aliyun.IsEntityNotExist(err):
				return b.finishRevoke(ctx, s, c, ld, nil)
			case err != nil:
				return upstreamErr("checking RAM user "+ld.UserName, err)
			case !b.madeBy(u.Comments, walRAMUser{RoleName: ld.RoleName, IssueID: ld.IssueID}):
				b.Logger().Warn("the RAM user of a revoked lease was replaced by another user of the same name; leaving that one alone", "user", ld.UserName)
				return b.finishRevoke(ctx, s, c, ld, nil)
			}
		}
		if detached, err = b.removeRAMUser(ctx, c, ld.UserName); err != nil {
			return err
		}
	}
	return b.finishRevoke(ctx, s, c, ld, detached)
}

// finishRevoke deletes the per-lease policies of a lease of HashiCorp's
// plugin, then offers the custom policies detached from the user to the
// clean-up of deleted roles' policies.
func (b *backend) finishRevoke(ctx context.Context, s logical.Storage, c *engineClient, ld *leaseData, detached []string) error {
	var errs []error
	for _, p := range ld.InlinePolicies {
		if p == nil || p.Name == "" {
			continue
		}
		if err := c.api.DeletePolicy(ctx, p.Name, true); err != nil && !aliyun.IsEntityNotExist(err) {
			errs = append(errs, fmt.Errorf("deleting per-lease policy %s: %w", p.Name, err))
		}
	}
	if len(errs) > 0 {
		return upstreamErr("removing RAM user "+ld.UserName, errors.Join(errs...))
	}
	b.collectPolicies(ctx, s, c, detached)
	b.forgetIssued(ctx, s, ld.IssuedKey)
	b.Logger().Debug("revoked a RAM user", "role", ld.RoleName, "user", ld.UserName)
	return nil
}

// collectPolicies offers custom policies detached from a removed user to the
// clean-up of deleted roles' policies. It takes role locks: the caller must
// hold none.
func (b *backend) collectPolicies(ctx context.Context, s logical.Storage, c *engineClient, names []string) {
	for _, p := range names {
		if err := b.collectPolicy(ctx, s, c, p); err != nil {
			b.Logger().Warn("deleting a custom policy of a deleted role failed; the periodic clean-up will retry", "policy", p, "error", err)
		}
	}
}

// removeRAMUser removes a RAM user and everything on it: it lists what the
// user has now (keys, attached policies, groups), so things added outside
// Vault do not block the deletion, removes them, and deletes the user. Keys
// go first, so the credentials stop working even if a later step fails. A
// user that does not exist counts as removed. It returns the custom policies
// it detached.
func (b *backend) removeRAMUser(ctx context.Context, c *engineClient, userName string) (detachedCustom []string, err error) {
	var errs []error
	note := func(what string, err error) {
		if err != nil && !aliyun.IsEntityNotExist(err) {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	keys, err := c.api.ListAccessKeys(ctx, userName)
	switch {
	case aliyun.IsEntityNotExist(err):
		return nil, nil // gone already (revoked twice, or never created)
	case err != nil:
		return nil, upstreamErr("listing the AccessKeys of RAM user "+userName, err)
	}
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
	if len(errs) > 0 {
		return nil, upstreamErr("removing RAM user "+userName, errors.Join(errs...))
	}
	return detachedCustom, nil
}

// removeLeasedUser removes the RAM user of a lease from what the lease says
// is on it: its AccessKey, policies and groups, all at once, then the user
// (3 calls for a role with one policy, where removeRAMUser's listing takes
// 6). It reports whether the user is gone, with the custom policies it
// detached. Anything added to the user outside Vault makes RAM refuse the
// deletion (DeleteConflict), and any failure leaves the rest to
// removeRAMUser, which lists what the user has.
func (b *backend) removeLeasedUser(ctx context.Context, c *engineClient, ld *leaseData) (gone bool, detachedCustom []string) {
	if ld.AccessKeyID == "" {
		return false, nil
	}
	// The lease's key first, alone: if it is already gone, so may be the
	// user, and another user of the same name must not lose its policies.
	if err := c.api.DeleteAccessKey(ctx, ld.UserName, ld.AccessKeyID); err != nil {
		return false, nil
	}
	var calls []func() error
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
	// Not found: the attachment or membership is gone already.
	for _, err := range fanOut(calls) {
		if err != nil && !aliyun.IsEntityNotExist(err) {
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
		case err == nil || aliyun.IsEntityNotExist(err):
			return nil
		case strings.HasPrefix(code, "DeleteConflict.User.LoginProfile"):
			if derr := c.api.DeleteLoginProfile(ctx, userName); derr != nil && !aliyun.IsEntityNotExist(derr) {
				return fmt.Errorf("removing the console login profile: %w", derr)
			}
		case strings.HasPrefix(code, "DeleteConflict.User.MFADevice"):
			if derr := c.api.UnbindMFADevice(ctx, userName); derr != nil && !aliyun.IsEntityNotExist(derr) {
				return fmt.Errorf("unbinding the MFA device: %w", derr)
			}
		default:
			return err
		}
	}
	return c.api.DeleteUser(ctx, userName)
}

// migrateRolePolicies creates the managed policies of a role written by
// HashiCorp's plugin (which created a policy per lease) and stores the role.
func (b *backend) migrateRolePolicies(ctx context.Context, s logical.Storage, c *engineClient, name string) error {
	lock := b.roleLock(name)
	lock.Lock()
	defer lock.Unlock()
	role, err := readRole(ctx, s, name)
	if err != nil || role == nil || !role.needsPolicyMigration() {
		return err
	}
	prev := *role
	prev.InlinePolicyNames = nil
	prev.InlinePolicies = nil
	walIDs, _, err := b.syncInlinePolicies(ctx, s, c, name, &prev, role)
	if err != nil {
		return err
	}
	err = writeRole(ctx, s, name, role)
	b.rolesChanged()
	if err != nil {
		return err
	}
	b.deleteWALs(ctx, s, walIDs)
	b.Logger().Info("created the custom policies of a role written by HashiCorp's plugin", "role", name, "policies", role.InlinePolicyNames)
	return nil
}
