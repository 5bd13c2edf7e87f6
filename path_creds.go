package alicloud

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
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
			"source_identity": {
				Type: framework.TypeString,
				Description: `assumed_role only: the session's SourceIdentity (2-64 letters, digits and _ + = , . @ -), which
ActionTrail records. Only when the role has allow_caller_source_identity. Default: from the role's
source_identity_template, if any.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Source identity"},
			},
		},
		// Issuing ends in a lease, which only the active node can store: a
		// standby that serves reads itself (OpenBao's default with Raft;
		// Vault Enterprise's performance standbys) would call Alibaba and then
		// fail to persist the lease, leaving a credential nobody holds. The
		// framework answers such a node with ErrReadOnly before the handler
		// runs, and the server forwards the request to the active node.
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{
				Callback:                  b.pathCredsRead,
				DisplayAttrs:              &framework.DisplayAttributes{OperationSuffix: "credentials"},
				ForwardPerformanceStandby: true,
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                  b.pathCredsRead,
				DisplayAttrs:              &framework.DisplayAttributes{OperationSuffix: "credentials-with-parameters"},
				ForwardPerformanceStandby: true,
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
		for _, f := range []string{"ttl", "role_session_name", "source_identity"} {
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

	var sourceIdentity string
	if raw, ok := d.GetOk("source_identity"); ok {
		if !role.AllowCallerSourceIdentity {
			return logical.ErrorResponse("source_identity: role %q does not allow the caller to choose the source identity (allow_caller_source_identity)", name), nil
		}
		sourceIdentity = raw.(string)
		if !credentials.ValidSourceIdentity(sourceIdentity) {
			return logical.ErrorResponse("source_identity: must be 2-64 characters: letters, digits and _ + = , . @ -, not starting with acs:, aliyun: or alibabacloud:"), nil
		}
	} else if role.SourceIdentityTemplate != "" {
		var err error
		sourceIdentity, err = b.renderSourceIdentity("source_identity_template", role.SourceIdentityTemplate, newNameTemplateData(req.DisplayName, name).withEntity(req.EntityID))
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
		SourceIdentity:  sourceIdentity,
	})
	if err != nil {
		return nil, upstreamErr(fmt.Sprintf("assuming %s for role %q", role.RoleARN, name), err)
	}
	cr := out.Credentials
	data := map[string]interface{}{
		"access_key":     cr.AccessKeyID,
		"secret_key":     cr.AccessKeySecret,
		"security_token": cr.SecurityToken,
		"expiration":     cr.Expiration,
		"arn":            out.AssumedRoleUser.Arn,
	}
	if out.SourceIdentity != "" {
		data["source_identity"] = out.SourceIdentity
	}
	resp := b.Secret(secretType).Response(data, map[string]interface{}{
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
