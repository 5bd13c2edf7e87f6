package alicloud

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// credential_type "legacy_chain" is what HashiCorp's plugin does with a
// config whose access_key and secret_key are empty (its clients/creds.go, on
// alibaba-cloud-sdk-go's providers): the plugin process's environment
// variables, then the ECS instance RAM role, its name discovered from the
// metadata service. A config that plugin stored that way reads as this type,
// so that after the swap new issues and the revocation of old leases keep
// the identity they had. Like "default", it is an ambient identity: the
// operator setting ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY must allow it.

// Environment variables of alibaba-cloud-sdk-go's environment provider,
// which HashiCorp's plugin reads, and the token name the Terraform provider
// uses. The credentials-go names (ALIBABA_CLOUD_*) are read too.
const (
	envLegacyAccessKey       = "ALICLOUD_ACCESS_KEY"
	envLegacySecretKey       = "ALICLOUD_SECRET_KEY"
	envLegacySTSToken        = "ALICLOUD_ACCESS_KEY_STS_TOKEN"
	envLegacySecurityToken   = "ALICLOUD_SECURITY_TOKEN"
	envLegacyRoleARN         = "ALICLOUD_ROLE_ARN"
	envLegacyRoleSessionName = "ALICLOUD_ROLE_SESSION_NAME"
	envLegacyRoleSessionExp  = "ALICLOUD_ROLE_SESSION_EXPIRATION"
	envLegacyRoleName        = "ALICLOUD_ROLE_NAME"
)

// legacyChainConfig resolves a legacy_chain config into the config of the
// identity it stands for today: an AccessKey (with a security token, or a
// RAM role to assume) from the environment, else the ECS instance role.
// Transport fields are kept. A half-given pair of keys is an error rather
// than a silent fall-through to the instance role.
func legacyChainConfig(cfg *configEntry, getenv func(string) string) (*configEntry, error) {
	out := &configEntry{
		Region: cfg.Region, STSEndpoint: cfg.STSEndpoint, RAMEndpoint: cfg.RAMEndpoint, UseVPCEndpoint: cfg.UseVPCEndpoint,
		MaxRetries: cfg.MaxRetries, RequestTimeout: cfg.RequestTimeout, UsernameTemplate: cfg.UsernameTemplate,
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	for _, pair := range [][2]string{{envLegacyAccessKey, envLegacySecretKey}, {credentials.EnvAccessKeyID, credentials.EnvAccessKeySecret}} {
		id, secret := get(pair[0]), get(pair[1])
		if id == "" && secret == "" {
			continue
		}
		if id == "" || secret == "" {
			set, unset := pair[0], pair[1]
			if id == "" {
				set, unset = unset, set
			}
			return nil, fmt.Errorf("credential_type %q: %s is set in the plugin's environment but %s is not", credTypeLegacyChain, set, unset)
		}
		out.AccessKey, out.SecretKey = id, secret
		out.CredentialType = credTypeAccessKey
		for _, name := range []string{envLegacySTSToken, envLegacySecurityToken, credentials.EnvSecurityToken} {
			if v := get(name); v != "" {
				out.SecurityToken = v
				out.CredentialType = credTypeSTS
				break
			}
		}
		if arn := get(envLegacyRoleARN); arn != "" {
			out.CredentialType = credTypeRAMRoleARN
			out.RoleARN = arn
			out.RoleSessionName = get(envLegacyRoleSessionName)
			if raw := get(envLegacyRoleSessionExp); raw != "" {
				n, err := strconv.ParseInt(raw, 10, 64)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("credential_type %q: %s must be a number of seconds", credTypeLegacyChain, envLegacyRoleSessionExp)
				}
				out.RoleSessionExpiration = n
			}
		}
		return out, nil
	}
	out.CredentialType = credTypeECSRAMRole
	out.RoleName = cfg.RoleName
	if out.RoleName == "" {
		out.RoleName = get(envLegacyRoleName)
	}
	out.DisableIMDSv1 = cfg.DisableIMDSv1
	out.MetadataEndpoint = cfg.MetadataEndpoint
	return out, nil
}
