package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// The RAM policies the engine's identity needs are published per feature in
// docs/ram-policies/<feature>.json and in README "RAM permissions". When
// Alibaba refuses a call for lack of permission, the error names the action
// and the document to attach, so an operator who kept a narrower policy
// (HashiCorp's nine actions, say) knows what to add.
const (
	featureSTSAssumeRole = "sts-assume-role"
	featureRAMUsers      = "ram-users"
	featureStaticRoles   = "static-roles"
	featureRotateRoot    = "rotate-root"
)

// permissionError is a refusal of one of the engine's calls for lack of
// permission, with the hint; it wraps the refusal, so its HTTP status
// (upstreamError) and Alibaba's code and RequestId stay.
type permissionError struct {
	hint string
	err  error
}

func (e *permissionError) Error() string { return e.hint + ": " + e.err.Error() }

func (e *permissionError) Unwrap() error { return e.err }

// withPermissionHint adds to err, when it holds Alibaba's refusal of a call
// for lack of permission, which action was refused and which document of
// feature allows it. Other errors, and errors already hinted, are returned
// as they are. The hint names no secret: only the action, the error code
// and the document.
func withPermissionHint(feature string, err error) error {
	if err == nil || feature == "" {
		return err
	}
	var done *permissionError
	if errors.As(err, &done) {
		return err
	}
	var ae *aliyun.Error
	if !errors.As(err, &ae) || !aliyun.IsAccessDenied(ae) {
		return err
	}
	action := ae.Action
	if ae.Product != "" {
		action = strings.ToLower(ae.Product) + ":" + ae.Action
	}
	return &permissionError{
		hint: fmt.Sprintf(`%s denied for the engine's identity (%s); attach the %q policy from README "RAM permissions" (docs/ram-policies/%s.json)`,
			action, ae.Code, feature, feature),
		err: err,
	}
}

// requestFeature is the feature a request exercises, for the permission
// hint of a call refused while serving it. Credentials name the feature by
// the product refused: STS for assumed_role roles, RAM for ram_user roles.
// The WAL rollback names its features itself (walFeature).
func requestFeature(req *logical.Request, err error) string {
	switch req.Operation {
	case logical.RevokeOperation, logical.RenewOperation:
		return featureRAMUsers
	case logical.RollbackOperation, logical.HelpOperation:
		return ""
	}
	switch p := req.Path; {
	case p == "config/rotate-root":
		return featureRotateRoot
	case strings.HasPrefix(p, "static-role/"), strings.HasPrefix(p, "static-creds/"):
		return featureStaticRoles
	case strings.HasPrefix(p, "role/"):
		return featureRAMUsers
	case strings.HasPrefix(p, "creds/"):
		var ae *aliyun.Error
		if errors.As(err, &ae) && ae.Product == string(aliyun.STS) {
			return featureSTSAssumeRole
		}
		return featureRAMUsers
	}
	return ""
}

// walFeature is the feature whose document allows the rollback of a WAL kind.
func walFeature(kind string) string {
	switch kind {
	case walKindRAMUser, walKindRolePolicy, walKindRolePolicyVersion:
		return featureRAMUsers
	case walKindStaticKey:
		return featureStaticRoles
	case walKindRotateRoot:
		return featureRotateRoot
	}
	return ""
}

// HandleRequest implements logical.Backend: the framework's handling, with
// the permission hint on refusals of the engine's calls.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := b.Backend.HandleRequest(ctx, req)
	if err != nil {
		err = withPermissionHint(requestFeature(req, err), err)
	}
	return resp, err
}
