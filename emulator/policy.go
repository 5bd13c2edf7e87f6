package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Policy is a parsed RAM policy document: a permission policy (custom and
// system policies, STS session policies) or a role's trust policy.
type Policy struct {
	Version    string      `json:"Version"`
	Statements []Statement `json:"Statement"`
}

// Statement is one statement of a Policy. Exactly one of Action and NotAction
// is set; a permission policy sets exactly one of Resource and NotResource, a
// trust policy sets Principal instead.
type Statement struct {
	Effect      string                         `json:"Effect"`
	Action      []string                       `json:"Action,omitempty"`
	NotAction   []string                       `json:"NotAction,omitempty"`
	Resource    []string                       `json:"Resource,omitempty"`
	NotResource []string                       `json:"NotResource,omitempty"`
	Principal   map[string][]string            `json:"Principal,omitempty"`
	Condition   map[string]map[string][]string `json:"Condition,omitempty"`

	// Matching forms: actions lowercased (action names are case-insensitive),
	// resource ARNs with an empty region read as "*".
	actions, notActions, resources, notResources []string
}

// PolicyError describes why a document failed the grammar check.
type PolicyError struct {
	Path   string // e.g. Statement[1].Effect; empty for the document itself
	Reason string
}

// Error implements error.
func (e *PolicyError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

func policyErr(path, format string, args ...any) error {
	return &PolicyError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// conditionOperators are the operators RAM accepts in a Condition block.
var conditionOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true, "NumericLessThanEquals": true,
	"NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "IpAddress": true, "NotIpAddress": true,
}

// principalTypes are the keys RAM accepts in a trust policy's Principal.
var principalTypes = map[string]bool{"RAM": true, "Service": true, "Federated": true}

// ParsePolicy parses a permission policy (a custom or system policy, or an STS
// session policy) and checks its grammar: a JSON object with Version "1" and a
// non-empty Statement list; each statement with Effect Allow or Deny, Action or
// NotAction as "<service>:<action>" patterns, Resource or NotResource as "*" or
// "acs:" ARNs, no Principal, and well-formed Conditions.
func ParsePolicy(doc string) (*Policy, error) {
	p, err := parsePolicyDocument(doc)
	if err != nil {
		return nil, err
	}
	for i := range p.Statements {
		s := &p.Statements[i]
		path := fmt.Sprintf("Statement[%d]", i)
		if s.Principal != nil {
			return nil, policyErr(path+".Principal", "is not allowed in a permission policy")
		}
		if s.Resource == nil && s.NotResource == nil {
			return nil, policyErr(path, "Resource or NotResource is required")
		}
	}
	return p, nil
}

// ParseTrustPolicy parses a role's trust policy (AssumeRolePolicyDocument):
// the grammar of ParsePolicy, with Principal (RAM, Service or Federated)
// required and Resource not allowed.
func ParseTrustPolicy(doc string) (*Policy, error) {
	p, err := parsePolicyDocument(doc)
	if err != nil {
		return nil, err
	}
	for i := range p.Statements {
		s := &p.Statements[i]
		path := fmt.Sprintf("Statement[%d]", i)
		if s.Principal == nil {
			return nil, policyErr(path, "Principal is required in a trust policy")
		}
		if s.Resource != nil || s.NotResource != nil {
			return nil, policyErr(path+".Resource", "is not allowed in a trust policy")
		}
	}
	return p, nil
}

func parsePolicyDocument(doc string) (*Policy, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, policyErr("", "not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, policyErr("", "unexpected data after the JSON document")
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, policyErr("", "must be a JSON object")
	}
	p := &Policy{}
	for k := range obj {
		if k != "Version" && k != "Statement" {
			return nil, policyErr(k, "unknown policy element")
		}
	}
	v, ok := obj["Version"].(string)
	if !ok {
		return nil, policyErr("Version", `is required and must be the string "1"`)
	}
	if v != "1" {
		return nil, policyErr("Version", `must be "1"`)
	}
	p.Version = v
	var stmts []any
	switch t := obj["Statement"].(type) {
	case []any:
		stmts = t
	case map[string]any:
		stmts = []any{t}
	case nil:
		return nil, policyErr("Statement", "is required")
	default:
		return nil, policyErr("Statement", "must be a list of statements")
	}
	if len(stmts) == 0 {
		return nil, policyErr("Statement", "must not be empty")
	}
	for i, raw := range stmts {
		path := fmt.Sprintf("Statement[%d]", i)
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, policyErr(path, "must be a JSON object")
		}
		s, err := parseStatement(path, m)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func parseStatement(path string, m map[string]any) (Statement, error) {
	var s Statement
	for k := range m {
		switch k {
		case "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition":
		default:
			return s, policyErr(path+"."+k, "unknown policy element")
		}
	}
	eff, _ := m["Effect"].(string)
	if eff != "Allow" && eff != "Deny" {
		return s, policyErr(path+".Effect", `must be "Allow" or "Deny"`)
	}
	s.Effect = eff

	var err error
	_, hasA := m["Action"]
	_, hasNA := m["NotAction"]
	switch {
	case hasA && hasNA:
		return s, policyErr(path, "Action and NotAction are mutually exclusive")
	case !hasA && !hasNA:
		return s, policyErr(path, "Action or NotAction is required")
	case hasA:
		if s.Action, err = stringList(path+".Action", m["Action"], validActionPattern); err != nil {
			return s, err
		}
	default:
		if s.NotAction, err = stringList(path+".NotAction", m["NotAction"], validActionPattern); err != nil {
			return s, err
		}
	}
	_, hasR := m["Resource"]
	_, hasNR := m["NotResource"]
	switch {
	case hasR && hasNR:
		return s, policyErr(path, "Resource and NotResource are mutually exclusive")
	case hasR:
		if s.Resource, err = stringList(path+".Resource", m["Resource"], validResourcePattern); err != nil {
			return s, err
		}
	case hasNR:
		if s.NotResource, err = stringList(path+".NotResource", m["NotResource"], validResourcePattern); err != nil {
			return s, err
		}
	}
	if raw, ok := m["Principal"]; ok {
		pm, ok := raw.(map[string]any)
		if !ok || len(pm) == 0 {
			return s, policyErr(path+".Principal", "must be an object with RAM, Service or Federated")
		}
		s.Principal = map[string][]string{}
		for k, v := range pm {
			if !principalTypes[k] {
				return s, policyErr(path+".Principal."+k, "unknown principal type (want RAM, Service or Federated)")
			}
			if s.Principal[k], err = stringList(path+".Principal."+k, v, nonEmpty); err != nil {
				return s, err
			}
		}
	}
	if raw, ok := m["Condition"]; ok {
		cm, ok := raw.(map[string]any)
		if !ok {
			return s, policyErr(path+".Condition", "must be an object")
		}
		if len(cm) > 0 {
			s.Condition = map[string]map[string][]string{}
		}
		for op, rawKeys := range cm {
			if !conditionOperators[op] {
				return s, policyErr(path+".Condition."+op, "invalid condition operator")
			}
			km, ok := rawKeys.(map[string]any)
			if !ok || len(km) == 0 {
				return s, policyErr(path+".Condition."+op, "must be a non-empty object of condition keys")
			}
			s.Condition[op] = map[string][]string{}
			for key, vals := range km {
				kp := path + ".Condition." + op + "." + key
				if i := strings.IndexByte(key, ':'); i <= 0 || i == len(key)-1 {
					return s, policyErr(kp, "invalid condition key format (want <service>:<key>)")
				}
				list, err := conditionValues(kp, vals)
				if err != nil {
					return s, err
				}
				s.Condition[op][key] = list
			}
		}
	}
	s.compile()
	return s, nil
}

// stringList accepts a string or a non-empty list of strings, each checked by valid.
func stringList(path string, v any, valid func(string) string) ([]string, error) {
	var out []string
	switch t := v.(type) {
	case string:
		out = []string{t}
	case []any:
		if len(t) == 0 {
			return nil, policyErr(path, "must not be empty")
		}
		for _, item := range t {
			s, ok := item.(string)
			if !ok {
				return nil, policyErr(path, "must be a string or a list of strings")
			}
			out = append(out, s)
		}
	default:
		return nil, policyErr(path, "must be a string or a list of strings")
	}
	for _, s := range out {
		if reason := valid(s); reason != "" {
			return nil, policyErr(path, "%q: %s", s, reason)
		}
	}
	return out, nil
}

func conditionValues(path string, v any) ([]string, error) {
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case json.Number:
			return t.String(), true
		case bool:
			if t {
				return "true", true
			}
			return "false", true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, policyErr(path, "must be a value or a non-empty list of values")
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := scalar(item)
		if !ok {
			return nil, policyErr(path, "must be a value or a non-empty list of values")
		}
		out = append(out, s)
	}
	return out, nil
}

func nonEmpty(s string) string {
	if s == "" {
		return "must not be empty"
	}
	return ""
}

// validActionPattern accepts "*" and "<service>:<action>" where both parts are
// letters, digits, '-', '_' and the wildcards '*' and '?'.
func validActionPattern(a string) string {
	if a == "*" {
		return ""
	}
	i := strings.IndexByte(a, ':')
	if i <= 0 || i == len(a)-1 {
		return "invalid action format (want <service>:<action>)"
	}
	for _, part := range []string{a[:i], a[i+1:]} {
		for j := 0; j < len(part); j++ {
			c := part[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '?') {
				return "invalid action format (want <service>:<action>)"
			}
		}
	}
	return ""
}

// validResourcePattern accepts "*" and ARNs "acs:<service>:<region>:<account>:<path>".
func validResourcePattern(r string) string {
	if r == "*" {
		return ""
	}
	if !strings.HasPrefix(r, "acs:") {
		return `invalid ARN prefix (want "acs:")`
	}
	if strings.Count(r, ":") < 4 {
		return "invalid ARN (want acs:<service>:<region>:<account>:<resource>)"
	}
	for i := 0; i < len(r); i++ {
		if r[i] < 0x20 || r[i] == 0x7f {
			return "control characters are not allowed"
		}
	}
	return ""
}

func (s *Statement) compile() {
	s.actions = lowerAll(s.Action)
	s.notActions = lowerAll(s.NotAction)
	s.resources = normalizeARNs(s.Resource)
	s.notResources = normalizeARNs(s.NotResource)
}

func lowerAll(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

func normalizeARNs(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = normalizeARN(s)
	}
	return out
}

// normalizeARN reads an empty region as "*": "acs:ram::123:role/x" and
// "acs:ram:*:123:role/x" name the same resource.
func normalizeARN(s string) string {
	if !strings.HasPrefix(s, "acs:") {
		return s
	}
	parts := strings.SplitN(s, ":", 5)
	if len(parts) == 5 && parts[2] == "" {
		parts[2] = "*"
		return strings.Join(parts, ":")
	}
	return s
}

// MarshalJSON writes the canonical form of the policy (lists always as lists).
func (p *Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode((*plain)(p)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Evaluation.

type effect uint8

const (
	effectNone effect = iota
	effectAllow
	effectDeny
)

// evaluate returns the policy's verdict for a lowercased action on a resource.
// Conditions are not evaluated (see the package documentation).
func (p *Policy) evaluate(action, resource string) effect {
	verdict := effectNone
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.matchesAction(action) || !s.matchesResource(resource) {
			continue
		}
		if s.Effect == "Deny" {
			return effectDeny
		}
		verdict = effectAllow
	}
	return verdict
}

func (s *Statement) matchesAction(action string) bool {
	if s.notActions != nil {
		return !anyGlob(s.notActions, action)
	}
	return anyGlob(s.actions, action)
}

func (s *Statement) matchesResource(resource string) bool {
	if s.notResources != nil {
		return !anyGlob(s.notResources, resource)
	}
	if s.resources == nil {
		return true // trust policies carry no resource
	}
	return anyGlob(s.resources, resource)
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// bytes and '?' exactly one. It runs in O(len(pattern)*len(s)) at worst.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			starP, starI = p, i
			p++
		case starP >= 0:
			p = starP + 1
			starI++
			i = starI
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// trustRequest describes who wants to assume a role, for trust evaluation.
type trustRequest struct {
	principalType string   // RAM, Service or Federated
	identities    []string // identifiers the caller can be named by
	// context holds the condition keys the emulator evaluates (lowercased),
	// with the request's values; keys absent from it are ignored.
	context map[string][]string
}

// trusts reports whether the trust policy lets the caller assume the role: an
// Allow statement for sts:AssumeRole naming the caller whose evaluated
// conditions hold, and no such Deny statement.
func (p *Policy) trusts(tr trustRequest) bool {
	allowed := false
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.matchesAction("sts:assumerole") || !s.namesPrincipal(tr) || !s.conditionsHold(tr.context) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (s *Statement) namesPrincipal(tr trustRequest) bool {
	for typ, values := range s.Principal {
		if !strings.EqualFold(typ, tr.principalType) {
			continue
		}
		for _, v := range values {
			if v == "*" {
				return true
			}
			for _, id := range tr.identities {
				if strings.EqualFold(v, id) {
					return true
				}
			}
		}
	}
	return false
}

// conditionsHold evaluates the string operators on the keys present in ctx.
func (s *Statement) conditionsHold(ctx map[string][]string) bool {
	for op, keys := range s.Condition {
		for key, want := range keys {
			got, known := ctx[strings.ToLower(key)]
			if !known {
				continue
			}
			if !stringCondition(op, got, want) {
				return false
			}
		}
	}
	return true
}

func stringCondition(op string, got, want []string) bool {
	match := func(eq func(a, b string) bool) bool {
		for _, g := range got {
			for _, w := range want {
				if eq(g, w) {
					return true
				}
			}
		}
		return false
	}
	exact := func(a, b string) bool { return a == b }
	like := func(a, b string) bool { return globMatch(b, a) }
	switch op {
	case "StringEquals":
		return match(exact)
	case "StringNotEquals":
		return !match(exact)
	case "StringEqualsIgnoreCase":
		return match(strings.EqualFold)
	case "StringNotEqualsIgnoreCase":
		return !match(strings.EqualFold)
	case "StringLike":
		return match(like)
	case "StringNotLike":
		return !match(like)
	}
	return true // other operators are not evaluated
}
