package alicloud

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func pathConfig(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
		},
		Fields:         addRootRotationFields(configFieldSchemas()),
		ExistenceCheck: b.pathConfigExistenceCheck,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback:                    b.pathConfigWrite,
				DisplayAttrs:                &framework.DisplayAttributes{OperationVerb: "configure"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathConfigWrite,
				DisplayAttrs:                &framework.DisplayAttributes{OperationVerb: "configure"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.ReadOperation: &framework.PathOperation{
				Callback:     b.pathConfigRead,
				DisplayAttrs: &framework.DisplayAttributes{OperationSuffix: "configuration"},
			},
			logical.DeleteOperation: &framework.PathOperation{
				Callback:                    b.pathConfigDelete,
				DisplayAttrs:                &framework.DisplayAttributes{OperationSuffix: "configuration"},
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
		},
		HelpSynopsis:    pathConfigHelpSyn,
		HelpDescription: pathConfigHelpDesc,
	}
}

func (b *backend) pathConfigExistenceCheck(ctx context.Context, req *logical.Request, _ *framework.FieldData) (bool, error) {
	cfg, err := readConfig(ctx, req.Storage)
	if err != nil {
		return false, err
	}
	return cfg != nil, nil
}

func (b *backend) pathConfigWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.configMu.Lock()
	defer b.configMu.Unlock()

	existing, err := readConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	cfg, err := applyConfigFields(existing, d)
	if err != nil {
		if ie, ok := err.(*inputError); ok {
			return logical.ErrorResponse(ie.msg), nil
		}
		return nil, err
	}
	if err := b.validateUsernameTemplate("username_template", cfg.UsernameTemplate); err != nil {
		return logical.ErrorResponse(err.Error()), nil
	}
	rotation, rotationWarnings, err := b.prepareRootRotation(ctx, req.Storage, cfg, d)
	if err != nil {
		return inputErrorResponse(err)
	}

	client, err := b.newEngineClient(cfg)
	if err != nil {
		if ie, ok := err.(*inputError); ok {
			return logical.ErrorResponse(ie.msg), nil
		}
		return logical.ErrorResponse("config: %s", err), nil
	}
	vctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	id, err := client.api.GetCallerIdentity(vctx)
	if err != nil {
		client.close()
		if aliyun.IsThrottling(err) {
			return nil, upstreamErr("verifying the configured credentials", err)
		}
		return logical.ErrorResponse("config: %s: the credentials could not be verified with GetCallerIdentity: %s", verifiedFields(cfg), err), nil
	}
	if ramEndpointChanged(existing, cfg) {
		if resp, err := checkRAMEndpoint(vctx, client); resp != nil || err != nil {
			client.close()
			return resp, err
		}
	}
	if err := writeConfig(ctx, req.Storage, cfg); err != nil {
		client.close()
		return nil, err
	}
	if rotation != nil {
		if err := writeRootRotation(ctx, req.Storage, rotation); err != nil {
			client.close()
			return nil, err
		}
	}
	// The verified client becomes the cached one: the next request reuses
	// its credentials instead of resolving them again.
	b.setClient(client)
	b.Logger().Info("config written", "credential_type", cfg.effectiveType(), "identity_type", id.IdentityType, "arn", id.Arn)
	resp := &logical.Response{Data: identityData(id, cfg)}
	if w := rootIdentityWarning(id); w != "" {
		resp.AddWarning(w)
	}
	for _, w := range rotationWarnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

// ramEndpointChanged reports whether a write names a RAM endpoint the
// stored config did not use. Alibaba's own default is not probed.
func ramEndpointChanged(existing, cfg *configEntry) bool {
	if existing == nil {
		return cfg.RAMEndpoint != ""
	}
	return cfg.RAMEndpoint != existing.RAMEndpoint && cfg.RAMEndpoint != ""
}

// checkRAMEndpoint makes the cheapest RAM read (ListUsers, one item) so that
// a wrong ram_endpoint (an HTML 404 page, another product's endpoint) is
// refused when it is written rather than found at revocation time. An
// answer in RAM's form counts, a refusal for lack of permission included:
// an engine that only issues STS credentials may not read RAM.
func checkRAMEndpoint(ctx context.Context, c *engineClient) (*logical.Response, error) {
	_, requestID, err := c.api.ListUsersPage(ctx, 1)
	switch {
	case err == nil && requestID != "":
		return nil, nil
	case err == nil:
		return logical.ErrorResponse("ram_endpoint: %s answered a RAM read (ListUsers) without a RequestId; it does not look like Alibaba Cloud RAM", c.api.Endpoint(aliyun.RAM)), nil
	case aliyun.IsThrottling(err):
		return nil, upstreamErr("checking ram_endpoint", err)
	case aliyun.IsAccessDenied(err) && aliyun.RequestID(err) != "":
		return nil, nil
	}
	return logical.ErrorResponse("ram_endpoint: %s did not answer a RAM read (ListUsers) as Alibaba Cloud RAM does: %s", c.api.Endpoint(aliyun.RAM), err), nil
}

// verifyTimeout bounds the GetCallerIdentity check of a config write.
const verifyTimeout = 30 * time.Second

func identityData(id *aliyun.CallerIdentity, cfg *configEntry) map[string]interface{} {
	return map[string]interface{}{
		"credential_type": cfg.effectiveType(),
		"account_id":      id.AccountID,
		"identity_type":   id.IdentityType,
		"arn":             id.Arn,
		"principal_id":    id.PrincipalID,
	}
}

func (b *backend) pathConfigRead(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	cfg, err := readConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, nil
	}
	data := configResponseData(cfg)
	if err := b.rootRotationResponseData(ctx, req.Storage, data); err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) pathConfigDelete(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	b.configMu.Lock()
	defer b.configMu.Unlock()
	if err := req.Storage.Delete(ctx, configStorageKey); err != nil {
		return nil, fmt.Errorf("deleting config: %w", err)
	}
	if err := deleteRootRotation(ctx, req.Storage); err != nil {
		return nil, err
	}
	b.clearClient()
	return nil, nil
}

// verifiedFields names the fields a failed identity check is about: those
// the credential type requires, and the STS endpoint it was checked at.
func verifiedFields(cfg *configEntry) string {
	t := cfg.effectiveType()
	var names []string
	for _, f := range configFields {
		if contains(f.required, t) {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		names = append(names, "credential_type")
	}
	if cfg.STSEndpoint != "" {
		names = append(names, "sts_endpoint")
	} else {
		names = append(names, "region")
	}
	return strings.Join(names, ", ")
}

const pathConfigHelpSyn = `Configure the engine's own Alibaba Cloud identity and how it reaches Alibaba Cloud.`

const pathConfigHelpDesc = `
The engine needs an identity that may manage RAM users, policies, groups and
AccessKeys (for ram_user roles) and call STS AssumeRole (for assumed_role
roles). credential_type selects where it comes from:

  access_key       access_key + secret_key (the default when they are given)
  sts              access_key + secret_key + security_token
  ram_role_arn     access_key + secret_key [+ security_token] assume role_arn
                   (role_session_name, role_session_expiration, policy, external_id)
  ecs_ram_role     the ECS instance RAM role (role_name, disable_imds_v1)
  oidc_role_arn    role_arn assumed with the token in oidc_token_file and
                   oidc_provider_arn (ACK RRSA)
  credentials_uri  credentials served as JSON at credentials_uri
  default          the default credential chain of the Vault server's
                   environment (profile); the only type that reads
                   environment variables

A write is a partial update: fields left out keep their value (changing
credential_type drops the identity fields of the old type). Each write checks
the identity with STS GetCallerIdentity, refuses it with a 400 that says why
when the check fails, and returns the account id, identity type and ARN.
Secrets (secret_key, security_token) are never returned; a read shows whether
they are set. On Vault Enterprise with a seal that supports it, the stored
config is also seal-wrapped.

A write that changes sts_endpoint, ram_endpoint, credentials_uri,
metadata_endpoint, role_arn, oidc_provider_arn, oidc_token_file or
credential_type must give secret_key again (and security_token when the
config keeps one). A new ram_endpoint is checked with a RAM read.

The operator, who registers the plugin, decides what any config may use
(vault plugin register -env NAME=value): ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS
(default https://*.aliyuncs.com) for every URL the engine calls,
ALICLOUD_PLUGIN_TOKEN_DIRS (default ACK's RRSA directory) for
oidc_token_file, and ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY (default false)
for credential_type "default" and "ecs_ram_role". A refused write names the
setting; a stored config the settings no longer allow stops working.

region, sts_endpoint, ram_endpoint and use_vpc_endpoint choose the endpoints;
max_retries and request_timeout shape the calls; username_template names the
RAM users of ram_user roles. metadata_endpoint is an advanced setting for
unusual networks and for tests against an emulator.

rotation_period (at least 60 seconds) or rotation_schedule (cron, five
fields, UTC) rotates an "access_key" config's own key on a schedule, with the
code of config/rotate-root; 0 or "" turns it off. A read shows last_rotation,
next_rotation and, after a failure, last_rotation_error; a failed scheduled
rotation is retried with backoff (1, 2, 4 ... minutes, at most an hour).
rotation_window (with rotation_schedule, at least an hour) skips a rotation
that has not succeeded that long after its time until the next one;
disable_automated_rotation pauses the schedule and keeps it.
`
