package alicloud

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func pathCreds(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "creds/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "generate",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {
				Type:        framework.TypeLowerCaseString,
				Description: "Name of the role.",
				Required:    true,
			},
			"ttl": {
				Type: framework.TypeDurationSecond,
				Description: `assumed_role only: duration of the STS credentials (900 to 43200 seconds, at most the role's
max_ttl and the mount's max lease TTL). Default: the role's ttl, else 3600, within those maximums.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "TTL"},
			},
			"role_session_name": {
				Type: framework.TypeString,
				Description: `assumed_role only: the STS session name (2-64 letters, digits and . @ - _), shown in ActionTrail.
Only when the role has allow_caller_session_name. Default: from the role's role_session_name_template.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role session name"},
			},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:     b.pathCredsRead,
				DisplayAttrs: &framework.DisplayAttributes{OperationSuffix: "credentials"},
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback:     b.pathCredsRead,
				DisplayAttrs: &framework.DisplayAttributes{OperationSuffix: "credentials-with-parameters"},
			},
		},
		HelpSynopsis:    pathCredsHelpSyn,
		HelpDescription: pathCredsHelpDesc,
	}
}

func (b *backend) pathCredsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	role, err := b.cachedRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return logical.ErrorResponse("role %q does not exist", name), nil
	}
	switch role.credentialType() {
	case roleTypeAssumedRole:
		return b.issueSTS(ctx, req, d, name, role)
	case roleTypeRAMUser:
		for _, f := range []string{"ttl", "role_session_name"} {
			if _, ok := d.GetOk(f); ok {
				return logical.ErrorResponse("%s: does not apply to credential_type %q", f, roleTypeRAMUser), nil
			}
		}
		return b.issueRAMUser(ctx, req, name)
	default:
		return nil, fmt.Errorf("role %q has unknown credential_type %q", name, role.credentialType())
	}
}

// issueSTS is the hot path: the role from memory (see cachedRole), the cached
// client, one AssumeRole call, and no storage write besides the lease Vault keeps.
func (b *backend) issueSTS(ctx context.Context, req *logical.Request, d *framework.FieldData, name string, role *roleEntry) (*logical.Response, error) {
	duration := int64(defaultSTSDuration)
	if role.TTL > 0 && !role.legacy() {
		duration = int64(role.TTL / time.Second)
	}
	// STS credentials cannot be revoked, so they must not outlive the
	// mount's max lease TTL (as Vault's AWS engine clamps its STS calls), nor
	// the role's max_ttl.
	maxDuration := int64(maxSTSDuration)
	if m := int64(b.System().MaxLeaseTTL() / time.Second); m > 0 && m < maxDuration {
		if m < minSTSDuration {
			return logical.ErrorResponse("ttl: the mount's max lease TTL of %d seconds is below STS's minimum of %d seconds; raise the mount's max_lease_ttl", m, minSTSDuration), nil
		}
		maxDuration = m
	}
	if role.MaxTTL > 0 && !role.legacy() && int64(role.MaxTTL/time.Second) < maxDuration {
		maxDuration = int64(role.MaxTTL / time.Second)
	}
	if duration > maxDuration {
		duration = maxDuration
	}
	if raw, ok := d.GetOk("ttl"); ok {
		duration = int64(raw.(int))
		if duration < minSTSDuration || duration > maxSTSDuration {
			return logical.ErrorResponse("ttl: must be between %d and %d seconds", minSTSDuration, maxSTSDuration), nil
		}
		if role.MaxTTL > 0 && !role.legacy() && duration > int64(role.MaxTTL/time.Second) {
			return logical.ErrorResponse("ttl: %d seconds exceeds the role's max_ttl of %d seconds", duration, int64(role.MaxTTL/time.Second)), nil
		}
		if duration > maxDuration {
			return logical.ErrorResponse("ttl: %d seconds exceeds the maximum of %d seconds (the mount's max lease TTL)", duration, maxDuration), nil
		}
	}

	var session string
	if raw, ok := d.GetOk("role_session_name"); ok {
		if !role.AllowCallerSessionName {
			return logical.ErrorResponse("role_session_name: role %q does not allow the caller to choose the session name (allow_caller_session_name)", name), nil
		}
		session = raw.(string)
		if !sessionNameRegex.MatchString(session) {
			return logical.ErrorResponse("role_session_name: must be 2-64 characters: letters, digits and . @ - _"), nil
		}
	} else {
		tmpl := role.RoleSessionNameTemplate
		if tmpl == "" {
			tmpl = defaultSessionNameTemplate
		}
		var err error
		session, err = b.renderName("role_session_name_template", tmpl, newNameTemplateData(req.DisplayName, name), sessionNameRegex, sessionNameRule)
		if err != nil {
			return nil, err
		}
	}

	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	out, err := c.api.AssumeRole(ctx, aliyun.AssumeRoleInput{
		RoleArn:         role.RoleARN,
		RoleSessionName: session,
		DurationSeconds: duration,
		Policy:          compactSessionPolicy(role.Policy),
		ExternalID:      role.ExternalID,
	})
	if err != nil {
		return nil, upstreamErr(fmt.Sprintf("assuming %s for role %q", role.RoleARN, name), err)
	}
	cr := out.Credentials
	resp := b.Secret(secretType).Response(map[string]interface{}{
		"access_key":     cr.AccessKeyID,
		"secret_key":     cr.AccessKeySecret,
		"security_token": cr.SecurityToken,
		"expiration":     cr.Expiration,
		"arn":            out.AssumedRoleUser.Arn,
	}, map[string]interface{}{
		"role_type": leaseRoleTypeSTS,
		"role_name": name,
	})
	// The lease runs to the credentials' expiry; STS tokens cannot be
	// renewed or revoked.
	ttl := cr.Expiration.Sub(b.now())
	if ttl < 0 {
		ttl = 0
	}
	resp.Secret.TTL = ttl
	resp.Secret.MaxTTL = ttl
	resp.Secret.Renewable = false
	// No log line here: a plugin's logger is always at trace level (Vault
	// filters the lines it receives), so even a trace line costs a JSON
	// encoding and a pipe write here and a parse in Vault, several percent
	// of a credential's CPU. The audit log records every issue.
	return resp, nil
}

// walKindRAMUser is the WAL kind written before a RAM user is created.
const walKindRAMUser = "ram_user"

type walRAMUser struct {
	UserName string `json:"user_name"`
	RoleName string `json:"role_name"`
}

// issueRAMUser creates a RAM user for role name: WAL entry, CreateUser,
// then at once attach the role's policies, join its groups and
// CreateAccessKey, then remove the WAL entry. A failure midway removes what
// was created before returning; if the process dies instead, the WAL
// rollback removes it.
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

	cfgTemplate := c.cfg.UsernameTemplate
	tmpl := role.UsernameTemplate
	if tmpl == "" {
		tmpl = cfgTemplate
	}
	if tmpl == "" {
		tmpl = defaultUsernameTemplate
	}
	userName, err := b.renderName("username_template", tmpl, newNameTemplateData(req.DisplayName, name), ramUserNameRegex, userNameRule)
	if err != nil {
		return nil, err
	}

	walID, err := framework.PutWAL(ctx, req.Storage, walKindRAMUser, &walRAMUser{UserName: userName, RoleName: name})
	if err != nil {
		return nil, fmt.Errorf("writing WAL entry: %w", err)
	}
	if b.crashed("ram_user:wal") {
		return nil, errSimulatedCrash
	}

	created := false
	fail := func(what string, err error) (*logical.Response, error) {
		if errors.Is(err, errSimulatedCrash) {
			return nil, err
		}
		if created {
			if cerr := b.deleteRAMUser(ctx, req.Storage, c, userName, nil); cerr != nil {
				b.Logger().Error("removing a partly created RAM user failed; the WAL rollback will retry", "user", userName, "error", cerr)
				return nil, upstreamErr(what, err)
			}
		}
		if derr := framework.DeleteWAL(ctx, req.Storage, walID); derr != nil {
			b.Logger().Warn("removing a WAL entry failed; the rollback will find nothing to do", "error", derr)
		}
		return nil, upstreamErr(what, err)
	}

	_, err = c.api.CreateUser(ctx, aliyun.CreateUserInput{
		UserName:    userName,
		DisplayName: userName,
		Comments:    fmt.Sprintf("Created by Vault for role %s", name),
	})
	if err != nil {
		var ae *aliyun.Error
		if !errors.As(err, &ae) {
			// The answer was lost: the user may exist; the rollback checks.
			return nil, upstreamErr("creating RAM user "+userName, err)
		}
		return fail("creating RAM user "+userName, err)
	}
	created = true
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
			run:        func() error { return c.api.AttachPolicyToUser(ctx, p.Type, p.Name, userName) },
		})
	}
	for _, g := range role.RAMGroups {
		steps = append(steps, step{
			what: fmt.Sprintf("adding RAM user %s to group %s", userName, g),
			run:  func() error { return c.api.AddUserToGroup(ctx, userName, g) },
		})
	}
	var key *aliyun.AccessKey
	steps = append(steps, step{
		what: "creating an AccessKey for RAM user " + userName,
		run: func() (err error) {
			key, err = c.api.CreateAccessKey(ctx, userName)
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
		if steps[i].rolePolicy && aliyun.IsNotFound(err) {
			what += fmt.Sprintf(" (the role's custom policy is missing in RAM: write role/%s again to re-create it)", name)
		}
		return fail(what, err)
	}
	if err := framework.DeleteWAL(ctx, req.Storage, walID); err != nil {
		return fail("removing the WAL entry", err)
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
		// Ours: the role's shared custom policies and groups.
		"managed_policies": managed,
		"ram_groups":       groups,
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
	for _, id := range walIDs {
		_ = framework.DeleteWAL(ctx, s, id)
	}
	b.Logger().Info("created the custom policies of a role written by HashiCorp's plugin", "role", name, "policies", role.InlinePolicyNames)
	return nil
}

const pathCredsHelpSyn = "Issue Alibaba Cloud credentials for a role."

const pathCredsHelpDesc = `
Reading creds/<name> issues credentials for the role:

assumed_role: STS credentials from AssumeRole into the role's role_arn:
access_key, secret_key, security_token, expiration and the session's arn.
The lease runs to the credentials' expiry and cannot be renewed or revoked
(STS tokens cannot be revoked early). A write (POST) may choose ttl
(900-43200 seconds, at most the role's max_ttl) and role_session_name.

ram_user: a new RAM user with the role's policies and groups and a new
AccessKey: access_key and secret_key. The lease is renewable up to the role's
max_ttl; when it ends, the user and everything attached to it (keys,
policies, group memberships, even ones added outside Vault) is removed.
`
