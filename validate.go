package alicloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// inputError is a problem with what the caller sent; handlers turn it into a
// 400 response naming the field and the rule.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) *inputError {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// Lengths and bounds Alibaba Cloud enforces. Those of STS come from the
// credentials package, which checks the engine's own sessions against them.
const (
	maxSessionPolicyLen = credentials.MaxSessionPolicyLength
	maxRAMPolicyLen     = 6144
	minSTSDuration      = int64(credentials.MinSessionDuration / time.Second)
	maxSTSDuration      = int64(credentials.MaxSessionDuration / time.Second)
	defaultSTSDuration  = int64(credentials.DefaultSessionDuration / time.Second)
)

// Identifier rules. Those STS also applies are the credentials package's.
var (
	roleARNRegex         = credentials.RoleARNPattern
	oidcProviderARNRegex = credentials.OIDCProviderARNPattern
	sessionNameRegex     = credentials.SessionNamePattern
	// sourceIdentityCharsRegex is SourceIdentity's characters and length;
	// credentials.ValidSourceIdentity adds the prefix rule.
	sourceIdentityCharsRegex = credentials.SourceIdentityPattern
	regionRegex              = credentials.RegionPattern
	ramRoleNameRegex         = regexp.MustCompile(`^[A-Za-z0-9.\-]{1,64}$`)
	profileRegex             = regexp.MustCompile(`^[A-Za-z0-9.\-_]{1,64}$`)
)

// validExternalID applies STS's rule: 2-1224 characters of [\w+=,.@:/-].
func validExternalID(s string) bool { return credentials.ValidExternalID(s) }

// validateHTTPURL accepts an http(s) URL, or a bare host when schemeless is
// allowed (an endpoint such as sts.cn-hangzhou.aliyuncs.com).
func validateHTTPURL(raw string, needScheme bool) error {
	s := raw
	if !strings.Contains(s, "://") {
		if needScheme {
			return fmt.Errorf("must be an http:// or https:// URL")
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL")
	}
	if u.Host == "" {
		return fmt.Errorf("must name a host")
	}
	if u.User != nil {
		return fmt.Errorf("must not carry user information")
	}
	return nil
}

// validatePolicyDocument checks that doc is a JSON object with a Statement
// list and fits in max characters once compacted (as it is sent).
func validatePolicyDocument(doc string, max int) error {
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return fmt.Errorf("must be a JSON policy document: %v", jsonErrorText(err))
	}
	return checkPolicyObject(m, max)
}

func checkPolicyObject(m map[string]interface{}, max int) error {
	st, ok := m["Statement"]
	if !ok {
		return fmt.Errorf(`must be a policy document with a "Statement" list`)
	}
	if l, ok := st.([]interface{}); !ok || len(l) == 0 {
		return fmt.Errorf(`"Statement" must be a non-empty list`)
	}
	compact, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("cannot be encoded: %v", err)
	}
	if len(compact) > max {
		return fmt.Errorf("is %d characters once compacted, more than the %d allowed", len(compact), max)
	}
	return nil
}

// jsonErrorText keeps JSON errors short and free of the input, which may
// hold a policy the caller considers sensitive.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("a JSON %s where %s was expected", te.Value, te.Type)
	}
	return "invalid JSON"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
