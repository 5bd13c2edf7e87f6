package alicloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-uuid"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/locksutil"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// roleStoragePrefix is where roles live: role/<lowercased name>, as in
// HashiCorp's plugin.
const roleStoragePrefix = "role/"

// Role credential types.
const (
	roleTypeAssumedRole = "assumed_role"
	roleTypeRAMUser     = "ram_user"
)

// Lease role_type values, those of HashiCorp's plugin.
const (
	leaseRoleTypeSTS = "sts"
	leaseRoleTypeRAM = "ram"
)

// roleEntry is a stored role. The first five fields are HashiCorp's, with
// the same JSON names and encodings (ttl and max_ttl in nanoseconds), so
// roles that plugin wrote are read as they are.
type roleEntry struct {
	RoleARN        string          `json:"role_arn"`
	RemotePolicies []*remotePolicy `json:"remote_policies"`
	InlinePolicies []*inlinePolicy `json:"inline_policies"`
	TTL            time.Duration   `json:"ttl"`
	MaxTTL         time.Duration   `json:"max_ttl"`

	// CredentialType is empty in roles HashiCorp's plugin wrote; the type is
	// then inferred from RoleARN, as that plugin does.
	CredentialType          string   `json:"credential_type,omitempty"`
	Policy                  string   `json:"policy,omitempty"`
	ExternalID              string   `json:"external_id,omitempty"`
	RAMGroups               []string `json:"ram_groups,omitempty"`
	UsernameTemplate        string   `json:"username_template,omitempty"`
	RoleSessionNameTemplate string   `json:"role_session_name_template,omitempty"`
	// AllowCallerSessionName lets the caller of creds/ set role_session_name
	// (assumed_role). False in roles stored before the field existed.
	AllowCallerSessionName bool `json:"allow_caller_session_name,omitempty"`
	// SourceIdentityTemplate renders the SourceIdentity of each session
	// (assumed_role); empty: none. AllowCallerSourceIdentity lets the
	// caller of creds/ choose it instead.
	SourceIdentityTemplate    string `json:"source_identity_template,omitempty"`
	AllowCallerSourceIdentity bool   `json:"allow_caller_source_identity,omitempty"`
	// InlinePolicyNames[i] is the custom policy in RAM that holds
	// InlinePolicies[i]; created once per role, not per lease.
	InlinePolicyNames []string `json:"inline_policy_names,omitempty"`
}

// remotePolicy names an existing RAM policy; name and type identify it.
type remotePolicy struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// inlinePolicy is a policy document of a role. Hash is HashiCorp's per
// document UUID (its JSON name is "hash"), kept for compatibility.
type inlinePolicy struct {
	UUID           string                 `json:"hash"`
	PolicyDocument map[string]interface{} `json:"policy_document"`
}

func (r *roleEntry) credentialType() string {
	if r.CredentialType != "" {
		return r.CredentialType
	}
	if r.RoleARN != "" {
		return roleTypeAssumedRole
	}
	return roleTypeRAMUser
}

// legacy reports whether the role was written by HashiCorp's plugin and not
// rewritten since.
func (r *roleEntry) legacy() bool { return r.CredentialType == "" }

// needsPolicyMigration reports whether the role's inline policies have no
// managed custom policies yet (a role written by HashiCorp's plugin).
func (r *roleEntry) needsPolicyMigration() bool {
	return len(r.InlinePolicies) > 0 && len(r.InlinePolicyNames) != len(r.InlinePolicies)
}

func readRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	entry, err := s.Get(ctx, roleStoragePrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading role %q: %w", name, err)
	}
	if entry == nil {
		return nil, nil
	}
	role := &roleEntry{}
	if err := entry.DecodeJSON(role); err != nil {
		return nil, fmt.Errorf("decoding role %q: %w", name, err)
	}
	return role, nil
}

// cachedRoleEntry is a role in backend.roleCache, valid while roleGen is gen.
type cachedRoleEntry struct {
	gen  uint64
	role *roleEntry
}

// cachedRole returns role name as readRole would, from memory when no role
// has changed since it was read. The returned entry is shared: callers must
// not modify it. A role read while a write is under way carries the older
// generation and so is never served.
func (b *backend) cachedRole(ctx context.Context, s logical.Storage, name string) (*roleEntry, error) {
	gen := b.roleGen.Load()
	if v, ok := b.roleCache.Load(name); ok {
		if c := v.(cachedRoleEntry); c.gen == gen {
			return c.role, nil
		}
	}
	role, err := readRole(ctx, s, name)
	if err != nil || role == nil {
		return role, err
	}
	b.roleCache.Store(name, cachedRoleEntry{gen: gen, role: role})
	return role, nil
}

// rolesChanged retires every cached role; call it after a role's storage
// entry is written or deleted. The retired entries are dropped too, so the
// cache holds at most the roles read since the last change and never the
// decoded entries of roles long deleted. A reader that read its role before
// the change may store it after the Clear: that entry carries the old
// generation, is never served, and goes at the next change.
func (b *backend) rolesChanged() {
	b.roleGen.Add(1)
	b.roleCache.Clear()
}

func writeRole(ctx context.Context, s logical.Storage, name string, role *roleEntry) error {
	entry, err := logical.StorageEntryJSON(roleStoragePrefix+name, role)
	if err != nil {
		return fmt.Errorf("encoding role %q: %w", name, err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("writing role %q: %w", name, err)
	}
	return nil
}

func (b *backend) roleLock(name string) *locksutil.LockEntry {
	return locksutil.LockForKey(b.roleLocks, name)
}

func pathListRoles(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "role/?$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "list",
			OperationSuffix: "roles",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ListOperation: &framework.PathOperation{Callback: b.pathRoleList},
		},
		HelpSynopsis:    pathListRolesHelpSyn,
		HelpDescription: pathListRolesHelpDesc,
	}
}

func pathRole(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "role/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationSuffix: "role",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {
				Type:        framework.TypeLowerCaseString,
				Description: "Name of the role (stored lowercased).",
				Required:    true,
			},
			"credential_type": {
				Type:          framework.TypeString,
				AllowedValues: []interface{}{roleTypeAssumedRole, roleTypeRAMUser},
				Description: `"assumed_role" (STS credentials for role_arn) or "ram_user" (a new RAM user with an AccessKey).
Default: "assumed_role" when role_arn is given, else "ram_user". Changing it switches the role's type and clears
the old type's fields; a write that gives role_arn switches it too, as with HashiCorp's plugin (a non-empty
role_arn: assumed_role; an empty one: ram_user). Leases issued before a switch still renew and revoke.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Credential type"},
			},
			"role_arn": {
				Type: framework.TypeString,
				Description: `ARN of the RAM role to assume (assumed_role): acs:ram::<account>:role/<name>. Its trust
policy must let the engine's identity (see config) assume it.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role ARN"},
			},
			"inline_policies": {
				Type: framework.TypeString,
				Description: `JSON array of RAM policy documents (ram_user), each at most 6144 characters. They become
custom policies in RAM, created once for the role and attached to each user it creates.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Inline policies"},
			},
			"remote_policies": {
				Type: framework.TypeStringSlice,
				Description: `Existing RAM policies to attach to each user (ram_user), each as "name:<name>,type:<System|Custom>",
for example "name:AliyunOSSReadOnlyAccess,type:System".`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Remote policies"},
			},
			"ram_groups": {
				Type:         framework.TypeCommaStringSlice,
				Description:  "Existing RAM groups each user joins (ram_user).",
				DisplayAttrs: &framework.DisplayAttributes{Name: "RAM groups"},
			},
			"policy": {
				Type:         framework.TypeString,
				Description:  "Session policy (JSON, at most 2048 characters) that narrows the assumed role's permissions (assumed_role).",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Session policy"},
			},
			"external_id": {
				Type:         framework.TypeString,
				Description:  "External ID that the role's trust policy requires (assumed_role).",
				DisplayAttrs: &framework.DisplayAttributes{Name: "External ID"},
			},
			"allow_caller_session_name": {
				Type: framework.TypeBool,
				Description: `Let the caller of creds/ choose role_session_name, the name ActionTrail shows for the
session (assumed_role; default false: the role_session_name_template decides).`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Allow caller session name"},
			},
			"source_identity_template": {
				Type: framework.TypeString,
				Description: `Template of the SourceIdentity STS gives each session of this role (assumed_role), which ActionTrail
records for the session and every role it chains to. Fields: .DisplayName, .RoleName, .EntityID (the Vault entity of
the caller; "none" for tokens without one). The result must be 2-64 letters, digits and _ + = , . @ -, not starting
with acs:, aliyun: or alibabacloud:. Empty (the default): no SourceIdentity.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Source identity template"},
			},
			"allow_caller_source_identity": {
				Type: framework.TypeBool,
				Description: `Let the caller of creds/ choose source_identity (assumed_role; default false: the
source_identity_template decides).`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Allow caller source identity"},
			},
			"ttl": {
				Type: framework.TypeDurationSecond,
				Description: `Default lifetime. assumed_role: the STS session duration (900 to 43200 seconds; default 3600).
ram_user: the lease TTL (0: the mount's default).`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "TTL"},
			},
			"max_ttl": {
				Type: framework.TypeDurationSecond,
				Description: `Maximum lifetime. assumed_role: the largest ttl a request may ask (900 to 43200 seconds).
ram_user: the lease's maximum TTL across renewals (0: the mount's maximum).`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Max TTL"},
			},
			"username_template": {
				Type: framework.TypeString,
				Description: `Template of the RAM user names of this role (ram_user), overriding the config's.
Fields: .DisplayName, .RoleName. The result must be 1-64 letters, digits and . _ -.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Username template"},
			},
			"role_session_name_template": {
				Type: framework.TypeString,
				Description: `Template of the STS session names of this role (assumed_role). Fields: .DisplayName, .RoleName.
The result must be 2-64 letters, digits and . @ - _.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Role session name template"},
			},
		},
		ExistenceCheck: b.pathRoleExistenceCheck,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback:                    b.pathRoleWrite,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathRoleWrite,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathRoleRead},
			logical.DeleteOperation: &framework.PathOperation{
				Callback:                    b.pathRoleDelete,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
		},
		HelpSynopsis:    pathRoleHelpSyn,
		HelpDescription: pathRoleHelpDesc,
	}
}

func (b *backend) pathRoleExistenceCheck(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	role, err := readRole(ctx, req.Storage, d.Get("name").(string))
	if err != nil {
		return false, err
	}
	return role != nil, nil
}

func (b *backend) pathRoleList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, roleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	return logical.ListResponse(names), nil
}

func (b *backend) pathRoleRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	role, err := readRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return nil, nil
	}
	return &logical.Response{Data: roleResponseData(role)}, nil
}

// roleResponseData keeps HashiCorp's shapes for its fields (remote_policies
// as name/type objects, inline_policies as hash/policy_document objects, TTLs
// in seconds) and adds the new fields.
func roleResponseData(r *roleEntry) map[string]interface{} {
	remote := r.RemotePolicies
	if remote == nil {
		remote = []*remotePolicy{}
	}
	inline := r.InlinePolicies
	if inline == nil {
		inline = []*inlinePolicy{}
	}
	groups := r.RAMGroups
	if groups == nil {
		groups = []string{}
	}
	names := r.InlinePolicyNames
	if names == nil {
		names = []string{}
	}
	return map[string]interface{}{
		"credential_type":              r.credentialType(),
		"role_arn":                     r.RoleARN,
		"remote_policies":              remote,
		"inline_policies":              inline,
		"inline_policy_names":          names,
		"ram_groups":                   groups,
		"policy":                       r.Policy,
		"external_id":                  r.ExternalID,
		"ttl":                          int64(r.TTL / time.Second),
		"max_ttl":                      int64(r.MaxTTL / time.Second),
		"username_template":            r.UsernameTemplate,
		"role_session_name_template":   r.RoleSessionNameTemplate,
		"allow_caller_session_name":    r.AllowCallerSessionName,
		"source_identity_template":     r.SourceIdentityTemplate,
		"allow_caller_source_identity": r.AllowCallerSourceIdentity,
	}
}

// roleFieldsByType lists the type-specific fields each credential type takes.
var roleFieldsByType = map[string][]string{
	roleTypeAssumedRole: {"role_arn", "policy", "external_id", "role_session_name_template", "allow_caller_session_name",
		"source_identity_template", "allow_caller_source_identity"},
	roleTypeRAMUser: {"inline_policies", "remote_policies", "ram_groups", "username_template"},
}

// hashicorpRoleFields are the type-specific fields HashiCorp's plugin (and
// so the Terraform provider) knows. That plugin infers the type from them on
// every write: a role_arn makes an STS role, policies a RAM-user role, both
// are refused.
var hashicorpRoleFields = []string{"role_arn", "inline_policies", "remote_policies"}

// roleTypeOf decides the credential type a write of d gives a role, and
// which fields of the role's old type (existing; nil on create) the switch
// drops.
//
// The type is credential_type when given. Otherwise a new role is
// assumed_role when it has a role_arn, else ram_user; an existing role
// changes type when the write gives role_arn, as with HashiCorp's plugin:
// a non-empty one makes it assumed_role, an empty one ram_user. Leases
// carry their own type, so those of the old type still renew and revoke.
//
// On an explicit switch, the old type's fields the write does not give are
// dropped. On an inferred one, HashiCorp's fields must be cleared by the
// write itself (the Terraform provider always sends them; a plain
// "role_arn=..." on a ram_user role is refused as that plugin refuses it),
// and this engine's other fields of the old type are dropped.
func roleTypeOf(existing *roleEntry, d *framework.FieldData) (string, []string, error) {
	credType := ""
	if raw, ok := d.GetOk("credential_type"); ok {
		credType = raw.(string)
		if credType != roleTypeAssumedRole && credType != roleTypeRAMUser {
			return "", nil, inputErrorf("credential_type: must be %q or %q", roleTypeAssumedRole, roleTypeRAMUser)
		}
	}
	explicit := credType != ""
	arn, arnGiven := d.GetOk("role_arn")
	switch {
	case explicit:
	case arnGiven && strings.TrimSpace(arn.(string)) != "":
		credType = roleTypeAssumedRole
	case existing == nil, arnGiven:
		credType = roleTypeRAMUser
	default:
		credType = existing.credentialType()
	}
	if existing == nil || credType == existing.credentialType() {
		return credType, nil, nil
	}
	old := existing.credentialType()
	var dropped []string
	for _, f := range roleFieldsByType[old] {
		if !typeFieldAccess[f].set(existing) {
			continue
		}
		if _, given := d.GetOk(f); given {
			continue // refused below unless it clears the field
		}
		if !explicit && contains(hashicorpRoleFields, f) {
			return "", nil, inputErrorf("role_arn: makes the role %q, but its %s (of %q) are still set; clear them in the same write, or give credential_type=%s to switch the type and clear them",
				credType, f, old, credType)
		}
		dropped = append(dropped, f)
	}
	return credType, dropped, nil
}

// typeFieldAccess reads and clears the type-specific fields of a role.
var typeFieldAccess = map[string]struct {
	set   func(r *roleEntry) bool
	clear func(r *roleEntry)
}{
	"role_arn":                     {func(r *roleEntry) bool { return r.RoleARN != "" }, func(r *roleEntry) { r.RoleARN = "" }},
	"policy":                       {func(r *roleEntry) bool { return r.Policy != "" }, func(r *roleEntry) { r.Policy = "" }},
	"external_id":                  {func(r *roleEntry) bool { return r.ExternalID != "" }, func(r *roleEntry) { r.ExternalID = "" }},
	"role_session_name_template":   {func(r *roleEntry) bool { return r.RoleSessionNameTemplate != "" }, func(r *roleEntry) { r.RoleSessionNameTemplate = "" }},
	"allow_caller_session_name":    {func(r *roleEntry) bool { return r.AllowCallerSessionName }, func(r *roleEntry) { r.AllowCallerSessionName = false }},
	"source_identity_template":     {func(r *roleEntry) bool { return r.SourceIdentityTemplate != "" }, func(r *roleEntry) { r.SourceIdentityTemplate = "" }},
	"allow_caller_source_identity": {func(r *roleEntry) bool { return r.AllowCallerSourceIdentity }, func(r *roleEntry) { r.AllowCallerSourceIdentity = false }},
	"inline_policies":              {func(r *roleEntry) bool { return len(r.InlinePolicies) > 0 }, func(r *roleEntry) { r.InlinePolicies = nil }},
	"remote_policies":              {func(r *roleEntry) bool { return len(r.RemotePolicies) > 0 }, func(r *roleEntry) { r.RemotePolicies = nil }},
	"ram_groups":                   {func(r *roleEntry) bool { return len(r.RAMGroups) > 0 }, func(r *roleEntry) { r.RAMGroups = nil }},
	"username_template":            {func(r *roleEntry) bool { return r.UsernameTemplate != "" }, func(r *roleEntry) { r.UsernameTemplate = "" }},
}

func (b *backend) pathRoleWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if name == "" {
		return logical.ErrorResponse("name: required"), nil
	}
	lock := b.roleLock(name)
	lock.Lock()
	defer lock.Unlock()

	existing, err := readRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	role, warnings, err := b.applyRoleFields(existing, d)
	if err != nil {
		if ie, ok := err.(*inputError); ok {
			return logical.ErrorResponse(ie.msg), nil
		}
		return nil, err
	}

	var walIDs, unused []string
	if role.credentialType() == roleTypeRAMUser {
		client, err := b.getClient(ctx, req.Storage)
		if err != nil {
			if err == errNotConfigured {
				return logical.ErrorResponse("config: a ram_user role is checked against RAM when written; write alicloud/config first"), nil
			}
			return nil, err
		}
		if resp, err := b.checkRAMReferences(ctx, client, existing, role); resp != nil || err != nil {
			return resp, err
		}
		walIDs, unused, err = b.syncInlinePolicies(ctx, req.Storage, client, name, existing, role)
		if err != nil {
			if ie, ok := err.(*inputError); ok {
				return logical.ErrorResponse(ie.msg), nil
			}
			return nil, err
		}
	} else if existing != nil && len(existing.InlinePolicyNames) > 0 {
		// A ram_user role became assumed_role: its managed policies retire.
		unused = existing.InlinePolicyNames
		role.InlinePolicyNames = nil
	}

	retiring, err := b.walRetiring(ctx, req.Storage, name, unused)
	if err != nil {
		return nil, err
	}
	err = writeRole(ctx, req.Storage, name, role)
	b.rolesChanged()
	if err != nil {
		return nil, err
	}
	if b.crashed("role:stored") {
		return nil, errSimulatedCrash
	}
	b.deleteWALs(ctx, req.Storage, walIDs)
	if len(unused) > 0 {
		client, err := b.getClient(ctx, req.Storage)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, b.retirePolicies(ctx, req.Storage, client, name, unused)...)
	}
	b.deleteWALs(ctx, req.Storage, retiring)

	if len(warnings) == 0 {
		return nil, nil
	}
	resp := &logical.Response{}
	for _, w := range warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

// applyRoleFields returns the role a write of d makes of existing (nil on
// create), validated. Fields not in d keep their value.
func (b *backend) applyRoleFields(existing *roleEntry, d *framework.FieldData) (*roleEntry, []string, error) {
	role := &roleEntry{}
	if existing != nil {
		c := *existing
		role = &c
	}
	var warnings []string

	credType, dropped, err := roleTypeOf(existing, d)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range dropped {
		typeFieldAccess[f].clear(role)
	}
	if len(dropped) > 0 {
		warnings = append(warnings, fmt.Sprintf("the role is now of credential_type %q: %s of %q no longer apply and have been cleared",
			credType, strings.Join(dropped, ", "), existing.credentialType()))
	}

	// Fields of the other credential type are refused by name.
	for t, fields := range roleFieldsByType {
		if t == credType {
			continue
		}
		for _, f := range fields {
			if raw, ok := d.GetOk(f); ok && !emptyRoleValue(f, raw) {
				return nil, nil, inputErrorf("%s: does not apply to credential_type %q", f, credType)
			}
		}
	}

	// A role of HashiCorp's plugin had its STS ttl ignored; when it is
	// rewritten, such a leftover value is dropped rather than enforced.
	if existing != nil && existing.legacy() && credType == roleTypeAssumedRole {
		_, ttlGiven := d.GetOk("ttl")
		_, maxGiven := d.GetOk("max_ttl")
		if !ttlGiven && !maxGiven && (role.TTL != 0 || role.MaxTTL != 0) {
			role.TTL, role.MaxTTL = 0, 0
			warnings = append(warnings, "the ttl and max_ttl this role had under HashiCorp's plugin were ignored there for STS credentials and have been cleared; set them again to choose the STS session duration")
		}
	}
	role.CredentialType = credType

	if raw, ok := d.GetOk("role_arn"); ok {
		role.RoleARN = strings.TrimSpace(raw.(string))
	}
	if raw, ok := d.GetOk("policy"); ok {
		// Stored as STS is sent it: compacted, the form whose length is checked.
		role.Policy = compactSessionPolicy(strings.TrimSpace(raw.(string)))
	}
	if raw, ok := d.GetOk("external_id"); ok {
		role.ExternalID = strings.TrimSpace(raw.(string))
	}
	if raw, ok := d.GetOk("role_session_name_template"); ok {
		role.RoleSessionNameTemplate = raw.(string)
	}
	if raw, ok := d.GetOk("allow_caller_session_name"); ok {
		role.AllowCallerSessionName = raw.(bool)
	}
	if raw, ok := d.GetOk("source_identity_template"); ok {
		role.SourceIdentityTemplate = raw.(string)
	}
	if raw, ok := d.GetOk("allow_caller_source_identity"); ok {
		role.AllowCallerSourceIdentity = raw.(bool)
	}
	if raw, ok := d.GetOk("username_template"); ok {
		role.UsernameTemplate = raw.(string)
	}
	if raw, ok := d.GetOk("ram_groups"); ok {
		role.RAMGroups = dedupe(raw.([]string))
	}
	if raw, ok := d.GetOk("remote_policies"); ok {
		policies, err := parseRemotePolicies(raw.([]string))
		if err != nil {
			return nil, nil, err
		}
		role.RemotePolicies = policies
	}
	if raw, ok := d.GetOk("inline_policies"); ok {
		policies, err := parseInlinePolicies(raw.(string), existing)
		if err != nil {
			return nil, nil, err
		}
		role.InlinePolicies = policies
	}
	if raw, ok := d.GetOk("ttl"); ok {
		role.TTL = time.Duration(raw.(int)) * time.Second
	}
	if raw, ok := d.GetOk("max_ttl"); ok {
		role.MaxTTL = time.Duration(raw.(int)) * time.Second
	}

	if err := b.validateRole(role); err != nil {
		return nil, nil, err
	}
	if role.credentialType() == roleTypeRAMUser {
		if sysMax := b.System().MaxLeaseTTL(); sysMax > 0 && role.TTL > sysMax {
			warnings = append(warnings, fmt.Sprintf("ttl of %d seconds exceeds the mount's maximum lease TTL of %d seconds, which will be used instead", int64(role.TTL/time.Second), int64(sysMax/time.Second)))
		}
	} else if sysMax := b.System().MaxLeaseTTL(); sysMax > 0 && (role.TTL > sysMax || role.MaxTTL > sysMax) {
		warnings = append(warnings, fmt.Sprintf("ttl and max_ttl are capped at the mount's maximum lease TTL of %d seconds: STS credentials never outlive it", int64(sysMax/time.Second)))
	}
	return role, warnings, nil
}

// emptyRoleValue reports whether a given field clears rather than sets: an
// empty string or list, false, and for inline_policies an empty JSON array
// ("[]", which the Terraform provider sends for roles without documents).
func emptyRoleValue(field string, v interface{}) bool {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		if field == "inline_policies" {
			var docs []json.RawMessage
			if json.Unmarshal([]byte(x), &docs) == nil && len(docs) == 0 {
				return true
			}
		}
		return x == ""
	case []string:
		return len(x) == 0
	case bool:
		return !x
	}
	return false
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// parseRemotePolicies parses "name:<name>,type:<System|Custom>" entries.
func parseRemotePolicies(in []string) ([]*remotePolicy, error) {
	out := make([]*remotePolicy, 0, len(in))
	seen := map[remotePolicy]bool{}
	for i, s := range in {
		p := &remotePolicy{}
		keys := map[string]bool{}
		for _, pair := range strings.Split(s, ",") {
			kv := strings.SplitN(strings.TrimSpace(pair), ":", 2)
			if len(kv) != 2 {
				return nil, inputErrorf(`remote_policies[%d]: %q is not "name:<name>,type:<System|Custom>"`, i, s)
			}
			k := strings.TrimSpace(kv[0])
			if keys[k] {
				return nil, inputErrorf(`remote_policies[%d]: key %q given twice`, i, k)
			}
			keys[k] = true
			switch k {
			case "name":
				p.Name = strings.TrimSpace(kv[1])
			case "type":
				p.Type = strings.TrimSpace(kv[1])
			default:
				return nil, inputErrorf(`remote_policies[%d]: unknown key %q (use name and type)`, i, kv[0])
			}
		}
		if p.Name == "" {
			return nil, inputErrorf("remote_policies[%d]: policy name is required", i)
		}
		if !policyNameRegex.MatchString(p.Name) {
			return nil, inputErrorf("remote_policies[%d]: policy name %q must be 1-128 letters, digits and -", i, p.Name)
		}
		switch strings.ToLower(p.Type) {
		case "system":
			p.Type = aliyun.PolicyTypeSystem
		case "custom":
			p.Type = aliyun.PolicyTypeCustom
		case "":
			return nil, inputErrorf("remote_policies[%d]: policy type is required (System or Custom)", i)
		default:
			return nil, inputErrorf("remote_policies[%d]: policy type must be System or Custom, not %q", i, p.Type)
		}
		if seen[*p] {
			continue
		}
		seen[*p] = true
		out = append(out, p)
	}
	return out, nil
}

// parseInlinePolicies parses a JSON array of policy documents. A document
// identical to one of the existing role keeps its hash.
func parseInlinePolicies(raw string, existing *roleEntry) ([]*inlinePolicy, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	var docs []map[string]interface{}
	if err := json.Unmarshal([]byte(raw), &docs); err != nil {
		return nil, inputErrorf("inline_policies: must be a JSON array of policy documents: %s", jsonErrorText(err))
	}
	out := make([]*inlinePolicy, 0, len(docs))
	for i, doc := range docs {
		if doc == nil {
			return nil, inputErrorf("inline_policies[%d]: must be a JSON object", i)
		}
		if err := checkPolicyObject(doc, maxRAMPolicyLen); err != nil {
			return nil, inputErrorf("inline_policies[%d]: %s", i, err)
		}
		hash := ""
		if existing != nil && i < len(existing.InlinePolicies) && sameDocument(existing.InlinePolicies[i].PolicyDocument, doc) {
			hash = existing.InlinePolicies[i].UUID
		}
		if hash == "" {
			id, err := uuid.GenerateUUID()
			if err != nil {
				return nil, err
			}
			hash = strings.ReplaceAll(id, "-", "")
		}
		out = append(out, &inlinePolicy{UUID: hash, PolicyDocument: doc})
	}
	return out, nil
}

func compactDocument(doc map[string]interface{}) (string, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func sameDocument(a, b map[string]interface{}) bool {
	x, err1 := compactDocument(a)
	y, err2 := compactDocument(b)
	return err1 == nil && err2 == nil && x == y
}

func (b *backend) validateRole(r *roleEntry) error {
	if r.MaxTTL < 0 || r.TTL < 0 {
		return inputErrorf("ttl: must not be negative")
	}
	if r.MaxTTL > 0 && r.TTL > r.MaxTTL {
		return inputErrorf("ttl: %d seconds exceeds max_ttl of %d seconds", int64(r.TTL/time.Second), int64(r.MaxTTL/time.Second))
	}
	switch r.credentialType() {
	case roleTypeAssumedRole:
		if r.RoleARN == "" {
			return inputErrorf("role_arn: required for credential_type %q", roleTypeAssumedRole)
		}
		if !roleARNRegex.MatchString(r.RoleARN) {
			return inputErrorf("role_arn: must look like acs:ram::<account>:role/<name>")
		}
		if len(r.InlinePolicies) > 0 {
			return inputErrorf("inline_policies: must be blank when a role_arn is present (use policy for a session policy)")
		}
		if len(r.RemotePolicies) > 0 {
			return inputErrorf("remote_policies: must be blank when a role_arn is present")
		}
		if r.Policy != "" {
			if err := validatePolicyDocument(r.Policy, maxSessionPolicyLen); err != nil {
				return inputErrorf("policy: %s", err)
			}
		}
		if r.ExternalID != "" && !validExternalID(r.ExternalID) {
			return inputErrorf("external_id: must be 2-1224 characters: letters, digits and _ + = , . @ : / -")
		}
		if !r.legacy() {
			for _, f := range []struct {
				name string
				v    time.Duration
			}{{"ttl", r.TTL}, {"max_ttl", r.MaxTTL}} {
				s := int64(f.v / time.Second)
				if s != 0 && (s < minSTSDuration || s > maxSTSDuration) {
					return inputErrorf("%s: must be between %d and %d seconds for credential_type %q", f.name, minSTSDuration, maxSTSDuration, roleTypeAssumedRole)
				}
			}
		}
		if err := b.validateSessionNameTemplate("role_session_name_template", r.RoleSessionNameTemplate); err != nil {
			return &inputError{msg: err.Error()}
		}
		if err := b.validateSourceIdentityTemplate("source_identity_template", r.SourceIdentityTemplate); err != nil {
			return &inputError{msg: err.Error()}
		}
	case roleTypeRAMUser:
		if r.RoleARN != "" {
			return inputErrorf("role_arn: does not apply to credential_type %q", roleTypeRAMUser)
		}
		if len(r.InlinePolicies)+len(r.RemotePolicies)+len(r.RAMGroups) == 0 {
			return inputErrorf("inline_policies: a ram_user role needs at least one of inline_policies, remote_policies or ram_groups")
		}
		if len(r.InlinePolicies) > maxInlinePolicies {
			return inputErrorf("inline_policies: at most %d documents (RAM attaches at most 10 custom policies to a user)", maxInlinePolicies)
		}
		if err := checkRAMAttachmentCounts(r); err != nil {
			return err
		}
		for _, g := range r.RAMGroups {
			if !ramGroupNameRegex.MatchString(g) {
				return inputErrorf("ram_groups: %q is not a valid group name (1-64 letters, digits and . _ -)", g)
			}
		}
		if err := b.validateUsernameTemplate("username_template", r.UsernameTemplate); err != nil {
			return &inputError{msg: err.Error()}
		}
	}
	return nil
}

// maxInlinePolicies bounds the documents of a role: RAM attaches at most ten
// custom policies to a user.
const maxInlinePolicies = 10

// checkRAMReferences makes sure the remote policies and groups a ram_user
// role names exist, so a typo fails at "vault write", not at the first issue.
// Only names new to the role are looked up.
func (b *backend) checkRAMReferences(ctx context.Context, c *engineClient, existing, role *roleEntry) (*logical.Response, error) {
	known := map[remotePolicy]bool{}
	knownGroups := map[string]bool{}
	if existing != nil {
		for _, p := range existing.RemotePolicies {
			known[*p] = true
		}
		for _, g := range existing.RAMGroups {
			knownGroups[g] = true
		}
	}
	for _, p := range role.RemotePolicies {
		if known[*p] {
			continue
		}
		if _, err := c.api.GetPolicy(ctx, p.Type, p.Name); err != nil {
			if aliyun.IsEntityNotExist(err) {
				return logical.ErrorResponse("remote_policies: policy %q of type %s does not exist in RAM", p.Name, p.Type), nil
			}
			return nil, upstreamErr(fmt.Sprintf("checking remote policy %q", p.Name), err)
		}
	}
	for _, g := range role.RAMGroups {
		if knownGroups[g] {
			continue
		}
		if _, err := c.api.GetGroup(ctx, g); err != nil {
			if aliyun.IsEntityNotExist(err) {
				return logical.ErrorResponse("ram_groups: group %q does not exist in RAM", g), nil
			}
			return nil, upstreamErr(fmt.Sprintf("checking RAM group %q", g), err)
		}
	}
	return nil, nil
}

func (b *backend) pathRoleDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	lock := b.roleLock(name)
	lock.Lock()
	defer lock.Unlock()

	role, err := readRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if role == nil {
		return nil, nil
	}
	// A crash between the delete and the policies' retirement leaves the
	// retirement to the rollback.
	retiring, err := b.walRetiring(ctx, req.Storage, name, role.InlinePolicyNames)
	if err != nil {
		return nil, err
	}
	err = req.Storage.Delete(ctx, roleStoragePrefix+name)
	b.rolesChanged()
	if err != nil {
		return nil, fmt.Errorf("deleting role %q: %w", name, err)
	}
	if b.crashed("role:deleted") {
		return nil, errSimulatedCrash
	}
	defer b.deleteWALs(ctx, req.Storage, retiring)
	if len(role.InlinePolicyNames) == 0 {
		return nil, nil
	}
	var warnings []string
	client, err := b.getClient(ctx, req.Storage)
	if err != nil {
		// Without a client the policies wait for the garbage collection.
		for _, p := range role.InlinePolicyNames {
			if err := b.markPolicyForGC(ctx, req.Storage, p, name); err != nil {
				return nil, err
			}
		}
		warnings = append(warnings, fmt.Sprintf("the role's custom policies (%s) will be removed by the periodic clean-up: %v", strings.Join(role.InlinePolicyNames, ", "), err))
	} else {
		warnings = b.retirePolicies(ctx, req.Storage, client, name, role.InlinePolicyNames)
	}
	resp := &logical.Response{}
	for _, w := range warnings {
		resp.AddWarning(w)
	}
	if len(resp.Warnings) == 0 {
		return nil, nil
	}
	return resp, nil
}

const pathListRolesHelpSyn = "List the roles of this engine."

const pathListRolesHelpDesc = "Roles are listed by name (lowercased)."

const pathRoleHelpSyn = "Manage the roles that credentials are issued for."

const pathRoleHelpDesc = `
A role says what "creds/<name>" returns. Names are lowercased.

credential_type "assumed_role" (the default when role_arn is given): STS
AssumeRole into role_arn, optionally narrowed by a session policy ("policy")
and with an external_id. ttl is the session duration (900 to 43200 seconds,
default 3600; the RAM role's maximum session duration also applies), max_ttl
the largest a request may ask. role_session_name_template names sessions.

credential_type "ram_user" (the default otherwise): each read creates a RAM
user, attaches the role's policies, adds it to ram_groups and returns a new
AccessKey; the user and everything attached to it is removed when the lease
ends. inline_policies (a JSON array of policy documents) become custom
policies in RAM once per role (named vault-<mount>-<role>-<n>): a role write
creates them, or adds a policy version when a document changes, so RAM
checks the documents at "vault write". They are deleted when the role is
deleted and no user holds them any more. remote_policies attach existing
policies ("name:<name>,type:<System|Custom>"). ttl and max_ttl bound the
lease. username_template names users.

Writes are partial updates: fields left out keep their value, and fields of
the other type are refused. A write that changes credential_type, or gives a
role_arn that implies the other type (as HashiCorp's plugin and the
Terraform provider do), switches the role's type: the old type's fields are
cleared, its managed policies are retired once no lease uses them, and
leases issued before keep renewing and revoking. Roles written by
HashiCorp's plugin are read as they are.
`
