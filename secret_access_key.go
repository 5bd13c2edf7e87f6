package alicloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// secretType is the secret type of every lease, HashiCorp's name for it, so
// leases that plugin issued are renewed and revoked here.
const secretType = "alicloud"

func secretAccessKey(b *backend) *framework.Secret {
	return &framework.Secret{
		Type: secretType,
		Fields: map[string]*framework.FieldSchema{
			"access_key": {
				Type:        framework.TypeString,
				Description: "AccessKey ID",
			},
			"secret_key": {
				Type:        framework.TypeString,
				Description: "AccessKey secret",
			},
			"security_token": {
				Type:        framework.TypeString,
				Description: "STS security token (assumed_role)",
			},
		},
		Renew:  b.secretRenew,
		Revoke: b.secretRevoke,
	}
}

// leaseData is the internal data of a lease: HashiCorp's keys (role_type,
// role_name, username, access_key_id, inline_policies, remote_policies) and
// ours (managed_policies, ram_groups). Leases of HashiCorp's plugin carry
// per-lease custom policies in inline_policies, which revocation deletes.
type leaseData struct {
	RoleType        string          `json:"role_type"`
	RoleName        string          `json:"role_name"`
	UserName        string          `json:"username"`
	AccessKeyID     string          `json:"access_key_id"`
	InlinePolicies  []*remotePolicy `json:"inline_policies"`
	RemotePolicies  []*remotePolicy `json:"remote_policies"`
	ManagedPolicies []*remotePolicy `json:"managed_policies"`
	RAMGroups       []string        `json:"ram_groups"`
	// IssueID is the id in the user's Comments (leases of earlier versions
	// and of HashiCorp's plugin have none).
	IssueID string `json:"issue_id,omitempty"`
	// IssuedKey is the storage key of the engine's record of the user
	// (issued_ledger.go).
	IssuedKey string `json:"issued_key,omitempty"`
}

// decodeLeaseData reads internal data in either form it takes: the Go
// values of a fresh response, or the JSON-decoded maps Vault hands back.
func decodeLeaseData(internal map[string]interface{}) (*leaseData, error) {
	raw, err := json.Marshal(internal)
	if err != nil {
		return nil, fmt.Errorf("encoding lease data: %w", err)
	}
	var ld leaseData
	if err := json.Unmarshal(raw, &ld); err != nil {
		return nil, fmt.Errorf("malformed lease data: %w", err)
	}
	if ld.RoleType == "" {
		return nil, fmt.Errorf("lease data has no role_type")
	}
	return &ld, nil
}

func (b *backend) secretRenew(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	ld, err := decodeLeaseData(req.Secret.InternalData)
	if err != nil {
		return nil, err
	}
	switch ld.RoleType {
	case leaseRoleTypeSTS:
		// STS credentials expire on their own and cannot be extended.
		return nil, nil
	case leaseRoleTypeRAM:
		if ld.RoleName == "" {
			return nil, fmt.Errorf("lease data has no role_name")
		}
		role, err := b.cachedRole(ctx, req.Storage, ld.RoleName)
		if err != nil {
			return nil, err
		}
		if role == nil {
			return nil, fmt.Errorf("role %s has been deleted so no further renewals are allowed", ld.RoleName)
		}
		resp := &logical.Response{Secret: req.Secret}
		if role.TTL != 0 {
			resp.Secret.TTL = role.TTL
		}
		if role.MaxTTL != 0 {
			resp.Secret.MaxTTL = role.MaxTTL
		}
		if key := b.reissueRecord(ctx, req.Storage, ld, req.Secret.IssueTime, b.leaseMaxTTL(role)); key != ld.IssuedKey {
			resp.Secret.InternalData["issued_key"] = key
		}
		return resp, nil
	default:
		return nil, fmt.Errorf("unrecognized role_type: %s", ld.RoleType)
	}
}

// secretRevoke deletes the RAM user of a ram_user lease with everything on
// it: first from what the lease recorded, else by listing what the user has.
// A user already gone counts as revoked, so revoking twice is harmless.
func (b *backend) secretRevoke(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	ld, err := decodeLeaseData(req.Secret.InternalData)
	if err != nil {
		return nil, err
	}
	switch ld.RoleType {
	case leaseRoleTypeSTS:
		return nil, nil
	case leaseRoleTypeRAM:
	default:
		return nil, fmt.Errorf("unrecognized role_type: %s", ld.RoleType)
	}
	if err := b.revokeRAMUser(ctx, req.Storage, ld); err != nil {
		return nil, err
	}
	return nil, nil
}
