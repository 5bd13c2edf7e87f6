package aliyun

import (
	"context"
	"strconv"
)

// DeleteLoginProfile removes a RAM user's console password. RAM refuses to
// delete a user that still has one (DeleteConflict.User.LoginProfile), so the
// secrets engine removes a profile that was added out of band before it
// deletes the user.
func (c *Client) DeleteLoginProfile(ctx context.Context, userName string) error {
	return c.ram(ctx, "DeleteLoginProfile", params("UserName", userName), nil)
}

// UnbindMFADevice detaches the MFA device bound to a RAM user. RAM refuses to
// delete a user with a bound device (DeleteConflict.User.MFADevice).
func (c *Client) UnbindMFADevice(ctx context.Context, userName string) error {
	return c.ram(ctx, "UnbindMFADevice", params("UserName", userName), nil)
}

// SetDefaultPolicyVersion makes versionID the default version of a custom
// policy. The secrets engine uses it to undo a policy version it created
// when a role write fails part way.
func (c *Client) SetDefaultPolicyVersion(ctx context.Context, policyName, versionID string) error {
	return c.ram(ctx, "SetDefaultPolicyVersion", params("PolicyName", policyName, "VersionId", versionID), nil)
}

// ListUsersPage returns one page of at most maxItems RAM users, and the
// RequestId of the answer. With maxItems 1 it is the cheapest RAM read: the
// secrets engine uses it to check that a RAM endpoint answers as RAM does.
func (c *Client) ListUsersPage(ctx context.Context, maxItems int) ([]User, string, error) {
	var out struct {
		RequestID string `json:"RequestId"`
		Users     struct {
			User []userJSON `json:"User"`
		} `json:"Users"`
	}
	if err := c.ram(ctx, "ListUsers", params("MaxItems", strconv.Itoa(maxItems)), &out); err != nil {
		return nil, "", err
	}
	users := make([]User, 0, len(out.Users.User))
	for _, u := range out.Users.User {
		users = append(users, u.user())
	}
	return users, out.RequestID, nil
}
