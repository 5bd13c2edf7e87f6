package alicloud

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-secure-stdlib/base62"
	"github.com/hashicorp/vault/sdk/helper/template"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// Default name templates. A RAM user name is at most 64 characters; the
// default carries the token's display name, the role name, the time and a
// random suffix so concurrent issues never collide (6+16+1+16+1+10+1+8 = 59).
const (
	defaultUsernameTemplate = `{{ printf "vault-%s-%s-%s-%s" (.DisplayName | truncate 16) (.RoleName | truncate 16) (unix_time) (random 8) | truncate 64 }}`
	// Session names show up in ActionTrail as the assumed-role identity.
	defaultSessionNameTemplate = `{{ printf "vault-%s-%s-%s" (.DisplayName | truncate 20) (.RoleName | truncate 20) (unix_time) | truncate 64 }}`
)

// Name rules of Alibaba Cloud.
var (
	ramUserNameRegex  = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,64}$`)
	ramGroupNameRegex = regexp.MustCompile(`^[A-Za-z0-9._\-]{1,64}$`)
	policyNameRegex   = regexp.MustCompile(`^[A-Za-z0-9\-]{1,128}$`)
	unsafeNameChars   = regexp.MustCompile(`[^A-Za-z0-9._\-]+`)
)

// nameTemplateData is what name templates see. Values are reduced to the
// characters Alibaba Cloud accepts in names, so a display name such as
// "oidc-alice@example.com" cannot make an invalid name.
type nameTemplateData struct {
	DisplayName string
	RoleName    string
	// EntityID is the caller's Vault entity ("none" without one); only
	// source_identity_template documents it.
	EntityID string
}

func newNameTemplateData(displayName, roleName string) nameTemplateData {
	return nameTemplateData{DisplayName: safeNamePart(displayName), RoleName: safeNamePart(roleName), EntityID: "none"}
}

// withEntity adds the caller's entity id.
func (d nameTemplateData) withEntity(id string) nameTemplateData {
	d.EntityID = safeNamePart(id)
	return d
}

func safeNamePart(s string) string {
	if isSafeNamePart(s) {
		// The common case (token display names, role names): no regexp.
		return s
	}
	s = unsafeNameChars.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	if s == "" {
		return "none"
	}
	return s
}

// isSafeNamePart reports whether safeNamePart would return s unchanged:
// not empty, only characters Alibaba Cloud accepts, no leading or trailing '-'.
func isSafeNamePart(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// builtinNames renders the default templates in plain Go. Executing them
// with text/template was about a tenth of the plugin's CPU per STS
// credential; each function gives exactly what its template gives
// (TestNames_BuiltinMatchesTemplate), and an operator's own template still
// goes through text/template.
var builtinNames = map[string]func(nameTemplateData) (string, error){
	defaultSessionNameTemplate: func(d nameTemplateData) (string, error) {
		return truncateName("vault-"+truncateName(d.DisplayName, 20)+"-"+truncateName(d.RoleName, 20)+"-"+unixTimeString(), 64), nil
	},
	defaultUsernameTemplate: func(d nameTemplateData) (string, error) {
		suffix, err := base62.Random(8)
		if err != nil {
			return "", err
		}
		return truncateName("vault-"+truncateName(d.DisplayName, 16)+"-"+truncateName(d.RoleName, 16)+"-"+unixTimeString()+"-"+suffix, 64), nil
	},
}

// truncateName is the templates' truncate: the first n bytes.
func truncateName(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// unixTimeString is the templates' unix_time, which reads the wall clock.
func unixTimeString() string { return strconv.FormatInt(time.Now().Unix(), 10) }

// template returns the parsed template for text, parsing it once.
func (b *backend) template(text string) (template.StringTemplate, error) {
	if t, ok := b.templates.Load(text); ok {
		return t, nil
	}
	t, err := newNameTemplate(text)
	if err != nil {
		return template.StringTemplate{}, err
	}
	b.templates.Store(text, t)
	return t, nil
}

// renderName renders a name template and checks the result against rule.
func (b *backend) renderName(field, text string, data nameTemplateData, rule *regexp.Regexp, ruleText string) (string, error) {
	var name string
	var err error
	if render, ok := builtinNames[text]; ok {
		name, err = render(data)
	} else {
		var t template.StringTemplate
		if t, err = b.template(text); err != nil {
			return "", fmt.Errorf("%s: %v", field, err)
		}
		name, err = t.Generate(data)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %v", field, err)
	}
	if len(name) > maxRenderedBytes {
		return "", fmt.Errorf("%s: renders more than %d bytes", field, maxRenderedBytes)
	}
	if !rule.MatchString(name) {
		return "", fmt.Errorf("%s: produced %s, which is not %s", field, quoteName(name), ruleText)
	}
	return name, nil
}

const (
	userNameRule    = "a valid RAM user name (1-64 letters, digits and . _ -)"
	sessionNameRule = "a valid role session name (2-64 letters, digits and . @ - _)"
	// sourceIdentityRule is STS's rule for SourceIdentity.
	sourceIdentityRule = "a valid source identity (2-64 letters, digits and _ + = , . @ -, not starting with acs:, aliyun: or alibabacloud:)"
)

// validateUsernameTemplate renders a template once with sample data, so a
// template that can only produce invalid names fails when it is written.
func (b *backend) validateUsernameTemplate(field, text string) error {
	if text == "" {
		return nil
	}
	_, err := b.renderName(field, text, newNameTemplateData("token-sample-display-name", "sample-role-name"), ramUserNameRegex, userNameRule)
	return err
}

// validateSourceIdentityTemplate renders a source identity template once
// with sample data.
func (b *backend) validateSourceIdentityTemplate(field, text string) error {
	if text == "" {
		return nil
	}
	_, err := b.renderSourceIdentity(field, text, newNameTemplateData("token-sample-display-name", "sample-role-name").withEntity("5a1c9e0b-3f2d-4c1a-9b8e-7d6f5e4c3b2a"))
	return err
}

// renderSourceIdentity renders a source identity template and applies STS's
// rule to the result.
func (b *backend) renderSourceIdentity(field, text string, data nameTemplateData) (string, error) {
	v, err := b.renderName(field, text, data, sourceIdentityCharsRegex, sourceIdentityRule)
	if err != nil {
		return "", err
	}
	if !credentials.ValidSourceIdentity(v) {
		return "", fmt.Errorf("%s: produced %s, which is not %s", field, quoteName(v), sourceIdentityRule)
	}
	return v, nil
}

func (b *backend) validateSessionNameTemplate(field, text string) error {
	if text == "" {
		return nil
	}
	_, err := b.renderName(field, text, newNameTemplateData("token-sample-display-name", "sample-role-name"), sessionNameRegex, sessionNameRule)
	return err
}

// managedPolicyName names the custom policy that holds inline policy i of a
// role of this mount: vault-<mount>-<role>-<i>, within RAM's rules (letters,
// digits and hyphens, at most 128 characters). The mapping is one to one: a
// role name that had to be altered to fit, or that already ends the way an
// altered one does (a hyphen and eight hex digits), gets a hash of the whole
// name as suffix, so role "prod_db" (vault-m-prod-db-1a2b3c4d-0) and role
// "prod-db-1a2b3c4d" never share a policy. The policy's description names
// its owner as well (managedPolicyDescription), and a role write refuses a
// policy that another role or mount owns.
func (b *backend) managedPolicyName(roleName string, i int) string {
	return fmt.Sprintf("vault-%s-%s-%d", b.mountTag(), policyRoleTag(roleName), i)
}

// mountTag is a short, stable tag of this mount, from its backend UUID.
func (b *backend) mountTag() string {
	id := strings.ReplaceAll(b.backendUUID, "-", "")
	if id == "" {
		return "mount"
	}
	if len(id) > 8 {
		id = id[:8]
	}
	return strings.ToLower(id)
}

var (
	policyUnsafe = regexp.MustCompile(`[^A-Za-z0-9\-]+`)
	// hashSuffix is how a tag made by policyRoleTag ends when it altered
	// the name.
	hashSuffix = regexp.MustCompile(`-[0-9a-f]{8}$`)
)

// policyRoleTag is the role's part of its policies' names: the name itself
// when RAM accepts it as it is, else its safe characters and a hash of it.
// The two forms cannot meet: only the second ends like hashSuffix.
func policyRoleTag(roleName string) string {
	tag := policyUnsafe.ReplaceAllString(roleName, "-")
	if tag == roleName && len(tag) <= 80 && !hashSuffix.MatchString(tag) {
		return tag
	}
	if len(tag) > 80 {
		tag = tag[:80]
	}
	sum := sha256.Sum256([]byte(roleName))
	return tag + "-" + hex.EncodeToString(sum[:4])
}
