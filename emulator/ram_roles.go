package emulator

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Roles.

func (e *Emulator) roleARNLocked(name string) string {
	return "acs:ram::" + e.st.AccountID + ":role/" + name
}

func (e *Emulator) roleView(r *role, withUpdate bool) map[string]any {
	m := map[string]any{
		"RoleId":                   r.ID,
		"RoleName":                 r.Name,
		"Arn":                      e.roleARNLocked(r.Name),
		"Description":              r.Description,
		"AssumeRolePolicyDocument": r.TrustPolicy,
		"MaxSessionDuration":       r.MaxSessionDuration,
		"CreateDate":               fmtTime(r.CreateDate),
	}
	if withUpdate {
		m["UpdateDate"] = fmtTime(r.UpdateDate)
	}
	return m
}

// checkTrustDocument enforces the size limit and grammar of a trust policy.
func checkTrustDocument(param, doc string) (*Policy, *APIError) {
	if doc == "" {
		return nil, errMissing(param)
	}
	if utf8.RuneCountInString(doc) > maxTrustDocumentChars {
		return nil, errLength(param)
	}
	parsed, err := ParseTrustPolicy(doc)
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, "MalformedPolicyDocument", "The policy document is malformed: %s", err.Error())
	}
	return parsed, nil
}

func checkMaxSessionDuration(param string, v int) *APIError {
	if v < minRoleSessionDuration || v > maxRoleSessionDuration {
		return apiErr(http.StatusBadRequest, "InvalidParameter."+param, `The parameter - "%s" must be between %d and %d.`, param, minRoleSessionDuration, maxRoleSessionDuration)
	}
	return nil
}

// createRoleLocked creates a role with the API's checks; maxSession 0 means the
// default (3600 s).
func (e *Emulator) createRoleLocked(name, description, trust string, maxSession int, now time.Time) (*role, *APIError) {
	if aerr := checkName("RoleName", name, maxRoleNameChars, roleNameChar); aerr != nil {
		return nil, aerr
	}
	if aerr := checkLength("Description", description, maxDescriptionChars); aerr != nil {
		return nil, aerr
	}
	parsed, aerr := checkTrustDocument("AssumeRolePolicyDocument", trust)
	if aerr != nil {
		return nil, aerr
	}
	if maxSession == 0 {
		maxSession = defaultRoleMaxSession
	}
	if aerr := checkMaxSessionDuration("MaxSessionDuration", maxSession); aerr != nil {
		return nil, aerr
	}
	if _, exists := e.st.Roles[name]; exists {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.Role", "The role does already EXIST.")
	}
	if len(e.st.Roles) >= maxRoles {
		return nil, apiErr(http.StatusConflict, "LimitExceeded.Role", "The count of roles beyond the current limits.")
	}
	r := &role{
		Name: name, ID: e.numericID(19), Description: description, TrustPolicy: trust,
		MaxSessionDuration: maxSession, CreateDate: now, UpdateDate: now, trust: parsed,
	}
	e.st.Roles[name] = r
	return r, nil
}

// roleParamLocked reads a required RoleName, checks its format and authorization.
func (e *Emulator) roleParamLocked(q *rpcRequest, action string) (string, *APIError) {
	name := q.param("RoleName")
	if aerr := checkName("RoleName", name, maxRoleNameChars, roleNameChar); aerr != nil {
		return "", aerr
	}
	return name, e.authorizeLocked(q, action, e.ramARN("role", name))
}

func intParam(q *rpcRequest, name string) (int, bool, *APIError) {
	s := q.param(name)
	if s == "" {
		return 0, false, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, errInvalid(name)
	}
	return v, true, nil
}

func (e *Emulator) ramCreateRole(q *rpcRequest) (map[string]any, *APIError) {
	maxSession, _, aerr := intParam(q, "MaxSessionDuration")
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.roleParamLocked(q, "ram:CreateRole")
	if aerr != nil {
		return nil, aerr
	}
	if q.param("MaxSessionDuration") != "" {
		if aerr := checkMaxSessionDuration("MaxSessionDuration", maxSession); aerr != nil {
			return nil, aerr
		}
	}
	r, aerr := e.createRoleLocked(name, q.param("Description"), q.param("AssumeRolePolicyDocument"), maxSession, q.now)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Role": e.roleView(r, false)}, nil
}

func (e *Emulator) ramGetRole(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	name, aerr := e.roleParamLocked(q, "ram:GetRole")
	if aerr != nil {
		return nil, aerr
	}
	r := e.st.Roles[name]
	if r == nil {
		return nil, errRoleNotExist(name)
	}
	return map[string]any{"Role": e.roleView(r, true)}, nil
}

func (e *Emulator) ramUpdateRole(q *rpcRequest) (map[string]any, *APIError) {
	maxSession, hasMax, aerr := intParam(q, "NewMaxSessionDuration")
	if aerr != nil {
		return nil, aerr
	}
	if hasMax {
		if aerr := checkMaxSessionDuration("NewMaxSessionDuration", maxSession); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := checkLength("NewDescription", q.param("NewDescription"), maxDescriptionChars); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.roleParamLocked(q, "ram:UpdateRole")
	if aerr != nil {
		return nil, aerr
	}
	r := e.st.Roles[name]
	if r == nil {
		return nil, errRoleNotExist(name)
	}
	if doc := q.param("NewAssumeRolePolicyDocument"); doc != "" {
		parsed, aerr := checkTrustDocument("NewAssumeRolePolicyDocument", doc)
		if aerr != nil {
			return nil, aerr
		}
		r.TrustPolicy, r.trust = doc, parsed
	}
	if hasMax {
		r.MaxSessionDuration = maxSession
	}
	if d := q.param("NewDescription"); d != "" {
		r.Description = d
	}
	r.UpdateDate = q.now
	return map[string]any{"Role": e.roleView(r, true)}, nil
}

func (e *Emulator) ramDeleteRole(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.roleParamLocked(q, "ram:DeleteRole")
	if aerr != nil {
		return nil, aerr
	}
	r := e.st.Roles[name]
	switch {
	case r == nil:
		return nil, errRoleNotExist(name)
	case len(r.Policies) > 0:
		return nil, apiErr(http.StatusConflict, "DeleteConflict.Role.Policy", "The role cannot be attached to any policy when you delete it.")
	}
	delete(e.st.Roles, name)
	return map[string]any{}, nil
}

func (e *Emulator) ramListRoles(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if aerr := e.authorizeLocked(q, "ram:ListRoles", e.ramARN("role", "*")); aerr != nil {
		return nil, aerr
	}
	page, marker, truncated, aerr := paginate(q, sortedKeys(e.st.Roles), maxListMaxItems)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(page))
	for _, n := range page {
		v := e.roleView(e.st.Roles[n], true)
		delete(v, "AssumeRolePolicyDocument") // ListRoles does not return trust policies
		items = append(items, v)
	}
	resp := map[string]any{"Roles": listEnvelope("Role", items), "IsTruncated": truncated}
	if truncated {
		resp["Marker"] = marker
	}
	return resp, nil
}
