package alicloud

import (
	"context"
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
max_ttl). Default: the role's ttl, else 3600.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "TTL"},
			},
			"role_session_name": {
				Type: framework.TypeString,
				Description: `assumed_role only: the STS session name (2-64 letters, digits and . @ - _), shown in ActionTrail.
Default: from the role's role_session_name_template.`,
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
	if raw, ok := d.GetOk("ttl"); ok {
		duration = int64(raw.(int))
		if duration < minSTSDuration || duration > maxSTSDuration {
			return logical.ErrorResponse("ttl: must be between %d and %d seconds", minSTSDuration, maxSTSDuration), nil
		}
		if role.MaxTTL > 0 && !role.legacy() && duration > int64(role.MaxTTL/time.Second) {
			return logical.ErrorResponse("ttl: %d seconds exceeds the role's max_ttl of %d seconds", duration, int64(role.MaxTTL/time.Second)), nil
		}
	}

	var session string
	if raw, ok := d.GetOk("role_session_name"); ok {
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
		Policy:          role.Policy,
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
