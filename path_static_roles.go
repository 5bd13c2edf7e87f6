package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func pathListStaticRoles(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "static-role/?$",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "list",
			OperationSuffix: "static-roles",
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ListOperation: &framework.PathOperation{Callback: b.pathStaticRoleList},
		},
		HelpSynopsis:    pathListStaticRolesHelpSyn,
		HelpDescription: pathListStaticRolesHelpDesc,
	}
}

func pathStaticRole(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "static-role/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationSuffix: "static-role",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {
				Type:        framework.TypeLowerCaseString,
				Description: "Name of the static role (stored lowercased).",
				Required:    true,
			},
			"username": {
				Type: framework.TypeString,
				Description: `Existing RAM user whose AccessKeys Vault owns and rotates (checked when the role is created).
Cannot be changed.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "RAM user name"},
			},
			"rotation_period": {
				Type:         framework.TypeDurationSecond,
				Description:  "How often the AccessKey is rotated (at least one minute). Required on create.",
				DisplayAttrs: &framework.DisplayAttributes{Name: "Rotation period"},
			},
			"grace_period": {
				Type: framework.TypeDurationSecond,
				Description: `How long the previous AccessKey stays active after a rotation before Vault deletes it; less than
rotation_period (0 deletes it at once). Default: one hour, or half the rotation_period when that is shorter.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Grace period"},
			},
			"take_over_keys": {
				Type: framework.TypeBool,
				Description: `On create only: when the RAM user already has two AccessKeys, let Vault delete one (an inactive
key first, else the oldest) and keep the other as the previous key until the grace period ends.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Take over existing keys"},
			},
			"delete_keys": {
				Type: framework.TypeBool,
				Description: `On delete only: also delete the role's AccessKeys in RAM. By default the current key stays
active, so applications keep working.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Delete keys"},
			},
		},
		ExistenceCheck: b.pathStaticRoleExistenceCheck,
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.CreateOperation: &framework.PathOperation{
				Callback:                    b.pathStaticRoleWrite,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathStaticRoleWrite,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathStaticRoleRead},
			logical.DeleteOperation: &framework.PathOperation{
				Callback:                    b.pathStaticRoleDelete,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
		},
		HelpSynopsis:    pathStaticRoleHelpSyn,
		HelpDescription: pathStaticRoleHelpDesc,
	}
}

func pathStaticRoleRotate(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "static-role/" + framework.GenericNameRegex("name") + "/rotate",
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "rotate",
			OperationSuffix: "static-role",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {
				Type:        framework.TypeLowerCaseString,
				Description: "Name of the static role.",
				Required:    true,
			},
			"take_over_keys": {
				Type: framework.TypeBool,
				Description: `Let the rotation delete AccessKeys of the RAM user that are neither the role's current nor its
previous key (added outside Vault); without it such keys make the rotation fail.`,
				DisplayAttrs: &framework.DisplayAttributes{Name: "Take over existing keys"},
			},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.UpdateOperation: &framework.PathOperation{
				Callback:                    b.pathStaticRoleRotate,
				ForwardPerformanceStandby:   true,
				ForwardPerformanceSecondary: true,
			},
		},
		HelpSynopsis:    pathStaticRoleRotateHelpSyn,
		HelpDescription: pathStaticRoleRotateHelpDesc,
	}
}

func pathStaticCreds(b *backend) *framework.Path {
	return &framework.Path{
		Pattern: "static-creds/" + framework.GenericNameRegex("name"),
		DisplayAttrs: &framework.DisplayAttributes{
			OperationPrefix: operationPrefixAliCloud,
			OperationVerb:   "read",
			OperationSuffix: "static-credentials",
		},
		Fields: map[string]*framework.FieldSchema{
			"name": {
				Type:        framework.TypeLowerCaseString,
				Description: "Name of the static role.",
				Required:    true,
			},
		},
		Operations: map[logical.Operation]framework.OperationHandler{
			logical.ReadOperation: &framework.PathOperation{Callback: b.pathStaticCredsRead},
		},
		HelpSynopsis:    pathStaticCredsHelpSyn,
		HelpDescription: pathStaticCredsHelpDesc,
	}
}

func (b *backend) pathStaticRoleExistenceCheck(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	e, err := readStaticRole(ctx, req.Storage, d.Get("name").(string))
	if err != nil {
		return false, err
	}
	return e != nil, nil
}

func (b *backend) pathStaticRoleList(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	names, err := req.Storage.List(ctx, staticRoleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing static roles: %w", err)
	}
	return logical.ListResponse(names), nil
}

// formatTime renders a time for responses; the zero time is "".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// staticRoleResponseData describes a static role and its schedule, without
// the secret.
func staticRoleResponseData(e *staticRoleEntry) map[string]interface{} {
	return map[string]interface{}{
		"username":             e.Username,
		"rotation_period":      e.RotationPeriod,
		"grace_period":         e.GracePeriod,
		"access_key":           e.AccessKeyID,
		"last_rotated":         formatTime(e.LastRotated),
		"next_rotation":        formatTime(e.NextRotation),
		"previous_access_key":  e.PreviousAccessKeyID,
		"previous_key_expires": formatTime(e.PreviousExpires),
		"last_error":           e.LastError,
		"last_error_time":      formatTime(e.LastErrorTime),
		"failed_attempts":      e.FailedAttempts,
		"next_attempt":         formatTime(e.NextAttempt),
	}
}

func (b *backend) pathStaticRoleRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := readStaticRole(ctx, req.Storage, d.Get("name").(string))
	if err != nil || e == nil {
		return nil, err
	}
	return &logical.Response{Data: staticRoleResponseData(e)}, nil
}

// staticPeriods returns the rotation and grace periods (seconds) a write of
// d gives existing (nil on create), validated.
func staticPeriods(existing *staticRoleEntry, d *framework.FieldData) (period, grace int64, err error) {
	rawPeriod, periodGiven := d.GetOk("rotation_period")
	rawGrace, graceGiven := d.GetOk("grace_period")
	switch {
	case periodGiven:
		period = int64(rawPeriod.(int))
	case existing != nil:
		period = existing.RotationPeriod
	default:
		return 0, 0, inputErrorf("rotation_period: required (at least %d seconds)", int64(minStaticRotationPeriod/time.Second))
	}
	if period < int64(minStaticRotationPeriod/time.Second) {
		return 0, 0, inputErrorf("rotation_period: must be at least %d seconds", int64(minStaticRotationPeriod/time.Second))
	}
	switch {
	case graceGiven:
		grace = int64(rawGrace.(int))
		if grace < 0 {
			return 0, 0, inputErrorf("grace_period: must not be negative")
		}
	case existing != nil:
		grace = existing.GracePeriod
	default:
		grace = int64(defaultStaticGracePeriod / time.Second)
		if half := period / 2; half < grace {
			grace = half
		}
	}
	if grace >= period {
		return 0, 0, inputErrorf("grace_period: must be less than rotation_period (%d seconds), so the previous key is gone before the next rotation; it is %d seconds", period, grace)
	}
	return period, grace, nil
}

func (b *backend) pathStaticRoleWrite(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	if name == "" {
		return logical.ErrorResponse("name: required"), nil
	}
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()

	existing, err := readStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if v, ok := d.GetOk("delete_keys"); ok && v.(bool) {
		return logical.ErrorResponse("delete_keys: applies only to delete"), nil
	}
	period, grace, err := staticPeriods(existing, d)
	if err != nil {
		return inputErrorResponse(err)
	}
	if existing == nil {
		return b.createStaticRole(ctx, req.Storage, name, d, period, grace)
	}

	if raw, ok := d.GetOk("username"); ok && !strings.EqualFold(strings.TrimSpace(raw.(string)), existing.Username) {
		return logical.ErrorResponse("username: cannot be changed (the role manages RAM user %q); delete the role and create a new one", existing.Username), nil
	}
	if v, ok := d.GetOk("take_over_keys"); ok && v.(bool) {
		return logical.ErrorResponse("take_over_keys: applies only when the role is created; to take over keys added since, use static-role/%s/rotate with take_over_keys=true", name), nil
	}
	e := *existing
	var warnings []string
	if period != e.RotationPeriod {
		// The new period counts from the last rotation and applies at once:
		// a key already older than it is rotated by the next periodic run.
		e.RotationPeriod = period
		e.NextRotation = e.LastRotated.Add(e.rotationPeriod())
		if !e.NextRotation.After(b.now()) {
			warnings = append(warnings, fmt.Sprintf("the current key is older than the new rotation_period; it is rotated at the next periodic run (about a minute), or now with static-role/%s/rotate", name))
		}
	}
	if grace != e.GracePeriod {
		e.GracePeriod = grace
		if e.PreviousAccessKeyID != "" {
			e.PreviousExpires = e.LastRotated.Add(e.gracePeriod())
		}
	}
	if err := b.writeStaticRole(ctx, req.Storage, name, &e); err != nil {
		return nil, err
	}
	resp := &logical.Response{Data: staticRoleResponseData(&e)}
	for _, w := range warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

// inputErrorResponse turns an *inputError into a 400 response and passes
// other errors on.
func inputErrorResponse(err error) (*logical.Response, error) {
	var ie *inputError
	if errors.As(err, &ie) {
		return logical.ErrorResponse(ie.msg), nil
	}
	return nil, err
}

// createStaticRole checks the user, makes room under the ownership rules,
// creates the role's first key and stores the role. The caller holds the
// role's lock.
func (b *backend) createStaticRole(ctx context.Context, s logical.Storage, name string, d *framework.FieldData, period, grace int64) (*logical.Response, error) {
	username := strings.TrimSpace(d.Get("username").(string))
	switch {
	case username == "":
		return logical.ErrorResponse("username: required (an existing RAM user)"), nil
	case !ramUserNameRegex.MatchString(username):
		return logical.ErrorResponse("username: must be a RAM user name (1-64 letters, digits and . _ -)"), nil
	}
	c, err := b.getClient(ctx, s)
	if err != nil {
		if errors.Is(err, errNotConfigured) {
			return logical.ErrorResponse("config: a static role is checked against RAM when created; write alicloud/config first"), nil
		}
		return nil, err
	}
	id, err := c.api.GetCallerIdentity(ctx)
	if err != nil {
		return nil, upstreamErr("checking the engine's identity", err)
	}
	if id.IdentityType == aliyun.IdentityRAMUser && strings.EqualFold(ramUserFromARN(id.Arn), username) {
		return logical.ErrorResponse("username: %q is the engine's own RAM user; rotate its key with config/rotate-root instead", username), nil
	}
	user, err := c.api.GetUser(ctx, username)
	if err != nil {
		if aliyun.IsEntityNotExist(err) {
			return logical.ErrorResponse("username: RAM user %q does not exist", username), nil
		}
		return nil, upstreamErr("checking RAM user "+username, err)
	}
	username = user.UserName
	// From the ownership check to the store, no other static role may be
	// created for this user.
	userLock := b.staticUserLock(username)
	userLock.Lock()
	defer userLock.Unlock()
	others, err := s.List(ctx, staticRoleStoragePrefix)
	if err != nil {
		return nil, fmt.Errorf("listing static roles: %w", err)
	}
	for _, other := range others {
		if other == name {
			continue
		}
		o, err := readStaticRole(ctx, s, other)
		if err != nil {
			return nil, err
		}
		if o != nil && strings.EqualFold(o.Username, username) {
			return logical.ErrorResponse("username: RAM user %q is already managed by static role %q; two roles cannot own the same keys", username, other), nil
		}
	}

	keys, err := c.api.ListAccessKeys(ctx, username)
	if err != nil {
		return nil, upstreamErr("listing the AccessKeys of RAM user "+username, err)
	}
	takeOverOrder(keys)
	var deleted []string
	if len(keys) >= 2 {
		if !d.Get("take_over_keys").(bool) {
			return logical.ErrorResponse("take_over_keys: RAM user %q already has two AccessKeys (%s), the most RAM allows, so Vault has no room for its own; "+
				"delete one, or create the role with take_over_keys=true to let Vault delete %s now and keep %s as the previous key until the grace period ends",
				username, strings.Join(keyIDs(keys), ", "), strings.Join(keyIDs(keys[:len(keys)-1]), ", "), keys[len(keys)-1].AccessKeyID), nil
		}
		for len(keys) >= 2 {
			if err := c.api.DeleteAccessKey(ctx, username, keys[0].AccessKeyID); err != nil && !aliyun.IsEntityNotExist(err) {
				return nil, upstreamErr(fmt.Sprintf("deleting AccessKey %s of RAM user %s (take_over_keys)", keys[0].AccessKeyID, username), err)
			}
			b.Logger().Info("static role took over a RAM user's keys and deleted one", "role", name, "user", username, "access_key_id", keys[0].AccessKeyID)
			deleted = append(deleted, keys[0].AccessKeyID)
			keys = keys[1:]
		}
	}
	keep := keyIDs(keys)
	key, walID, err := b.newStaticKey(ctx, s, c, name, username, keep)
	if err != nil {
		return nil, err
	}
	now := b.now()
	e := &staticRoleEntry{
		Username:       username,
		RotationPeriod: period,
		GracePeriod:    grace,
		AccessKeyID:    key.AccessKeyID,
		SecretKey:      key.AccessKeySecret,
		LastRotated:    now,
		NextRotation:   now.Add(time.Duration(period) * time.Second),
	}
	var warnings []string
	if len(deleted) > 0 {
		warnings = append(warnings, fmt.Sprintf("take_over_keys: deleted AccessKey %s of RAM user %s to make room", strings.Join(deleted, ", "), username))
	}
	if len(keep) == 1 {
		e.PreviousAccessKeyID, e.PreviousExpires = keep[0], now.Add(e.gracePeriod())
		warnings = append(warnings, fmt.Sprintf("RAM user %s already had AccessKey %s; Vault now owns it as the previous key and deletes it when the grace period ends (%s)",
			username, keep[0], formatTime(e.PreviousExpires)))
	}
	if err := b.writeStaticRole(ctx, s, name, e); err != nil {
		return nil, err
	}
	if b.crashed("static:store") {
		return nil, errSimulatedCrash
	}
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.Logger().Warn("removing the WAL entry of a static role creation failed; the rollback will find nothing to do", "role", name, "error", err)
	}
	b.Logger().Info("created a static role", "role", name, "user", username, "access_key_id", e.AccessKeyID, "next_rotation", e.NextRotation)
	if e.PreviousAccessKeyID != "" && grace == 0 {
		if err := b.retireStaticPrevious(ctx, s, c, name, e); err != nil {
			warnings = append(warnings, fmt.Sprintf("deleting the previous AccessKey %s failed and will be retried: %v", e.PreviousAccessKeyID, err))
		}
	}
	resp := &logical.Response{Data: staticRoleResponseData(e)}
	for _, w := range warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

func (b *backend) pathStaticRoleDelete(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()

	e, err := readStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, nil
	}
	deleteKeys := d.Get("delete_keys").(bool)
	var deleted, kept, warnings []string
	c, cerr := b.getClient(ctx, req.Storage)
	if deleteKeys {
		if cerr != nil {
			return nil, fmt.Errorf("delete_keys needs the engine's client: %w", cerr)
		}
		for _, id := range []string{e.PreviousAccessKeyID, e.AccessKeyID} {
			if id == "" {
				continue
			}
			if err := c.api.DeleteAccessKey(ctx, e.Username, id); err != nil && !aliyun.IsEntityNotExist(err) {
				// Nothing is forgotten: the role stays, and the delete can be retried.
				return nil, upstreamErr(fmt.Sprintf("deleting AccessKey %s of RAM user %s (the role is kept)", id, e.Username), err)
			}
			deleted = append(deleted, id)
		}
	} else {
		kept = append(kept, e.AccessKeyID)
		if e.PreviousAccessKeyID != "" {
			// The previous key was already superseded; with the role gone
			// nobody would delete it when its grace period ends.
			err := cerr
			if err == nil {
				err = c.api.DeleteAccessKey(ctx, e.Username, e.PreviousAccessKeyID)
			}
			switch {
			case err == nil || aliyun.IsEntityNotExist(err):
				deleted = append(deleted, e.PreviousAccessKeyID)
				if b.now().Before(e.PreviousExpires) {
					warnings = append(warnings, fmt.Sprintf("the previous AccessKey %s was deleted before its grace period ended (%s)", e.PreviousAccessKeyID, formatTime(e.PreviousExpires)))
				}
			default:
				kept = append(kept, e.PreviousAccessKeyID)
				warnings = append(warnings, fmt.Sprintf("deleting the previous AccessKey %s failed, so it stays in RAM and Vault no longer manages it: %v", e.PreviousAccessKeyID, err))
			}
		}
		warnings = append(warnings, fmt.Sprintf("the current AccessKey %s of RAM user %s stays active, so applications keep working; Vault no longer rotates it. "+
			"Delete the role with delete_keys=true to delete its keys too", e.AccessKeyID, e.Username))
	}
	if err := req.Storage.Delete(ctx, staticRoleStoragePrefix+name); err != nil {
		return nil, fmt.Errorf("deleting static role %q: %w", name, err)
	}
	b.static.forget(name)
	b.Logger().Info("deleted a static role", "role", name, "user", e.Username, "deleted_access_keys", deleted, "kept_access_keys", kept)
	if deleted == nil {
		deleted = []string{}
	}
	if kept == nil {
		kept = []string{}
	}
	resp := &logical.Response{Data: map[string]interface{}{
		"username":            e.Username,
		"deleted_access_keys": deleted,
		"kept_access_keys":    kept,
	}}
	for _, w := range warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

func (b *backend) pathStaticRoleRotate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	lock := b.staticLock(name)
	lock.Lock()
	defer lock.Unlock()

	e, err := readStaticRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return logical.ErrorResponse("static role %q does not exist", name), nil
	}
	c, err := b.getClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	res, err := b.rotateStaticRole(ctx, req.Storage, c, name, e, staticRotateOptions{takeOver: d.Get("take_over_keys").(bool)})
	if err != nil {
		return inputErrorResponse(err)
	}
	deleted := res.Deleted
	if deleted == nil {
		deleted = []string{}
	}
	data := staticRoleResponseData(e)
	data["deleted_access_keys"] = deleted
	resp := &logical.Response{Data: data}
	for _, w := range res.Warnings {
		resp.AddWarning(w)
	}
	return resp, nil
}

func (b *backend) pathStaticCredsRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	name := d.Get("name").(string)
	// No lock: storage always holds a working current key (see staticLock).
	e, err := readStaticRole(ctx, req.Storage, name)
	if err != nil || e == nil {
		return nil, err
	}
	ttl := e.NextRotation.Sub(b.now())
	if ttl < 0 {
		ttl = 0
	}
	data := staticRoleResponseData(e)
	data["secret_key"] = e.SecretKey
	data["ttl"] = int64(ttl / time.Second)
	return &logical.Response{Data: data}, nil
}

const pathListStaticRolesHelpSyn = "List the static roles of this engine."

const pathListStaticRolesHelpDesc = "Static roles are listed by name (lowercased)."

const pathStaticRoleHelpSyn = "Manage static roles: existing RAM users whose AccessKey Vault owns and rotates."

const pathStaticRoleHelpDesc = `
A static role hands out the AccessKey of one existing RAM user (username)
through "static-creds/<name>" and rotates it every rotation_period (at least
one minute), keeping the replaced key active for grace_period (default one
hour, or half the rotation_period when that is shorter; it must be less than
rotation_period) so that applications never hold a dead key.

Ownership rules:
  - On create Vault checks that the user exists and creates a new AccessKey
    for it. RAM allows two keys per user. If the user already has one key,
    Vault takes it over as the previous key and deletes it when the grace
    period ends (the response says so). If it already has two, the create
    fails and names them, unless take_over_keys=true: Vault then deletes one
    of them (an inactive key first, else the oldest) and keeps the other as
    the previous key.
  - From then on Vault owns the user's keys. A rotation creates the new key,
    makes it current, keeps the old one as previous until the grace period
    ends, then deletes it. The user holds two keys only during the grace
    period, so a rotation always has room.
  - A key added outside Vault makes rotations fail (the error names it and is
    shown as last_error) until it is deleted or a rotation runs with
    take_over_keys=true.
  - One static role per RAM user; the engine's own user cannot be one.

The schedule is kept in storage: it survives restarts and leader changes.
Changing rotation_period applies at once, counted from the last rotation.
A failed scheduled rotation is retried with backoff (1, 2, 4 ... minutes, at
most an hour) and reported as last_error. Rotations run only where Vault may
write (the active node, not a performance standby or secondary).

Deleting a static role keeps the current key in RAM (applications keep
working) and deletes the previous one; delete_keys=true deletes both. The
response lists what was kept and deleted. username cannot be changed.
`

const pathStaticRoleRotateHelpSyn = "Rotate a static role's AccessKey now."

const pathStaticRoleRotateHelpDesc = `
Creates a new AccessKey for the role's RAM user and makes it current; the
replaced key stays active for the grace period. If a previous key is still in
its grace period, it is deleted first to make room (the response warns). Keys
of the user that Vault does not know make the rotation fail unless
take_over_keys=true. The next scheduled rotation is one rotation_period from
now. The new secret is read from static-creds/<name>.
`

const pathStaticCredsHelpSyn = "Read the current AccessKey of a static role."

const pathStaticCredsHelpDesc = `
Returns access_key and secret_key, the current key of the role's RAM user,
with last_rotated, next_rotation and ttl (seconds until the next rotation),
and the previous key's id (previous_access_key) with the time it is deleted
(previous_key_expires); the previous key stays valid until then. A read
during a rotation returns a key that works: the new key is stored only once
STS accepts it, and the old one stays valid through its grace period.
last_error shows why the last scheduled rotation failed, if it did.
`
