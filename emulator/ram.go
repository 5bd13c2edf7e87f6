package emulator

import (
	"net/http"
	"sort"
	"strconv"
	"unicode/utf8"
)

// RAM quotas (RAM "Limitations" page, December 2025).
const (
	maxUsers                 = 5000
	maxGroups                = 300
	maxRoles                 = 1000
	maxCustomPolicies        = 1500
	maxGroupsPerUser         = 10
	maxAccessKeysPerUser     = 2
	maxCustomPerPrincipal    = 10
	maxSystemPerPrincipal    = 20
	maxPolicyVersions        = 5
	maxPolicyDocumentChars   = 6144
	maxTrustDocumentChars    = 2048
	minRoleSessionDuration   = 3600
	maxRoleSessionDuration   = 43200
	defaultRoleMaxSession    = 3600
	defaultListMaxItems      = 100
	maxListMaxItems          = 1000
	maxCommentsChars         = 128
	maxDisplayNameChars      = 128
	maxDescriptionChars      = 1024
	maxUserOrGroupNameChars  = 64
	maxPolicyNameChars       = 128
	maxRoleNameChars         = 64
	maxAccessKeyIDLength     = 128
	accessKeyStatusActive    = "Active"
	accessKeyStatusInactive  = "Inactive"
	policyTypeSystem         = "System"
	policyTypeCustom         = "Custom"
	rotateNone               = "None"
	rotateDeleteOldest       = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
	principalKindUserString  = "user"
	principalKindGroupString = "group"
	principalKindRoleString  = "role"
)

func isLetterDigit(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// User and group names: letters, digits, '.', '-', '_'.
func userNameChar(c byte) bool { return isLetterDigit(c) || c == '.' || c == '-' || c == '_' }

// Policy names: letters, digits, '-'.
func policyNameChar(c byte) bool { return isLetterDigit(c) || c == '-' }

// Role names: letters, digits, '.', '-'.
func roleNameChar(c byte) bool { return isLetterDigit(c) || c == '.' || c == '-' }

// checkName enforces a name rule with RAM's codes:
// InvalidParameter.<Param>.Length and InvalidParameter.<Param>.InvalidChars.
func checkName(param, v string, maxChars int, ok func(byte) bool) *APIError {
	if v == "" {
		return errMissing(param)
	}
	if len(v) > maxChars {
		return errLength(param)
	}
	for i := 0; i < len(v); i++ {
		if !ok(v[i]) {
			return apiErr(http.StatusBadRequest, "InvalidParameter."+param+".InvalidChars", `The parameter - "%s" contains invalid chars.`, param)
		}
	}
	return nil
}

// checkLength enforces an optional free-text length limit in characters.
func checkLength(param, v string, maxChars int) *APIError {
	if utf8.RuneCountInString(v) > maxChars {
		return errLength(param)
	}
	return nil
}

func errLength(param string) *APIError {
	return apiErr(http.StatusBadRequest, "InvalidParameter."+param+".Length", `The parameter - "%s" beyond the length limit.`, param)
}

func errInvalid(param string) *APIError {
	return apiErr(http.StatusBadRequest, "InvalidParameter."+param, `The parameter - "%s" is invalid.`, param)
}

// checkPolicyType accepts System or Custom.
func checkPolicyType(v string) *APIError {
	if v == "" {
		return errMissing("PolicyType")
	}
	if v != policyTypeSystem && v != policyTypeCustom {
		return apiErr(http.StatusBadRequest, "InvalidParameter.PolicyType", `The parameter - "PolicyType" must be System or Custom.`)
	}
	return nil
}

// Errors shared by several actions.

func errUserNotExist(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.User", "The user does not exist: %s.", name)
}

func errGroupNotExist(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.Group", "The group does not exist: %s.", name)
}

func errRoleNotExist(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.Role", "The role does not exist: %s.", name)
}

func errPolicyNotExist(typ, name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.Policy", "The policy does not exist: %s (%s).", name, typ)
}

// paginate applies Marker and MaxItems to sorted keys. The marker is the key of
// the first item of the next page.
func paginate(q *rpcRequest, keys []string, maxItemsLimit int) (page []string, marker string, truncated bool, aerr *APIError) {
	maxItems := defaultListMaxItems
	if s := q.param("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxItemsLimit {
			return nil, "", false, apiErr(http.StatusBadRequest, "InvalidParameter.MaxItems", `The parameter - "MaxItems" must be between 1 and %d.`, maxItemsLimit)
		}
		maxItems = n
	}
	start := 0
	if m := q.param("Marker"); m != "" {
		start = sort.SearchStrings(keys, m)
	}
	end := start + maxItems
	if end >= len(keys) {
		return keys[start:], "", false, nil
	}
	return keys[start:end], keys[end], true, nil
}

// listEnvelope wraps items as the service does: {"<Plural>": {"<Singular>": [...]}}.
func listEnvelope(singular string, items []map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{singular: items}
}

// parseBool reads the service's boolean parameters ("true"/"false").
func parseBool(param, v string, def bool) (bool, *APIError) {
	switch v {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, errInvalid(param)
}

// policyAttachmentLimit returns how many policies of typ one principal may have.
func policyAttachmentLimit(typ string) int {
	if typ == policyTypeSystem {
		return maxSystemPerPrincipal
	}
	return maxCustomPerPrincipal
}

func countType(atts []*attachment, typ string) int {
	n := 0
	for _, a := range atts {
		if a.Type == typ {
			n++
		}
	}
	return n
}

func findAttachment(atts []*attachment, typ, name string) int {
	for i, a := range atts {
		if a.Type == typ && a.Name == name {
			return i
		}
	}
	return -1
}
