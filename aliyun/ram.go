package aliyun

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Policy types.
const (
	PolicyTypeSystem = "System"
	PolicyTypeCustom = "Custom"
)

// AccessKey statuses.
const (
	AccessKeyActive   = "Active"
	AccessKeyInactive = "Inactive"
)

// User is a RAM user.
type User struct {
	UserID        string
	UserName      string
	DisplayName   string
	Comments      string
	CreateDate    time.Time
	UpdateDate    time.Time
	LastLoginDate time.Time
}

type userJSON struct {
	UserID        string `json:"UserId"`
	UserName      string `json:"UserName"`
	DisplayName   string `json:"DisplayName"`
	Comments      string `json:"Comments"`
	CreateDate    string `json:"CreateDate"`
	UpdateDate    string `json:"UpdateDate"`
	LastLoginDate string `json:"LastLoginDate"`
}

func (j userJSON) user() User {
	return User{
		UserID: j.UserID, UserName: j.UserName, DisplayName: j.DisplayName, Comments: j.Comments,
		CreateDate: optTime(j.CreateDate), UpdateDate: optTime(j.UpdateDate), LastLoginDate: optTime(j.LastLoginDate),
	}
}

// optTime parses a timestamp the service may leave empty; an unparsable value
// gives the zero time, as these dates are informational.
func optTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (c *Client) ram(ctx context.Context, action string, p url.Values, out any) error {
	return c.Do(ctx, &Request{Product: RAM, Version: RAMVersion, Action: action, Params: p}, out)
}

// create sends a RAM call that creates something: it is not retried after a
// failure that may have been carried out (Request.Creates).
func (c *Client) create(ctx context.Context, action string, p url.Values, out any) error {
	return c.Do(ctx, &Request{Product: RAM, Version: RAMVersion, Action: action, Params: p, Creates: true}, out)
}

func params(kv ...string) url.Values {
	p := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			p.Set(kv[i], kv[i+1])
		}
	}
	return p
}

// CreateUserInput are the parameters of CreateUser.
type CreateUserInput struct {
	UserName    string
	DisplayName string
	Comments    string
}

// CreateUser creates a RAM user.
func (c *Client) CreateUser(ctx context.Context, in CreateUserInput) (*User, error) {
	var out struct {
		User userJSON `json:"User"`
	}
	p := params("UserName", in.UserName, "DisplayName", in.DisplayName, "Comments", in.Comments)
	if err := c.create(ctx, "CreateUser", p, &out); err != nil {
		return nil, err
	}
	u := out.User.user()
	return &u, nil
}

// GetUser returns a RAM user.
func (c *Client) GetUser(ctx context.Context, userName string) (*User, error) {
	var out struct {
		User userJSON `json:"User"`
	}
	if err := c.ram(ctx, "GetUser", params("UserName", userName), &out); err != nil {
		return nil, err
	}
	u := out.User.user()
	return &u, nil
}

// DeleteUser deletes a RAM user. The service refuses while the user still has
// AccessKeys, attached policies or group memberships (DeleteConflict.User.*).
func (c *Client) DeleteUser(ctx context.Context, userName string) error {
	return c.ram(ctx, "DeleteUser", params("UserName", userName), nil)
}

// ListUsers returns every RAM user of the account, following pagination.
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	marker := ""
	for {
		var out struct {
			IsTruncated bool   `json:"IsTruncated"`
			Marker      string `json:"Marker"`
			Users       struct {
				User []userJSON `json:"User"`
			} `json:"Users"`
		}
		if err := c.ram(ctx, "ListUsers", params("Marker", marker, "MaxItems", "1000"), &out); err != nil {
			return nil, err
		}
		for _, u := range out.Users.User {
			users = append(users, u.user())
		}
		if !out.IsTruncated || out.Marker == "" {
			return users, nil
		}
		marker = out.Marker
	}
}

// AccessKey is a RAM user's AccessKey. Secret is set only by CreateAccessKey.
type AccessKey struct {
	AccessKeyID     string
	AccessKeySecret string
	Status          string
	CreateDate      time.Time
}

type accessKeyJSON struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	Status          string `json:"Status"`
	CreateDate      string `json:"CreateDate"`
}

func (j accessKeyJSON) key() AccessKey {
	return AccessKey{AccessKeyID: j.AccessKeyID, AccessKeySecret: j.AccessKeySecret, Status: j.Status, CreateDate: optTime(j.CreateDate)}
}

// CreateAccessKey creates an AccessKey for a RAM user (the caller's own user
// when userName is empty). A user holds at most two keys
// (LimitExceeded.User.AccessKey).
func (c *Client) CreateAccessKey(ctx context.Context, userName string) (*AccessKey, error) {
	var out struct {
		AccessKey accessKeyJSON `json:"AccessKey"`
	}
	if err := c.create(ctx, "CreateAccessKey", params("UserName", userName), &out); err != nil {
		return nil, err
	}
	k := out.AccessKey.key()
	return &k, nil
}

// DeleteAccessKey deletes a RAM user's AccessKey (of the caller's own user
// when userName is empty).
func (c *Client) DeleteAccessKey(ctx context.Context, userName, accessKeyID string) error {
	return c.ram(ctx, "DeleteAccessKey", params("UserName", userName, "UserAccessKeyId", accessKeyID), nil)
}

// UpdateAccessKey sets a key's status to AccessKeyActive or AccessKeyInactive.
func (c *Client) UpdateAccessKey(ctx context.Context, userName, accessKeyID, status string) error {
	return c.ram(ctx, "UpdateAccessKey", params("UserName", userName, "UserAccessKeyId", accessKeyID, "Status", status), nil)
}

// ListAccessKeys returns a user's AccessKeys without secrets (the caller's
// own user's when userName is empty).
func (c *Client) ListAccessKeys(ctx context.Context, userName string) ([]AccessKey, error) {
	var out struct {
		AccessKeys struct {
			AccessKey []accessKeyJSON `json:"AccessKey"`
		} `json:"AccessKeys"`
	}
	if err := c.ram(ctx, "ListAccessKeys", params("UserName", userName), &out); err != nil {
		return nil, err
	}
	keys := make([]AccessKey, 0, len(out.AccessKeys.AccessKey))
	for _, k := range out.AccessKeys.AccessKey {
		keys = append(keys, k.key())
	}
	return keys, nil
}

// Policy is a RAM policy.
type Policy struct {
	PolicyName      string
	PolicyType      string
	Description     string
	DefaultVersion  string
	AttachmentCount int
	CreateDate      time.Time
	UpdateDate      time.Time
	// AttachDate is set by the ListPoliciesFor* calls.
	AttachDate time.Time
}

type policyJSON struct {
	PolicyName      string `json:"PolicyName"`
	PolicyType      string `json:"PolicyType"`
	Description     string `json:"Description"`
	DefaultVersion  string `json:"DefaultVersion"`
	AttachmentCount int    `json:"AttachmentCount"`
	CreateDate      string `json:"CreateDate"`
	UpdateDate      string `json:"UpdateDate"`
	AttachDate      string `json:"AttachDate"`
}

func (j policyJSON) policy() Policy {
	return Policy{
		PolicyName: j.PolicyName, PolicyType: j.PolicyType, Description: j.Description, DefaultVersion: j.DefaultVersion,
		AttachmentCount: j.AttachmentCount, CreateDate: optTime(j.CreateDate), UpdateDate: optTime(j.UpdateDate),
		AttachDate: optTime(j.AttachDate),
	}
}

// PolicyVersion is one version of a policy.
type PolicyVersion struct {
	VersionID        string
	IsDefaultVersion bool
	PolicyDocument   string
	CreateDate       time.Time
}

type policyVersionJSON struct {
	VersionID        string `json:"VersionId"`
	IsDefaultVersion bool   `json:"IsDefaultVersion"`
	PolicyDocument   string `json:"PolicyDocument"`
	CreateDate       string `json:"CreateDate"`
}

func (j policyVersionJSON) version() PolicyVersion {
	return PolicyVersion{VersionID: j.VersionID, IsDefaultVersion: j.IsDefaultVersion, PolicyDocument: j.PolicyDocument, CreateDate: optTime(j.CreateDate)}
}

// CreatePolicyInput are the parameters of CreatePolicy.
type CreatePolicyInput struct {
	PolicyName     string
	Description    string
	PolicyDocument string
}

// CreatePolicy creates a custom policy.
func (c *Client) CreatePolicy(ctx context.Context, in CreatePolicyInput) (*Policy, error) {
	var out struct {
		Policy policyJSON `json:"Policy"`
	}
	p := params("PolicyName", in.PolicyName, "Description", in.Description, "PolicyDocument", in.PolicyDocument)
	if err := c.create(ctx, "CreatePolicy", p, &out); err != nil {
		return nil, err
	}
	pol := out.Policy.policy()
	return &pol, nil
}

// GetPolicyOutput is the answer of GetPolicy.
type GetPolicyOutput struct {
	Policy               Policy
	DefaultPolicyVersion PolicyVersion
}

// GetPolicy returns a policy and its default version.
func (c *Client) GetPolicy(ctx context.Context, policyType, policyName string) (*GetPolicyOutput, error) {
	var out struct {
		Policy               policyJSON        `json:"Policy"`
		DefaultPolicyVersion policyVersionJSON `json:"DefaultPolicyVersion"`
	}
	if err := c.ram(ctx, "GetPolicy", params("PolicyType", policyType, "PolicyName", policyName), &out); err != nil {
		return nil, err
	}
	return &GetPolicyOutput{Policy: out.Policy.policy(), DefaultPolicyVersion: out.DefaultPolicyVersion.version()}, nil
}

// CreatePolicyVersionInput are the parameters of CreatePolicyVersion.
type CreatePolicyVersionInput struct {
	PolicyName     string
	PolicyDocument string
	SetAsDefault   bool
	// RotateStrategy is "None" (default) or
	// "DeleteOldestNonDefaultVersionWhenLimitExceeded".
	RotateStrategy string
}

// RotateDeleteOldest asks CreatePolicyVersion to delete the oldest
// non-default version when the policy already has five.
const RotateDeleteOldest = "DeleteOldestNonDefaultVersionWhenLimitExceeded"

// CreatePolicyVersion adds a version to a custom policy (at most five).
func (c *Client) CreatePolicyVersion(ctx context.Context, in CreatePolicyVersionInput) (*PolicyVersion, error) {
	var out struct {
		PolicyVersion policyVersionJSON `json:"PolicyVersion"`
	}
	p := params("PolicyName", in.PolicyName, "PolicyDocument", in.PolicyDocument,
		"SetAsDefault", strconv.FormatBool(in.SetAsDefault), "RotateStrategy", in.RotateStrategy)
	if err := c.create(ctx, "CreatePolicyVersion", p, &out); err != nil {
		return nil, err
	}
	v := out.PolicyVersion.version()
	return &v, nil
}

// ListPolicyVersions returns the versions of a policy.
func (c *Client) ListPolicyVersions(ctx context.Context, policyType, policyName string) ([]PolicyVersion, error) {
	var out struct {
		PolicyVersions struct {
			PolicyVersion []policyVersionJSON `json:"PolicyVersion"`
		} `json:"PolicyVersions"`
	}
	if err := c.ram(ctx, "ListPolicyVersions", params("PolicyType", policyType, "PolicyName", policyName), &out); err != nil {
		return nil, err
	}
	vs := make([]PolicyVersion, 0, len(out.PolicyVersions.PolicyVersion))
	for _, v := range out.PolicyVersions.PolicyVersion {
		vs = append(vs, v.version())
	}
	return vs, nil
}

// DeletePolicyVersion deletes a non-default version of a custom policy.
func (c *Client) DeletePolicyVersion(ctx context.Context, policyName, versionID string) error {
	return c.ram(ctx, "DeletePolicyVersion", params("PolicyName", policyName, "VersionId", versionID), nil)
}

// DeletePolicy deletes a custom policy. With cascade, non-default versions
// go too; attachments always block the deletion (DeleteConflict.Policy.*).
func (c *Client) DeletePolicy(ctx context.Context, policyName string, cascade bool) error {
	p := params("PolicyName", policyName)
	if cascade {
		p.Set("CascadingDelete", "true")
	}
	return c.ram(ctx, "DeletePolicy", p, nil)
}

// AttachPolicyToUser attaches a policy to a RAM user.
func (c *Client) AttachPolicyToUser(ctx context.Context, policyType, policyName, userName string) error {
	return c.ram(ctx, "AttachPolicyToUser", params("PolicyType", policyType, "PolicyName", policyName, "UserName", userName), nil)
}

// DetachPolicyFromUser detaches a policy from a RAM user.
func (c *Client) DetachPolicyFromUser(ctx context.Context, policyType, policyName, userName string) error {
	return c.ram(ctx, "DetachPolicyFromUser", params("PolicyType", policyType, "PolicyName", policyName, "UserName", userName), nil)
}

// ListPoliciesForUser returns the policies attached to a RAM user.
func (c *Client) ListPoliciesForUser(ctx context.Context, userName string) ([]Policy, error) {
	var out struct {
		Policies struct {
			Policy []policyJSON `json:"Policy"`
		} `json:"Policies"`
	}
	if err := c.ram(ctx, "ListPoliciesForUser", params("UserName", userName), &out); err != nil {
		return nil, err
	}
	ps := make([]Policy, 0, len(out.Policies.Policy))
	for _, p := range out.Policies.Policy {
		ps = append(ps, p.policy())
	}
	return ps, nil
}

// PolicyEntities are the principals a policy is attached to.
type PolicyEntities struct {
	Users  []string
	Groups []string
	Roles  []string
}

// ListEntitiesForPolicy returns the users, groups and roles a policy is attached to.
func (c *Client) ListEntitiesForPolicy(ctx context.Context, policyType, policyName string) (*PolicyEntities, error) {
	type named struct {
		UserName  string `json:"UserName"`
		GroupName string `json:"GroupName"`
		RoleName  string `json:"RoleName"`
	}
	var out struct {
		Users struct {
			User []named `json:"User"`
		} `json:"Users"`
		Groups struct {
			Group []named `json:"Group"`
		} `json:"Groups"`
		Roles struct {
			Role []named `json:"Role"`
		} `json:"Roles"`
	}
	if err := c.ram(ctx, "ListEntitiesForPolicy", params("PolicyType", policyType, "PolicyName", policyName), &out); err != nil {
		return nil, err
	}
	e := &PolicyEntities{}
	for _, u := range out.Users.User {
		e.Users = append(e.Users, u.UserName)
	}
	for _, g := range out.Groups.Group {
		e.Groups = append(e.Groups, g.GroupName)
	}
	for _, r := range out.Roles.Role {
		e.Roles = append(e.Roles, r.RoleName)
	}
	return e, nil
}

// AddUserToGroup adds a RAM user to a group.
func (c *Client) AddUserToGroup(ctx context.Context, userName, groupName string) error {
	return c.ram(ctx, "AddUserToGroup", params("UserName", userName, "GroupName", groupName), nil)
}

// RemoveUserFromGroup removes a RAM user from a group.
func (c *Client) RemoveUserFromGroup(ctx context.Context, userName, groupName string) error {
	return c.ram(ctx, "RemoveUserFromGroup", params("UserName", userName, "GroupName", groupName), nil)
}

// Group is a RAM group.
type Group struct {
	GroupName string `json:"GroupName"`
	Comments  string `json:"Comments"`
}

// ListGroupsForUser returns the groups a RAM user belongs to.
func (c *Client) ListGroupsForUser(ctx context.Context, userName string) ([]Group, error) {
	var out struct {
		Groups struct {
			Group []Group `json:"Group"`
		} `json:"Groups"`
	}
	if err := c.ram(ctx, "ListGroupsForUser", params("UserName", userName), &out); err != nil {
		return nil, err
	}
	return out.Groups.Group, nil
}

// GetGroup returns a RAM group.
func (c *Client) GetGroup(ctx context.Context, groupName string) (*Group, error) {
	var out struct {
		Group Group `json:"Group"`
	}
	if err := c.ram(ctx, "GetGroup", params("GroupName", groupName), &out); err != nil {
		return nil, err
	}
	return &out.Group, nil
}
