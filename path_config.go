package alicloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// configStorageKey is where the config lives; HashiCorp's plugin uses the
// same key and the same access_key/secret_key JSON fields.
const configStorageKey = "config"

// Credential types of the engine's own identity.
const (
	credTypeAccessKey      = "access_key"
	credTypeSTS            = "sts"
	credTypeRAMRoleARN     = "ram_role_arn"
	credTypeECSRAMRole     = "ecs_ram_role"
	credTypeOIDCRoleARN    = "oidc_role_arn"
	credTypeCredentialsURI = "credentials_uri"
	credTypeDefault        = "default"
)

var credentialTypes = []string{
	credTypeAccessKey, credTypeSTS, credTypeRAMRoleARN, credTypeECSRAMRole,
	credTypeOIDCRoleARN, credTypeCredentialsURI, credTypeDefault,
}

// credTypeFields lists, per credential type, the identity fields it takes;
// any other identity field is refused. Transport fields (region, endpoints,
// retries, timeout) and username_template apply to every type.
var credTypeFields = map[string][]string{
	credTypeAccessKey:      {"access_key", "secret_key"},
	credTypeSTS:            {"access_key", "secret_key", "security_token"},
	credTypeRAMRoleARN:     {"access_key", "secret_key", "security_token", "role_arn", "role_session_name", "role_session_expiration", "policy", "external_id"},
	credTypeECSRAMRole:     {"role_name", "disable_imds_v1", "metadata_endpoint"},
	credTypeOIDCRoleARN:    {"role_arn", "oidc_provider_arn", "oidc_token_file", "role_session_name", "role_session_expiration", "policy"},
	credTypeCredentialsURI: {"credentials_uri"},
	credTypeDefault:        {"profile", "metadata_endpoint"},
}

// credTypeRequired lists the fields a credential type cannot do without.
var credTypeRequired = map[string][]string{
	credTypeAccessKey:      {"access_key", "secret_key"},
	credTypeSTS:            {"access_key", "secret_key", "security_token"},
	credTypeRAMRoleARN:     {"access_key", "secret_key", "role_arn"},
	credTypeOIDCRoleARN:    {"role_arn", "oidc_provider_arn", "oidc_token_file"},
	credTypeCredentialsURI: {"credentials_uri"},
}

// identityFields are the fields that depend on the credential type, in the
// order used in messages.
var identityFields = []string{
	"access_key", "secret_key", "security_token", "role_arn", "role_session_name", "role_session_expiration",
	"policy", "external_id", "role_name", "disable_imds_v1", "oidc_provider_arn", "oidc_token_file",
	"credentials_uri", "profile", "metadata_endpoint",
}

// configEntry is the stored config. Its first two fields are exactly those of
// HashiCorp's plugin; an entry written by that plugin decodes into an
// access_key config with default transport settings.
type configEntry struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`

	CredentialType        string `json:"credential_type,omitempty"`
	SecurityToken         string `json:"security_token,omitempty"`
	RoleARN               string `json:"role_arn,omitempty"`
	RoleSessionName       string `json:"role_session_name,omitempty"`
	RoleSessionExpiration int64  `json:"role_session_expiration,omitempty"` // seconds
	Policy                string `json:"policy,omitempty"`
	ExternalID            string `json:"external_id,omitempty"`
	RoleName              string `json:"role_name,omitempty"`
	DisableIMDSv1         bool   `json:"disable_imds_v1,omitempty"`
	OIDCProviderARN       string `json:"oidc_provider_arn,omitempty"`
	OIDCTokenFile         string `json:"oidc_token_file,omitempty"`
	CredentialsURI        string `json:"credentials_uri,omitempty"`
	Profile               string `json:"profile,omitempty"`
	MetadataEndpoint      string `json:"metadata_endpoint,omitempty"`

	Region         string `json:"region,omitempty"`
	STSEndpoint    string `json:"sts_endpoint,omitempty"`
	RAMEndpoint    string `json:"ram_endpoint,omitempty"`
	UseVPCEndpoint bool   `json:"use_vpc_endpoint,omitempty"`
	// MaxRetries is nil when unset (the client's default), so that an entry
	// written by HashiCorp's plugin does not read as "no retries".
	MaxRetries       *int   `json:"max_retries,omitempty"`
	RequestTimeout   int64  `json:"request_timeout,omitempty"` // seconds
	UsernameTemplate string `json:"username_template,omitempty"`
}

// effectiveType is the credential type, defaulting as HashiCorp's entries
// (which have none) require.
func (c *configEntry) effectiveType() string {
	if c.CredentialType != "" {
		return c.CredentialType
	}
	if c.SecurityToken != "" {
		return credTypeSTS
	}
	return credTypeAccessKey
}

// maxRetries returns the configured retry count, -1 meaning the default.
func (c *configEntry) maxRetries() int {
	if c.MaxRetries == nil {
		return -1
	}
	return *c.MaxRetries
}

func readConfig(ctx context.Context, s logical.Storage) (*configEntry, error) {
	entry, err := s.Get(ctx, configStorageKey)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if entry == nil {
		return nil, nil
	}
	cfg := &configEntry{}
	if err := entry.DecodeJSON(cfg); err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	return cfg, nil
}

func writeConfig(ctx context.Context, s logical.Storage, cfg *configEntry) error {
	entry, err := logical.StorageEntryJSON(configStorageKey, cfg)
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}

func pathConfig(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "config",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
		},
		Fields: addRootRotationFields(map[string]*framework.FieldSchema{
			"credential_type": {
				Type:          framework.TypeString,
				AllowedValues: []interface{}{credTypeAccessKey, credTypeSTS, credTypeRAMRoleARN, credTypeECSRAMRole, credTypeOIDCRoleARN, credTypeCredentialsURI, credTypeDefault},
				Description: `Where the engine's own identity comes from: "access_key" (the default when access_key is given),
"sts" (an AccessKey with a security token), "ram_role_arn" (a RAM role assumed with the AccessKey),
"ecs_ram_role" (the ECS instance RAM role), "oidc_role_arn" (a RAM role assumed with an OIDC token file,
as ACK RRSA provides), "credentials_uri" (a URI that serves credentials) or "default" (the default
credential chain of the Vault server's environment: environment variables, OIDC variables, the profile
file, the ECS instance role, a credentials URI). Only "default" reads the environment.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Credential type"},
			},
			"access_key": {
				Type:         framework.TypeString,
				Description:  `AccessKey ID. For "access_key" and "sts", the engine's key; for "ram_role_arn", the key that assumes role_arn.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "AccessKey ID"},
			},
			"secret_key": {
				Type:         framework.TypeString,
				Description:  "AccessKey secret. Never returned by a read.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "AccessKey secret", Sensitive: true},
			},
			"security_token": {
				Type:         framework.TypeString,
				Description:  `STS security token that goes with access_key ("sts"; optional for "ram_role_arn"). Never returned by a read.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Security token", Sensitive: true},
			},
			"role_arn": {
				Type:         framework.TypeString,
				Description:  `RAM role the engine assumes ("ram_role_arn", "oidc_role_arn"): acs:ram::<account>:role/<name>.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role ARN"},
			},
			"role_session_name": {
				Type:         framework.TypeString,
				Description:  "Session name when the engine assumes role_arn (2-64 letters, digits and . @ - _). Default: vault-alicloud-engine.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role session name"},
			},
			"role_session_expiration": {
				Type:         framework.TypeDurationSecond,
				Description:  "Lifetime of the engine's own STS session when it assumes role_arn (900 to 43200 seconds). Default: 3600.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role session expiration"},
			},
			"policy": {
				Type:         framework.TypeString,
				Description:  "Session policy (JSON, at most 2048 characters) that narrows the engine's session when it assumes role_arn.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Session policy"},
			},
			"external_id": {
				Type:         framework.TypeString,
				Description:  `External ID passed when the engine assumes role_arn ("ram_role_arn").`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "External ID"},
			},
			"role_name": {
				Type:         framework.TypeString,
				Description:  `ECS instance RAM role name ("ecs_ram_role"). Empty: discovered from the metadata service.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "ECS RAM role name"},
			},
			"disable_imds_v1": {
				Type:         framework.TypeBool,
				Description:  `Hardened metadata mode only ("ecs_ram_role"): fail rather than fall back to tokenless metadata requests.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Disable IMDSv1"},
			},
			"oidc_provider_arn": {
				Type:         framework.TypeString,
				Description:  `OIDC provider registered in RAM ("oidc_role_arn"): acs:ram::<account>:oidc-provider/<name>.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "OIDC provider ARN"},
			},
			"oidc_token_file": {
				Type:         framework.TypeString,
				Description:  `Absolute path of the OIDC token file, read again at each refresh ("oidc_role_arn"; ACK RRSA mounts it).`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "OIDC token file"},
			},
			"credentials_uri": {
				Type:         framework.TypeString,
				Description:  `URL that serves credentials as JSON ("credentials_uri").`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Credentials URI"},
			},
			"profile": {
				Type:         framework.TypeString,
				Description:  `Profile of the Alibaba Cloud CLI configuration file to use ("default"). Empty: the chain's own choice.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Profile"},
			},
			"metadata_endpoint": {
				Type: framework.TypeString,
				Description: `Advanced: base URL of the ECS metadata service ("ecs_ram_role", "default").
Default: http://100.100.100.200. Set it only for unusual networks or for tests against an emulator.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Metadata endpoint"},
			},
			"region": {
				Type:         framework.TypeString,
				Description:  "Region of the STS endpoint (sts.<region>.aliyuncs.com). Empty: the central endpoint sts.aliyuncs.com.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Region"},
			},
			"sts_endpoint": {
				Type:         framework.TypeString,
				Description:  "STS endpoint URL or host, overriding the one derived from region.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "STS endpoint"},
			},
			"ram_endpoint": {
				Type:         framework.TypeString,
				Description:  "RAM endpoint URL or host. Default: ram.aliyuncs.com.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "RAM endpoint"},
			},
			"use_vpc_endpoint": {
				Type:         framework.TypeBool,
				Description:  "Use the VPC endpoint of STS (sts-vpc.<region>.aliyuncs.com); needs region.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Use VPC endpoint"},
			},
			"max_retries": {
				Type:         framework.TypeInt,
				Default:      -1,
				Description:  "Retries of a throttled or failed Alibaba Cloud call (0 to 10); -1 means the default (3).",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Max retries"},
			},
			"request_timeout": {
				Type:         framework.TypeDurationSecond,
				Description:  "Timeout of one attempt of an Alibaba Cloud call (at most 300 seconds). Default: 10 seconds.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Request timeout"},
			},
			"username_template": {
				Type: framework.TypeString,
				Description: `Template of the names of the RAM users that ram_user roles create (a role may override it).
Fields: .DisplayName, .RoleName; functions of Vault's template helper (random, truncate, unix_time, ...).
The result must be 1-64 letters, digits and . _ -.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Username template"},
			},
		}),
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

// inputError is a problem with what the caller sent; handlers turn it into a
// 400 response naming the field.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) *inputError {
	return &inputError{msg: fmt.Sprintf(format, args...)}
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
		return logical.ErrorResponse("config: the credentials could not be verified with GetCallerIdentity: %s", err), nil
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
	for _, w := range rotationWarnings {
		resp.AddWarning(w)
	}
	return resp, nil
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

// applyConfigFields returns the config that a write of d produces on top of
// existing (nil on create). Fields not in d keep their value; when the
// credential type changes, identity fields of the old type are dropped.
func applyConfigFields(existing *configEntry, d *framework.FieldData) (*configEntry, error) {
	cfg := &configEntry{}
	if existing != nil {
		c := *existing
		cfg = &c
	}
	given := func(k string) bool { _, ok := d.GetOk(k); return ok }

	newType := ""
	if raw, ok := d.GetOk("credential_type"); ok {
		newType = raw.(string)
		if !contains(credentialTypes, newType) {
			return nil, inputErrorf("credential_type: must be one of %s", strings.Join(credentialTypes, ", "))
		}
	}
	switch {
	case newType != "":
	case existing != nil:
		newType = existing.effectiveType()
	case given("security_token"):
		newType = credTypeSTS
	case given("access_key") || given("secret_key"):
		newType = credTypeAccessKey
	default:
		return nil, inputErrorf("credential_type: required unless access_key and secret_key are given (one of %s)", strings.Join(credentialTypes, ", "))
	}
	if existing != nil && newType != existing.effectiveType() {
		cleared := &configEntry{
			Region: cfg.Region, STSEndpoint: cfg.STSEndpoint, RAMEndpoint: cfg.RAMEndpoint,
			UseVPCEndpoint: cfg.UseVPCEndpoint, MaxRetries: cfg.MaxRetries, RequestTimeout: cfg.RequestTimeout,
			UsernameTemplate: cfg.UsernameTemplate,
		}
		cfg = cleared
	}
	cfg.CredentialType = newType

	// A changed AccessKey ID without its secret would pair a new id with an
	// old secret.
	if raw, ok := d.GetOk("access_key"); ok && raw.(string) != cfg.AccessKey && !given("secret_key") {
		return nil, inputErrorf("secret_key: required when access_key changes")
	}

	str := func(k string, dst *string) {
		if raw, ok := d.GetOk(k); ok {
			*dst = strings.TrimSpace(raw.(string))
		}
	}
	str("access_key", &cfg.AccessKey)
	if raw, ok := d.GetOk("secret_key"); ok {
		cfg.SecretKey = raw.(string) // secrets are taken verbatim
	}
	if raw, ok := d.GetOk("security_token"); ok {
		cfg.SecurityToken = raw.(string)
	}
	str("role_arn", &cfg.RoleARN)
	str("role_session_name", &cfg.RoleSessionName)
	if raw, ok := d.GetOk("role_session_expiration"); ok {
		cfg.RoleSessionExpiration = int64(raw.(int))
	}
	str("policy", &cfg.Policy)
	str("external_id", &cfg.ExternalID)
	str("role_name", &cfg.RoleName)
	if raw, ok := d.GetOk("disable_imds_v1"); ok {
		cfg.DisableIMDSv1 = raw.(bool)
	}
	str("oidc_provider_arn", &cfg.OIDCProviderARN)
	str("oidc_token_file", &cfg.OIDCTokenFile)
	str("credentials_uri", &cfg.CredentialsURI)
	str("profile", &cfg.Profile)
	str("metadata_endpoint", &cfg.MetadataEndpoint)
	str("region", &cfg.Region)
	str("sts_endpoint", &cfg.STSEndpoint)
	str("ram_endpoint", &cfg.RAMEndpoint)
	if raw, ok := d.GetOk("use_vpc_endpoint"); ok {
		cfg.UseVPCEndpoint = raw.(bool)
	}
	if raw, ok := d.GetOk("max_retries"); ok {
		n := raw.(int)
		if n == -1 {
			cfg.MaxRetries = nil
		} else {
			cfg.MaxRetries = &n
		}
	}
	if raw, ok := d.GetOk("request_timeout"); ok {
		cfg.RequestTimeout = int64(raw.(int))
	}
	if raw, ok := d.GetOk("username_template"); ok {
		cfg.UsernameTemplate = raw.(string)
	}

	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

var (
	roleARNRegex         = regexp.MustCompile(`^acs:ram::[0-9]+:role/[A-Za-z0-9.\-_]{1,64}$`)
	oidcProviderARNRegex = regexp.MustCompile(`^acs:ram::[0-9]+:oidc-provider/[A-Za-z0-9.\-_]{1,128}$`)
	sessionNameRegex     = regexp.MustCompile(`^[A-Za-z0-9.@\-_]{2,64}$`)
	externalIDRegex      = regexp.MustCompile(`^[\w+=,.@:/\-]+$`)
	regionRegex          = regexp.MustCompile(`^[a-z0-9][a-z0-9\-]{1,62}$`)
	ramRoleNameRegex     = regexp.MustCompile(`^[A-Za-z0-9.\-]{1,64}$`)
	profileRegex         = regexp.MustCompile(`^[A-Za-z0-9.\-_]{1,64}$`)
)

// fieldSet reports whether an identity field holds a value in cfg.
func (c *configEntry) fieldSet(name string) bool {
	switch name {
	case "access_key":
		return c.AccessKey != ""
	case "secret_key":
		return c.SecretKey != ""
	case "security_token":
		return c.SecurityToken != ""
	case "role_arn":
		return c.RoleARN != ""
	case "role_session_name":
		return c.RoleSessionName != ""
	case "role_session_expiration":
		return c.RoleSessionExpiration != 0
	case "policy":
		return c.Policy != ""
	case "external_id":
		return c.ExternalID != ""
	case "role_name":
		return c.RoleName != ""
	case "disable_imds_v1":
		return c.DisableIMDSv1
	case "oidc_provider_arn":
		return c.OIDCProviderARN != ""
	case "oidc_token_file":
		return c.OIDCTokenFile != ""
	case "credentials_uri":
		return c.CredentialsURI != ""
	case "profile":
		return c.Profile != ""
	case "metadata_endpoint":
		return c.MetadataEndpoint != ""
	}
	return false
}

func validateConfig(c *configEntry) error {
	t := c.effectiveType()
	allowed := credTypeFields[t]
	for _, f := range identityFields {
		if c.fieldSet(f) && !contains(allowed, f) {
			return inputErrorf("%s: does not apply to credential_type %q (it takes: %s; set credential_type to change the type)", f, t, listOrNone(allowed))
		}
	}
	for _, f := range credTypeRequired[t] {
		if !c.fieldSet(f) {
			return inputErrorf("%s: required for credential_type %q", f, t)
		}
	}
	if c.RoleARN != "" && !roleARNRegex.MatchString(c.RoleARN) {
		return inputErrorf("role_arn: must look like acs:ram::<account>:role/<name>")
	}
	if c.OIDCProviderARN != "" && !oidcProviderARNRegex.MatchString(c.OIDCProviderARN) {
		return inputErrorf("oidc_provider_arn: must look like acs:ram::<account>:oidc-provider/<name>")
	}
	if c.RoleSessionName != "" && !sessionNameRegex.MatchString(c.RoleSessionName) {
		return inputErrorf("role_session_name: must be 2-64 characters: letters, digits and . @ - _")
	}
	if c.RoleSessionExpiration != 0 && (c.RoleSessionExpiration < minSTSDuration || c.RoleSessionExpiration > maxSTSDuration) {
		return inputErrorf("role_session_expiration: must be between %d and %d seconds", minSTSDuration, maxSTSDuration)
	}
	if c.Policy != "" {
		if err := validatePolicyDocument(c.Policy, maxSessionPolicyLen); err != nil {
			return inputErrorf("policy: %s", err)
		}
	}
	if c.ExternalID != "" && !validExternalID(c.ExternalID) {
		return inputErrorf("external_id: must be 2-1224 characters: letters, digits and _ + = , . @ : / -")
	}
	if c.RoleName != "" && !ramRoleNameRegex.MatchString(c.RoleName) {
		return inputErrorf("role_name: must be 1-64 characters: letters, digits, . and -")
	}
	if c.OIDCTokenFile != "" && !filepath.IsAbs(c.OIDCTokenFile) {
		return inputErrorf("oidc_token_file: must be an absolute path")
	}
	if c.CredentialsURI != "" {
		if err := validateHTTPURL(c.CredentialsURI, true); err != nil {
			return inputErrorf("credentials_uri: %s", err)
		}
	}
	if c.MetadataEndpoint != "" {
		if err := validateHTTPURL(c.MetadataEndpoint, true); err != nil {
			return inputErrorf("metadata_endpoint: %s", err)
		}
	}
	if c.Profile != "" && !profileRegex.MatchString(c.Profile) {
		return inputErrorf("profile: must be 1-64 characters: letters, digits, . _ -")
	}
	if c.Region != "" && !regionRegex.MatchString(c.Region) {
		return inputErrorf("region: must be a region id such as cn-hangzhou")
	}
	if c.STSEndpoint != "" {
		if err := validateHTTPURL(c.STSEndpoint, false); err != nil {
			return inputErrorf("sts_endpoint: %s", err)
		}
	}
	if c.RAMEndpoint != "" {
		if err := validateHTTPURL(c.RAMEndpoint, false); err != nil {
			return inputErrorf("ram_endpoint: %s", err)
		}
	}
	if c.UseVPCEndpoint && c.Region == "" {
		return inputErrorf("use_vpc_endpoint: needs region")
	}
	if n := c.maxRetries(); n < -1 || n > 10 {
		return inputErrorf("max_retries: must be between 0 and 10, or -1 for the default")
	}
	if c.RequestTimeout < 0 || c.RequestTimeout > 300 {
		return inputErrorf("request_timeout: must be between 1 and 300 seconds, or 0 for the default")
	}
	return nil
}

// validExternalID applies STS's rule: 2-1224 characters of [\w+=,.@:/-]
// (Go's regexp cannot count to 1224).
func validExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && externalIDRegex.MatchString(s)
}

// validateHTTPURL accepts an http(s) URL, or a bare host when schemeless is
// allowed (an endpoint such as sts.cn-hangzhou.aliyuncs.com).
func validateHTTPURL(raw string, needScheme bool) error {
	s := raw
	if !strings.Contains(s, "://") {
		if needScheme {
			return fmt.Errorf("must be an http:// or https:// URL")
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL")
	}
	if u.Host == "" {
		return fmt.Errorf("must name a host")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry user information")
	}
	return nil
}

// Lengths and bounds Alibaba Cloud enforces.
const (
	maxSessionPolicyLen = 2048
	maxRAMPolicyLen     = 6144
	minSTSDuration      = 900
	maxSTSDuration      = 43200
	defaultSTSDuration  = 3600
)

// validatePolicyDocument checks that doc is a JSON object with a Statement
// list and fits in max characters once compacted (as it is sent).
func validatePolicyDocument(doc string, max int) error {
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return fmt.Errorf("must be a JSON policy document: %v", jsonErrorText(err))
	}
	return checkPolicyObject(m, max)
}

func checkPolicyObject(m map[string]interface{}, max int) error {
	st, ok := m["Statement"]
	if !ok {
		return fmt.Errorf(`must be a policy document with a "Statement" list`)
	}
	if l, ok := st.([]interface{}); !ok || len(l) == 0 {
		return fmt.Errorf(`"Statement" must be a non-empty list`)
	}
	compact, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("cannot be encoded: %v", err)
	}
	if len(compact) > max {
		return fmt.Errorf("is %d characters once compacted, more than the %d allowed", len(compact), max)
	}
	return nil
}

// jsonErrorText keeps JSON errors short and free of the input, which may
// hold a policy the caller considers sensitive.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("a JSON %s where %s was expected", te.Value, te.Type)
	}
	return "invalid JSON"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "no identity fields"
	}
	return strings.Join(l, ", ")
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

// configResponseData shows every field except the secrets, whose presence
// is shown instead.
func configResponseData(c *configEntry) map[string]interface{} {
	return map[string]interface{}{
		"credential_type":         c.effectiveType(),
		"access_key":              c.AccessKey,
		"secret_key_set":          c.SecretKey != "",
		"security_token_set":      c.SecurityToken != "",
		"role_arn":                c.RoleARN,
		"role_session_name":       c.RoleSessionName,
		"role_session_expiration": c.RoleSessionExpiration,
		"policy":                  c.Policy,
		"external_id":             c.ExternalID,
		"role_name":               c.RoleName,
		"disable_imds_v1":         c.DisableIMDSv1,
		"oidc_provider_arn":       c.OIDCProviderARN,
		"oidc_token_file":         c.OIDCTokenFile,
		"credentials_uri":         c.CredentialsURI,
		"profile":                 c.Profile,
		"metadata_endpoint":       c.MetadataEndpoint,
		"region":                  c.Region,
		"sts_endpoint":            c.STSEndpoint,
		"ram_endpoint":            c.RAMEndpoint,
		"use_vpc_endpoint":        c.UseVPCEndpoint,
		"max_retries":             c.maxRetries(),
		"request_timeout":         c.RequestTimeout,
		"username_template":       c.UsernameTemplate,
	}
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
they are set. The stored config is seal-wrapped.

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
