package alicloud

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
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
	// credTypeLegacyChain is HashiCorp's plugin's chain (legacy_chain.go).
	credTypeLegacyChain = "legacy_chain"
)

var credentialTypes = []string{
	credTypeAccessKey, credTypeSTS, credTypeRAMRoleARN, credTypeECSRAMRole,
	credTypeOIDCRoleARN, credTypeCredentialsURI, credTypeDefault, credTypeLegacyChain,
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
	if c.AccessKey == "" && c.SecretKey == "" {
		// HashiCorp's plugin stores a config without keys, and then uses
		// its chain.
		return credTypeLegacyChain
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

// configField is the one description of a config field: the path's schema,
// the decoding of a write, the validation and the read response all come
// from it (configFields).
type configField struct {
	name    string
	typ     framework.FieldType
	def     interface{}
	allowed []interface{}
	display string
	help    string
	// secret fields are never read back (a read shows <name>_set instead)
	// and are taken verbatim, as is every verbatim field.
	secret   bool
	verbatim bool
	// types lists the credential types that take the field; any other type
	// refuses it. Nil: the field applies to every type (transport, naming).
	types []string
	// required lists the credential types that cannot do without the field.
	required []string
	// ptr returns the entry's field: a *string, *bool or *int64 (seconds
	// for durations). Fields with their own decode and read may return nil.
	ptr func(c *configEntry) any
	// validate checks a field that is set and returns the rule it breaks
	// ("must ..."), without the field's name.
	validate func(c *configEntry) error
	// decode and read, when set, replace the generic ones built on ptr.
	decode func(c *configEntry, raw interface{})
	read   func(c *configEntry) interface{}
}

// Credential types that take an AccessKey.
var keyTypes = []string{credTypeAccessKey, credTypeSTS, credTypeRAMRoleARN}

// configFields describes every config field, in the order of messages and
// checks. The root rotation fields are root_rotation_schedule.go's.
var configFields = []*configField{
	{
		name:    "credential_type",
		typ:     framework.TypeString,
		allowed: []interface{}{credTypeAccessKey, credTypeSTS, credTypeRAMRoleARN, credTypeECSRAMRole, credTypeOIDCRoleARN, credTypeCredentialsURI, credTypeDefault, credTypeLegacyChain},
		display: "Credential type",
		help: `Where the engine's own identity comes from: "access_key" (the default when access_key is given),
"sts" (an AccessKey with a security token), "ram_role_arn" (a RAM role assumed with the AccessKey),
"ecs_ram_role" (the ECS instance RAM role), "oidc_role_arn" (a RAM role assumed with an OIDC token file,
as ACK RRSA provides), "credentials_uri" (a URI that serves credentials) or "default" (the default
credential chain of the Vault server's environment: environment variables, OIDC variables, the profile
file, the ECS instance role, a credentials URI), or "legacy_chain" (what HashiCorp's plugin does with empty
access_key and secret_key, and what such a config it stored reads as: the ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY
or ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET environment variables, else the ECS instance role).
Only "default" and "legacy_chain" read the environment. They and "ecs_ram_role" need the operator setting
ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true.`,
		// Decoded by applyConfigFields, which chooses the type first.
		decode: func(*configEntry, interface{}) {},
		read:   func(c *configEntry) interface{} { return c.effectiveType() },
	},
	{
		name:     "access_key",
		typ:      framework.TypeString,
		display:  "AccessKey ID",
		help:     `AccessKey ID. For "access_key" and "sts", the engine's key; for "ram_role_arn", the key that assumes role_arn.`,
		types:    keyTypes,
		required: keyTypes,
		ptr:      func(c *configEntry) any { return &c.AccessKey },
	},
	{
		name:     "secret_key",
		typ:      framework.TypeString,
		display:  "AccessKey secret",
		help:     "AccessKey secret. Never returned by a read.",
		secret:   true,
		types:    keyTypes,
		required: keyTypes,
		ptr:      func(c *configEntry) any { return &c.SecretKey },
	},
	{
		name:     "security_token",
		typ:      framework.TypeString,
		display:  "Security token",
		help:     `STS security token that goes with access_key ("sts"; optional for "ram_role_arn"). Never returned by a read.`,
		secret:   true,
		types:    []string{credTypeSTS, credTypeRAMRoleARN},
		required: []string{credTypeSTS},
		ptr:      func(c *configEntry) any { return &c.SecurityToken },
	},
	{
		name:     "role_arn",
		typ:      framework.TypeString,
		display:  "Role ARN",
		help:     `RAM role the engine assumes ("ram_role_arn", "oidc_role_arn"): acs:ram::<account>:role/<name>.`,
		types:    []string{credTypeRAMRoleARN, credTypeOIDCRoleARN},
		required: []string{credTypeRAMRoleARN, credTypeOIDCRoleARN},
		ptr:      func(c *configEntry) any { return &c.RoleARN },
		validate: matches(func(c *configEntry) string { return c.RoleARN }, roleARNRegex.MatchString, "must look like acs:ram::<account>:role/<name>"),
	},
	{
		name:     "role_session_name",
		typ:      framework.TypeString,
		display:  "Role session name",
		help:     "Session name when the engine assumes role_arn (2-64 letters, digits and . @ - _). Default: vault-alicloud-engine.",
		types:    []string{credTypeRAMRoleARN, credTypeOIDCRoleARN},
		ptr:      func(c *configEntry) any { return &c.RoleSessionName },
		validate: matches(func(c *configEntry) string { return c.RoleSessionName }, sessionNameRegex.MatchString, "must be 2-64 characters: letters, digits and . @ - _"),
	},
	{
		name:    "role_session_expiration",
		typ:     framework.TypeDurationSecond,
		display: "Role session expiration",
		help:    "Lifetime of the engine's own STS session when it assumes role_arn (900 to 43200 seconds). Default: 3600.",
		types:   []string{credTypeRAMRoleARN, credTypeOIDCRoleARN},
		ptr:     func(c *configEntry) any { return &c.RoleSessionExpiration },
		validate: func(c *configEntry) error {
			if c.RoleSessionExpiration < minSTSDuration || c.RoleSessionExpiration > maxSTSDuration {
				return fmt.Errorf("must be between %d and %d seconds", minSTSDuration, maxSTSDuration)
			}
			return nil
		},
	},
	{
		name:     "policy",
		typ:      framework.TypeString,
		display:  "Session policy",
		help:     "Session policy (JSON, at most 2048 characters) that narrows the engine's session when it assumes role_arn.",
		types:    []string{credTypeRAMRoleARN, credTypeOIDCRoleARN},
		ptr:      func(c *configEntry) any { return &c.Policy },
		validate: func(c *configEntry) error { return validatePolicyDocument(c.Policy, maxSessionPolicyLen) },
	},
	{
		name:     "external_id",
		typ:      framework.TypeString,
		display:  "External ID",
		help:     `External ID passed when the engine assumes role_arn ("ram_role_arn").`,
		types:    []string{credTypeRAMRoleARN},
		ptr:      func(c *configEntry) any { return &c.ExternalID },
		validate: matches(func(c *configEntry) string { return c.ExternalID }, validExternalID, "must be 2-1224 characters: letters, digits and _ + = , . @ : / -"),
	},
	{
		name:     "role_name",
		typ:      framework.TypeString,
		display:  "ECS RAM role name",
		help:     `ECS instance RAM role name ("ecs_ram_role", "legacy_chain"). Empty: discovered from the metadata service.`,
		types:    []string{credTypeECSRAMRole, credTypeLegacyChain},
		ptr:      func(c *configEntry) any { return &c.RoleName },
		validate: matches(func(c *configEntry) string { return c.RoleName }, ramRoleNameRegex.MatchString, "must be 1-64 characters: letters, digits, . and -"),
	},
	{
		name:    "disable_imds_v1",
		typ:     framework.TypeBool,
		display: "Disable IMDSv1",
		help:    `Hardened metadata mode only ("ecs_ram_role", "legacy_chain"): fail rather than fall back to tokenless metadata requests.`,
		types:   []string{credTypeECSRAMRole, credTypeLegacyChain},
		ptr:     func(c *configEntry) any { return &c.DisableIMDSv1 },
	},
	{
		name:     "oidc_provider_arn",
		typ:      framework.TypeString,
		display:  "OIDC provider ARN",
		help:     `OIDC provider registered in RAM ("oidc_role_arn"): acs:ram::<account>:oidc-provider/<name>.`,
		types:    []string{credTypeOIDCRoleARN},
		required: []string{credTypeOIDCRoleARN},
		ptr:      func(c *configEntry) any { return &c.OIDCProviderARN },
		validate: matches(func(c *configEntry) string { return c.OIDCProviderARN }, oidcProviderARNRegex.MatchString, "must look like acs:ram::<account>:oidc-provider/<name>"),
	},
	{
		name:     "oidc_token_file",
		typ:      framework.TypeString,
		display:  "OIDC token file",
		help:     `Absolute path of the OIDC token file, read again at each refresh ("oidc_role_arn"; ACK RRSA mounts it). It must be in a directory of the operator setting ALICLOUD_PLUGIN_TOKEN_DIRS (default: ACK's RRSA directory).`,
		types:    []string{credTypeOIDCRoleARN},
		required: []string{credTypeOIDCRoleARN},
		ptr:      func(c *configEntry) any { return &c.OIDCTokenFile },
		validate: matches(func(c *configEntry) string { return c.OIDCTokenFile }, filepath.IsAbs, "must be an absolute path"),
	},
	{
		name:     "credentials_uri",
		typ:      framework.TypeString,
		display:  "Credentials URI",
		help:     `URL that serves credentials as JSON ("credentials_uri"). A read shows it with the query values redacted.`,
		types:    []string{credTypeCredentialsURI},
		required: []string{credTypeCredentialsURI},
		ptr:      func(c *configEntry) any { return &c.CredentialsURI },
		validate: func(c *configEntry) error { return validateHTTPURL(c.CredentialsURI, true) },
		// Its query (and any user information) may carry a token.
		read: func(c *configEntry) interface{} { return redactURL(c.CredentialsURI) },
	},
	{
		name:     "profile",
		typ:      framework.TypeString,
		display:  "Profile",
		help:     `Profile of the Alibaba Cloud CLI configuration file to use ("default"). Empty: the chain's own choice.`,
		types:    []string{credTypeDefault},
		ptr:      func(c *configEntry) any { return &c.Profile },
		validate: matches(func(c *configEntry) string { return c.Profile }, profileRegex.MatchString, "must be 1-64 characters: letters, digits, . _ -"),
	},
	{
		name:    "metadata_endpoint",
		typ:     framework.TypeString,
		display: "Metadata endpoint",
		help: `Advanced: base URL of the ECS metadata service ("ecs_ram_role", "default", "legacy_chain").
Default: http://100.100.100.200. Set it only for unusual networks or for tests against an emulator.`,
		types:    []string{credTypeECSRAMRole, credTypeDefault, credTypeLegacyChain},
		ptr:      func(c *configEntry) any { return &c.MetadataEndpoint },
		validate: func(c *configEntry) error { return validateHTTPURL(c.MetadataEndpoint, true) },
	},
	{
		name:     "region",
		typ:      framework.TypeString,
		display:  "Region",
		help:     "Region of the STS endpoint (sts.<region>.aliyuncs.com). Empty: the central endpoint sts.aliyuncs.com.",
		ptr:      func(c *configEntry) any { return &c.Region },
		validate: matches(func(c *configEntry) string { return c.Region }, regionRegex.MatchString, "must be a region id such as cn-hangzhou"),
	},
	{
		name:     "sts_endpoint",
		typ:      framework.TypeString,
		display:  "STS endpoint",
		help:     "STS endpoint URL or host, overriding the one derived from region. It must match the operator setting ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS (default: https://*.aliyuncs.com).",
		ptr:      func(c *configEntry) any { return &c.STSEndpoint },
		validate: func(c *configEntry) error { return validateHTTPURL(c.STSEndpoint, false) },
	},
	{
		name:     "ram_endpoint",
		typ:      framework.TypeString,
		display:  "RAM endpoint",
		help:     "RAM endpoint URL or host. Default: ram.aliyuncs.com. It must match the operator setting ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS (default: https://*.aliyuncs.com); a new one is checked with a RAM read.",
		ptr:      func(c *configEntry) any { return &c.RAMEndpoint },
		validate: func(c *configEntry) error { return validateHTTPURL(c.RAMEndpoint, false) },
	},
	{
		name:    "use_vpc_endpoint",
		typ:     framework.TypeBool,
		display: "Use VPC endpoint",
		help:    "Use the VPC endpoint of STS (sts-vpc.<region>.aliyuncs.com); needs region.",
		ptr:     func(c *configEntry) any { return &c.UseVPCEndpoint },
		validate: func(c *configEntry) error {
			if c.Region == "" {
				return fmt.Errorf("needs region")
			}
			return nil
		},
	},
	{
		name:    "max_retries",
		typ:     framework.TypeInt,
		def:     -1,
		display: "Max retries",
		help:    "Retries of a throttled or failed Alibaba Cloud call (0 to 10); -1 means the default (3).",
		decode: func(c *configEntry, raw interface{}) {
			if n := raw.(int); n != -1 {
				c.MaxRetries = &n
			} else {
				c.MaxRetries = nil
			}
		},
		read: func(c *configEntry) interface{} { return c.maxRetries() },
		validate: func(c *configEntry) error {
			if n := c.maxRetries(); n < -1 || n > 10 {
				return fmt.Errorf("must be between 0 and 10, or -1 for the default")
			}
			return nil
		},
	},
	{
		name:    "request_timeout",
		typ:     framework.TypeDurationSecond,
		display: "Request timeout",
		help:    "Timeout of one attempt of an Alibaba Cloud call (at most 300 seconds). Default: 10 seconds.",
		ptr:     func(c *configEntry) any { return &c.RequestTimeout },
		validate: func(c *configEntry) error {
			if c.RequestTimeout < 0 || c.RequestTimeout > 300 {
				return fmt.Errorf("must be between 1 and 300 seconds, or 0 for the default")
			}
			return nil
		},
	},
	{
		name:    "username_template",
		typ:     framework.TypeString,
		display: "Username template",
		help: `Template of the names of the RAM users that ram_user roles create (a role may override it).
Fields: .DisplayName, .RoleName; functions of Vault's template helper (random, truncate, unix_time, ...).
The result must be 1-64 letters, digits and . _ -.`,
		// Checked by rendering it (backend.validateUsernameTemplate).
		verbatim: true,
		ptr:      func(c *configEntry) any { return &c.UsernameTemplate },
	},
}

// matches builds a validator from a predicate on one string field.
func matches(get func(*configEntry) string, ok func(string) bool, rule string) func(*configEntry) error {
	return func(c *configEntry) error {
		if !ok(get(c)) {
			return fmt.Errorf("%s", rule)
		}
		return nil
	}
}

// configFieldSchemas is the path's schema, from configFields.
func configFieldSchemas() map[string]*framework.FieldSchema {
	m := make(map[string]*framework.FieldSchema, len(configFields))
	for _, f := range configFields {
		m[f.name] = &framework.FieldSchema{
			Type:          f.typ,
			Default:       f.def,
			AllowedValues: f.allowed,
			Description:   f.help,
			DisplayAttrs:  &framework.DisplayAttributes{Name: f.display, Sensitive: f.secret},
		}
	}
	return m
}

// identity reports whether the field depends on the credential type.
func (f *configField) identity() bool { return f.types != nil }

// isSet reports whether the field holds a value in c.
func (f *configField) isSet(c *configEntry) bool {
	if f.ptr == nil {
		return false
	}
	switch p := f.ptr(c).(type) {
	case *string:
		return *p != ""
	case *bool:
		return *p
	case *int64:
		return *p != 0
	}
	return false
}

// clear zeroes the field in c.
func (f *configField) clear(c *configEntry) {
	if f.ptr == nil {
		return
	}
	switch p := f.ptr(c).(type) {
	case *string:
		*p = ""
	case *bool:
		*p = false
	case *int64:
		*p = 0
	}
}

// set stores a value decoded by the framework into c.
func (f *configField) set(c *configEntry, raw interface{}) {
	if f.decode != nil {
		f.decode(c, raw)
		return
	}
	switch p := f.ptr(c).(type) {
	case *string:
		s := raw.(string)
		if !f.secret && !f.verbatim {
			s = strings.TrimSpace(s)
		}
		*p = s
	case *bool:
		*p = raw.(bool)
	case *int64:
		*p = int64(raw.(int))
	}
}

// value is the field's value in a read response.
func (f *configField) value(c *configEntry) interface{} {
	if f.read != nil {
		return f.read(c)
	}
	switch p := f.ptr(c).(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int64:
		return *p
	}
	return nil
}

// fieldsOf lists the identity fields a credential type takes.
func fieldsOf(credType string) []string {
	var out []string
	for _, f := range configFields {
		if f.identity() && contains(f.types, credType) {
			out = append(out, f.name)
		}
	}
	return out
}

// configFieldData is what a config write was given: the framework's
// decoded value of each field the request named.
type configFieldData interface {
	GetOk(key string) (interface{}, bool)
}

// applyConfigFields returns the config that a write of d produces on top of
// existing (nil on create). Fields not in d keep their value; when the
// credential type changes, identity fields of the old type are dropped.
func applyConfigFields(existing *configEntry, d configFieldData) (*configEntry, error) {
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
	emptyGiven := func(k string) bool { raw, ok := d.GetOk(k); return ok && raw.(string) == "" }
	switch {
	case newType != "":
	case emptyGiven("access_key") && emptyGiven("secret_key") && !given("security_token"):
		// HashiCorp's way of asking for its chain.
		newType = credTypeLegacyChain
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
		for _, f := range configFields {
			if f.identity() {
				f.clear(cfg)
			}
		}
	}
	cfg.CredentialType = newType

	// A changed AccessKey ID without its secret would pair a new id with an
	// old secret.
	if raw, ok := d.GetOk("access_key"); ok && raw.(string) != cfg.AccessKey && !given("secret_key") {
		return nil, inputErrorf("secret_key: required when access_key changes")
	}

	for _, f := range configFields {
		if f.name == "credential_type" {
			continue
		}
		if raw, ok := d.GetOk(f.name); ok {
			f.set(cfg, raw)
		}
	}
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	if existing != nil {
		if err := requireSecretsAgain(existing, cfg, given); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// rebindingFields decide where the stored secrets are sent or what they
// are used for. A write that changes one must give the secrets again: a
// writer who may change the config but does not know its secrets could
// otherwise point the stored secret (and the sessions and rotated keys it
// leads to) at a host of their choosing.
var rebindingFields = []string{
	"credential_type", "sts_endpoint", "ram_endpoint", "credentials_uri", "metadata_endpoint",
	"role_arn", "oidc_provider_arn", "oidc_token_file",
}

// requireSecretsAgain refuses a write that keeps a stored secret while
// changing a rebinding field. The security token is needed again when the
// config keeps one.
func requireSecretsAgain(existing, cfg *configEntry, given func(string) bool) error {
	changed := ""
	for _, name := range rebindingFields {
		f := configFieldByName[name]
		if given(name) && f.value(existing) != f.value(cfg) {
			changed = name
			break
		}
	}
	if changed == "" {
		return nil
	}
	for _, name := range []string{"secret_key", "security_token"} {
		f := configFieldByName[name]
		if f.isSet(cfg) && !given(name) {
			return inputErrorf("%s: required when %s changes: a changed endpoint or identity must come with the secrets it uses (the stored ones are not carried over)", name, changed)
		}
	}
	return nil
}

// configFieldByName indexes configFields.
var configFieldByName = func() map[string]*configField {
	m := make(map[string]*configField, len(configFields))
	for _, f := range configFields {
		m[f.name] = f
	}
	return m
}()

// validateConfig checks a whole config: the identity fields against its
// credential type, then each set field against its rule.
func validateConfig(c *configEntry) error {
	t := c.effectiveType()
	allowed := fieldsOf(t)
	for _, f := range configFields {
		if f.identity() && f.isSet(c) && !contains(f.types, t) {
			return inputErrorf("%s: does not apply to credential_type %q (it takes: %s; set credential_type to change the type)", f.name, t, listOrNone(allowed))
		}
	}
	for _, f := range configFields {
		if contains(f.required, t) && !f.isSet(c) {
			return inputErrorf("%s: required for credential_type %q", f.name, t)
		}
	}
	for _, f := range configFields {
		if f.validate == nil || (f.ptr != nil && !f.isSet(c)) {
			continue
		}
		if err := f.validate(c); err != nil {
			return inputErrorf("%s: %s", f.name, err)
		}
	}
	return nil
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "no identity fields"
	}
	return strings.Join(l, ", ")
}

// configResponseData shows every field except the secrets, whose presence
// is shown instead.
func configResponseData(c *configEntry) map[string]interface{} {
	data := make(map[string]interface{}, len(configFields))
	for _, f := range configFields {
		if f.secret {
			data[f.name+"_set"] = f.isSet(c)
			continue
		}
		data[f.name] = f.value(c)
	}
	return data
}

// redactURL shows a URL without user information and with every query value
// replaced, keeping the parameter names; "" stays "".
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		q := u.Query()
		names := make([]string, 0, len(q))
		for k := range q {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = url.QueryEscape(k) + "=" + redacted
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

// redacted stands for a hidden value.
const redacted = "REDACTED"

// String shows the config with its secrets replaced, so that a config
// printed with %v or %+v (a log line, an error) reveals none of them.
func (c configEntry) String() string {
	var b strings.Builder
	b.WriteString("configEntry{")
	for i, f := range configFields {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(f.name)
		b.WriteString(":")
		if f.secret {
			if f.isSet(&c) {
				b.WriteString(redacted)
			}
			continue
		}
		fmt.Fprint(&b, f.value(&c))
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, for %#v.
func (c configEntry) GoString() string { return c.String() }
