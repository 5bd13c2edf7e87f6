package alicloud

import "github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"

// RAM's per-user limits (reference, section 3.2; the emulator enforces the
// same): a user issued for a ram_user role gets every inline and remote
// policy and joins every group of the role, so a role over a limit could
// never issue.
const (
	maxCustomPoliciesPerUser = 10
	maxSystemPoliciesPerUser = 20
	maxGroupsPerUser         = 10
)

// checkRAMAttachmentCounts refuses a ram_user role whose policies or groups
// exceed what RAM attaches to one user.
func checkRAMAttachmentCounts(r *roleEntry) error {
	custom, system := len(r.InlinePolicies), 0
	for _, p := range r.RemotePolicies {
		if p.Type == aliyun.PolicyTypeSystem {
			system++
		} else {
			custom++
		}
	}
	if custom > maxCustomPoliciesPerUser {
		return inputErrorf("remote_policies: with inline_policies, %d custom policies; RAM attaches at most %d custom policies to a user", custom, maxCustomPoliciesPerUser)
	}
	if system > maxSystemPoliciesPerUser {
		return inputErrorf("remote_policies: %d system policies; RAM attaches at most %d system policies to a user", system, maxSystemPoliciesPerUser)
	}
	if n := len(r.RAMGroups); n > maxGroupsPerUser {
		return inputErrorf("ram_groups: %d groups; RAM adds a user to at most %d groups", n, maxGroupsPerUser)
	}
	return nil
}
