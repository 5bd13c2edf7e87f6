package aliyun

import "context"

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
