package alicloud

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func pathConfigIdentity(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config/identity",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "read",
			OperationSuffix: "identity",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathConfigIdentityRead},
		},
		HelpSynopsis:    pathConfigIdentityHelpSyn,
		HelpDescription: pathConfigIdentityHelpDesc,
	}
}

func (b *backend) pathConfigIdentityRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		if err == errNotConfigured {
			return logical.ErrorResponse(err.Error()), nil
		}
		return nil, err
	}
	id, err := c.api.GetCallerIdentity(ctx)
	if err != nil {
		if aliyun.IsThrottling(err) {
			return nil, upstreamErr("checking the engine's identity", err)
		}
		return logical.ErrorResponse("the engine's identity could not be verified with GetCallerIdentity: %s", err), nil
	}
	data := identityData(id, &c.cfg)
	resp := &logical.Response{Data: data}
	if w := rootIdentityWarning(id); w != "" {
		resp.AddWarning(w)
	}
	// The cache answers without a new call; only the source's name is used.
	if cr, err := c.cache.Retrieve(ctx); err == nil {
		data["credential_source"] = cr.Source
		if cr.CanExpire() {
			data["credential_expiration"] = cr.Expiration.UTC()
		}
	}
	return resp, nil
}

// rootIdentityWarning is the warning of an identity that is the Alibaba
// Cloud account itself (its root AccessKey), or "" for any other identity.
// Alibaba advises against root AccessKeys: RAM policies cannot restrict
// them.
func rootIdentityWarning(id *aliyun.CallerIdentity) string {
	if id.IdentityType != aliyun.IdentityAccount && !(strings.HasPrefix(id.Arn, "acs:ram::") && strings.HasSuffix(id.Arn, ":root")) {
		return ""
	}
	return fmt.Sprintf("the engine's identity is the Alibaba Cloud account itself (%s): a root AccessKey can do everything in the account "+
		"and no RAM policy restricts it, so Alibaba advises against using one; create a RAM user with the policies of README "+
		"\"RAM permissions\", configure its AccessKey, then disable the root AccessKey", id.Arn)
}

const pathConfigIdentityHelpSyn = "Check the engine's own identity with STS GetCallerIdentity."

const pathConfigIdentityHelpDesc = `
Reading config/identity resolves the configured identity (from the cache when
it is still fresh) and calls STS GetCallerIdentity with it. It returns the
account id, the identity type (RAMUser, AssumedRoleUser, or Account for the
account's own root AccessKey, which also gets a warning), the ARN, the
principal id, the credential source (for example "ecs_ram_role" or
"default/env") and, for temporary credentials, when they expire. A failure is
a 400 that says why.
`
