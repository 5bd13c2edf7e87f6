package credentials

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits of STS AssumeRole and AssumeRoleWithOIDC (reference, section 2.2).
// The secrets engine checks its config and roles against the same values.
const (
	MinSessionDuration     = 900 * time.Second
	MaxSessionDuration     = 43200 * time.Second
	DefaultSessionDuration = 3600 * time.Second
	// MaxSessionPolicyLength is the longest session policy STS accepts.
	MaxSessionPolicyLength = 2048
	// MaxExternalIDLength is the longest external id STS accepts.
	MaxExternalIDLength = 1224
	maxPolicyLength     = MaxSessionPolicyLength
)

// Patterns of Alibaba's identifiers, shared with the secrets engine so that
// both apply one rule. They are not to be modified.
var (
	// RoleARNPattern matches a RAM role ARN: acs:ram::<account>:role/<name>.
	RoleARNPattern = regexp.MustCompile(`^acs:ram::[0-9]+:role/[A-Za-z0-9._-]{1,64}$`)
	// OIDCProviderARNPattern matches acs:ram::<account>:oidc-provider/<name>.
	OIDCProviderARNPattern = regexp.MustCompile(`^acs:ram::[0-9]+:oidc-provider/[A-Za-z0-9._-]{1,128}$`)
	// SessionNamePattern matches a role session name: 2-64 letters, digits
	// and . @ - _.
	SessionNamePattern = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)
	// RegionPattern matches a region id such as cn-hangzhou.
	RegionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

	externalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// SourceIdentityPattern matches the characters and length STS allows in a
// SourceIdentity: 2-64 of [\w+=,.@-]. ValidSourceIdentity adds its prefix rule.
var SourceIdentityPattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// ValidSourceIdentity applies STS's rule for AssumeRole's SourceIdentity:
// SourceIdentityPattern, and no acs:, aliyun: or alibabacloud: prefix (in any
// case).
func ValidSourceIdentity(v string) bool {
	if !SourceIdentityPattern.MatchString(v) {
		return false
	}
	lower := strings.ToLower(v)
	for _, p := range []string{"acs:", "aliyun:", "alibabacloud:"} {
		if strings.HasPrefix(lower, p) {
			return false
		}
	}
	return true
}

// ValidExternalID applies STS's rule for an external id: 2 to 1224 letters,
// digits or _ + = , . @ : / - (Go's regexp cannot count to 1224).
func ValidExternalID(v string) bool {
	return len(v) >= 2 && len(v) <= MaxExternalIDLength && externalIDRe.MatchString(v)
}

// fieldError is a validation error naming the provider and the field.
func fieldError(provider, field, format string, args ...any) error {
	return fmt.Errorf("%s: %s %s", provider, field, fmt.Sprintf(format, args...))
}

func validateRoleARN(provider, field, v string) error {
	if v == "" {
		return fieldError(provider, field, "is required")
	}
	if !RoleARNPattern.MatchString(v) {
		return fieldError(provider, field, "must look like acs:ram::<account>:role/<name>, got %q", v)
	}
	return nil
}

func validateOIDCProviderARN(provider, field, v string) error {
	if v == "" {
		return fieldError(provider, field, "is required")
	}
	if !OIDCProviderARNPattern.MatchString(v) {
		return fieldError(provider, field, "must look like acs:ram::<account>:oidc-provider/<name>, got %q", v)
	}
	return nil
}

func validateSessionName(provider, field, v string) error {
	if v != "" && !SessionNamePattern.MatchString(v) {
		return fieldError(provider, field, "must be 2 to 64 letters, digits or . @ - _, got %q", v)
	}
	return nil
}

func validatePolicy(provider, field, v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxPolicyLength {
		return fieldError(provider, field, "must be at most %d characters, got %d", maxPolicyLength, len(v))
	}
	if !json.Valid([]byte(v)) {
		return fieldError(provider, field, "must be a JSON policy document")
	}
	return nil
}

func validateExternalID(provider, field, v string) error {
	if v != "" && !ValidExternalID(v) {
		return fieldError(provider, field, "must be 2 to 1224 letters, digits or + = , . @ : / - _")
	}
	return nil
}

// sessionDuration applies the default and checks the STS range. Durations
// are sent in whole seconds, so a fraction of a second is refused rather
// than silently dropped.
func sessionDuration(provider, field string, d time.Duration) (time.Duration, error) {
	if d == 0 {
		return DefaultSessionDuration, nil
	}
	if d < MinSessionDuration || d > MaxSessionDuration {
		return 0, fieldError(provider, field, "must be from 900s to 43200s, got %s", d)
	}
	if d%time.Second != 0 {
		return 0, fieldError(provider, field, "must be a whole number of seconds, got %s", d)
	}
	return d, nil
}

// validateSTSEndpoint checks the endpoint options shared by the STS providers.
func validateSTSEndpoint(provider, endpoint, region string, vpc bool) error {
	if endpoint != "" {
		if err := validateHTTPURL(provider, "sts_endpoint", endpoint, true); err != nil {
			return err
		}
	}
	if region != "" && !RegionPattern.MatchString(region) {
		return fieldError(provider, "sts_region", "must be a region id such as cn-hangzhou, got %q", region)
	}
	if vpc && region == "" && endpoint == "" {
		return fieldError(provider, "use_vpc_endpoint", "needs sts_region (the VPC endpoint is sts-vpc.<region>.aliyuncs.com)")
	}
	return nil
}

// validateHTTPURL checks that v is an absolute http(s) URL. With
// schemeOptional, a bare host is accepted and means https.
func validateHTTPURL(provider, field, v string, schemeOptional bool) error {
	raw := v
	if schemeOptional && !hasScheme(raw) {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldError(provider, field, "must be a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fieldError(provider, field, "must be an http or https URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return fieldError(provider, field, "must be an absolute URL with a host, got %q", v)
	}
	return nil
}

func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':':
			return i > 0 && len(s) > i+2 && s[i+1] == '/' && s[i+2] == '/'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9' && i > 0, c == '+' || c == '-' || c == '.':
		default:
			return false
		}
	}
	return false
}

// defaultSessionName names a session the caller did not name: unique per
// call, so each refresh is a distinct session in ActionTrail.
func defaultSessionName(now time.Time) string {
	return "alicloud-credentials-" + strconv.FormatInt(now.UnixMilli(), 10)
}
