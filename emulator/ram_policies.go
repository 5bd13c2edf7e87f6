package emulator

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Policies, policy versions and attachments.

func (p *policy) view() map[string]any {
	return map[string]any{
		"PolicyName":     p.Name,
		"PolicyType":     p.Type,
		"Description":    p.Description,
		"DefaultVersion": p.DefaultVersion,
		"CreateDate":     fmtTime(p.CreateDate),
	}
}

func (v *policyVersion) view(p *policy) map[string]any {
	return map[string]any{
		"VersionId":        v.ID,
		"IsDefaultVersion": v.ID == p.DefaultVersion,
		"PolicyDocument":   v.Document,
		"CreateDate":       fmtTime(v.CreateDate),
	}
}

// checkPolicyDocument enforces the size limit and the grammar of a permission
// policy document (CreatePolicy, CreatePolicyVersion).
func checkPolicyDocument(doc string) (*Policy, *APIError) {
	if doc == "" {
		return nil, errMissing("PolicyDocument")
	}
	if utf8.RuneCountInString(doc) > maxPolicyDocumentChars {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.PolicyDocument.Length",
			"The maximum length of the policy document is exceeded. It must not exceed %d characters.", maxPolicyDocumentChars)
	}
	parsed, err := ParsePolicy(doc)
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, "MalformedPolicyDocument", "The policy document is malformed: %s", err.Error())
	}
	return parsed, nil
}

func (e *Emulator) createPolicyLocked(name, description, doc string, now time.Time) (*policy, *APIError) {
	if aerr := checkName("PolicyName", name, maxPolicyNameChars, policyNameChar); aerr != nil {
		return nil, aerr
	}
	if aerr := checkLength("Description", description, maxDescriptionChars); aerr != nil {
		return nil, aerr
	}
	parsed, aerr := checkPolicyDocument(doc)
	if aerr != nil {
		return nil, aerr
	}
	if _, exists := e.st.Policies[name]; exists {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.Policy", "The policy does already EXIST.")
	}
	if len(e.st.Policies) >= maxCustomPolicies {
		return nil, apiErr(http.StatusConflict, "LimitExceeded.Policy", "The count of policy beyond the current limits.")
	}
	p := &policy{
		Name: name, Type: policyTypeCustom, Description: description,
		CreateDate: now, UpdateDate: now, DefaultVersion: "v1", NextVersion: 2,
		Versions: []*policyVersion{{ID: "v1", Document: doc, CreateDate: now, parsed: parsed}},
	}
	e.st.Policies[name] = p
	return p, nil
}

// policyParamLocked reads a required PolicyName, checks its format and
// authorization.
func (e *Emulator) policyParamLocked(q *rpcRequest, action string) (string, *APIError) {
	name := q.param("PolicyName")
	if aerr := checkName("PolicyName", name, maxPolicyNameChars, policyNameChar); aerr != nil {
		return "", aerr
	}
	return name, e.authorizeLocked(q, action, e.ramARN("policy", name))
}

// typedPolicyParamsLocked reads PolicyType and PolicyName and finds the policy.
func (e *Emulator) typedPolicyParamsLocked(q *rpcRequest, action string) (*policy, *APIError) {
	typ := q.param("PolicyType")
	if aerr := checkPolicyType(typ); aerr != nil {
		return nil, aerr
	}
	name, aerr := e.policyParamLocked(q, action)
	if aerr != nil {
		return nil, aerr
	}
	p := e.lookupPolicyLocked(typ, name)
	if p == nil {
		return nil, errPolicyNotExist(typ, name)
	}
	return p, nil
}

func (e *Emulator) ramCreatePolicy(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.policyParamLocked(q, "ram:CreatePolicy")
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := e.createPolicyLocked(name, q.param("Description"), q.param("PolicyDocument"), q.now)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Policy": p.view()}, nil
}

// attachmentCountLocked counts the users, groups and roles p is attached to.
func (e *Emulator) attachmentCountLocked(p *policy) int {
	n := 0
	for _, u := range e.st.Users {
		if findAttachment(u.Policies, p.Type, p.Name) >= 0 {
			n++
		}
	}
	for _, g := range e.st.Groups {
		if findAttachment(g.Policies, p.Type, p.Name) >= 0 {
			n++
		}
	}
	for _, r := range e.st.Roles {
		if findAttachment(r.Policies, p.Type, p.Name) >= 0 {
			n++
		}
	}
	return n
}

func (e *Emulator) ramGetPolicy(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, aerr := e.typedPolicyParamsLocked(q, "ram:GetPolicy")
	if aerr != nil {
		return nil, aerr
	}
	v := p.view()
	v["UpdateDate"] = fmtTime(p.UpdateDate)
	v["AttachmentCount"] = e.attachmentCountLocked(p)
	v["PolicyDocument"] = "N/A" // deprecated field; the document is in DefaultPolicyVersion
	return map[string]any{
		"Policy":               v,
		"DefaultPolicyVersion": p.version(p.DefaultVersion).view(p),
	}, nil
}

func (e *Emulator) ramDeletePolicy(q *rpcRequest) (map[string]any, *APIError) {
	cascade, aerr := parseBool("CascadingDelete", q.param("CascadingDelete"), false)
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.policyParamLocked(q, "ram:DeletePolicy")
	if aerr != nil {
		return nil, aerr
	}
	if aerr := e.deletePolicyLocked(name, cascade); aerr != nil {
		return nil, aerr
	}
	return map[string]any{}, nil
}

// deletePolicyLocked deletes a custom policy: it must be attached to nobody,
// and without CascadingDelete it must have no version besides the default one.
func (e *Emulator) deletePolicyLocked(name string, cascade bool) *APIError {
	p := e.st.Policies[name]
	if p == nil {
		return errPolicyNotExist(policyTypeCustom, name)
	}
	for _, u := range e.st.Users {
		if findAttachment(u.Policies, p.Type, p.Name) >= 0 {
			return apiErr(http.StatusConflict, "DeleteConflict.Policy.User", "The policy cannot be attached to any user when you delete it.")
		}
	}
	for _, g := range e.st.Groups {
		if findAttachment(g.Policies, p.Type, p.Name) >= 0 {
			return apiErr(http.StatusConflict, "DeleteConflict.Policy.Group", "The policy cannot be attached to any group when you delete it.")
		}
	}
	for _, r := range e.st.Roles {
		if findAttachment(r.Policies, p.Type, p.Name) >= 0 {
			return apiErr(http.StatusConflict, "DeleteConflict.Policy.Role", "The policy cannot be attached to any role when you delete it.")
		}
	}
	if len(p.Versions) > 1 && !cascade {
		return apiErr(http.StatusConflict, "DeleteConflict.Policy.Version", "You must delete all non-default versions before you delete the policy.")
	}
	delete(e.st.Policies, name)
	return nil
}

func (e *Emulator) ramListPolicies(q *rpcRequest) (map[string]any, *APIError) {
	typ := q.param("PolicyType")
	if typ != "" {
		if aerr := checkPolicyType(typ); aerr != nil {
			return nil, aerr
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if aerr := e.authorizeLocked(q, "ram:ListPolicies", e.ramARN("policy", "*")); aerr != nil {
		return nil, aerr
	}
	// Keys sort System before Custom ("S" < "C" is false, so prefix with an order digit).
	all := map[string]*policy{}
	if typ == "" || typ == policyTypeSystem {
		for n, p := range systemPolicies {
			all["1:"+n] = p
		}
	}
	if typ == "" || typ == policyTypeCustom {
		for n, p := range e.st.Policies {
			all["2:"+n] = p
		}
	}
	page, marker, truncated, aerr := paginate(q, sortedKeys(all), maxListMaxItems)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(page))
	for _, k := range page {
		p := all[k]
		v := p.view()
		v["UpdateDate"] = fmtTime(p.UpdateDate)
		v["AttachmentCount"] = e.attachmentCountLocked(p)
		items = append(items, v)
	}
	resp := map[string]any{"Policies": listEnvelope("Policy", items), "IsTruncated": truncated}
	if truncated {
		resp["Marker"] = marker
	}
	return resp, nil
}

// Versions.

func (e *Emulator) ramCreatePolicyVersion(q *rpcRequest) (map[string]any, *APIError) {
	setDefault, aerr := parseBool("SetAsDefault", q.param("SetAsDefault"), false)
	if aerr != nil {
		return nil, aerr
	}
	rotate := q.param("RotateStrategy")
	if rotate != "" && rotate != rotateNone && rotate != rotateDeleteOldest {
		return nil, errInvalid("RotateStrategy")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.policyParamLocked(q, "ram:CreatePolicyVersion")
	if aerr != nil {
		return nil, aerr
	}
	parsed, aerr := checkPolicyDocument(q.param("PolicyDocument"))
	if aerr != nil {
		return nil, aerr
	}
	p := e.st.Policies[name]
	if p == nil {
		return nil, errPolicyNotExist(policyTypeCustom, name)
	}
	if len(p.Versions) >= maxPolicyVersions {
		if rotate != rotateDeleteOldest {
			return nil, apiErr(http.StatusConflict, "LimitExceeded.Policy.Version", "The count of versions of the policy beyond the current limits.")
		}
		for i, v := range p.Versions {
			if v.ID != p.DefaultVersion {
				p.Versions = append(p.Versions[:i], p.Versions[i+1:]...)
				break
			}
		}
	}
	v := &policyVersion{ID: "v" + strconv.Itoa(p.NextVersion), Document: q.param("PolicyDocument"), CreateDate: q.now, parsed: parsed}
	p.NextVersion++
	p.Versions = append(p.Versions, v)
	if setDefault {
		p.DefaultVersion = v.ID
	}
	p.UpdateDate = q.now
	return map[string]any{"PolicyVersion": v.view(p)}, nil
}

func (e *Emulator) ramGetPolicyVersion(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("VersionId"); aerr != nil {
		return nil, aerr
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, aerr := e.typedPolicyParamsLocked(q, "ram:GetPolicyVersion")
	if aerr != nil {
		return nil, aerr
	}
	v := p.version(q.param("VersionId"))
	if v == nil {
		return nil, errVersionNotExist(q.param("VersionId"))
	}
	return map[string]any{"PolicyVersion": v.view(p)}, nil
}

func errVersionNotExist(id string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.Policy.Version", "The policy version does not exist: %s.", id)
}

func (e *Emulator) ramListPolicyVersions(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, aerr := e.typedPolicyParamsLocked(q, "ram:ListPolicyVersions")
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(p.Versions))
	for _, v := range p.Versions {
		items = append(items, v.view(p))
	}
	return map[string]any{"PolicyVersions": listEnvelope("PolicyVersion", items)}, nil
}

func (e *Emulator) ramDeletePolicyVersion(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("VersionId"); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.policyParamLocked(q, "ram:DeletePolicyVersion")
	if aerr != nil {
		return nil, aerr
	}
	p := e.st.Policies[name]
	if p == nil {
		return nil, errPolicyNotExist(policyTypeCustom, name)
	}
	id := q.param("VersionId")
	for i, v := range p.Versions {
		if v.ID != id {
			continue
		}
		if id == p.DefaultVersion {
			return nil, apiErr(http.StatusConflict, "DeleteConflict.Policy.Version.Default", "You cannot delete the default policy version.")
		}
		p.Versions = append(p.Versions[:i], p.Versions[i+1:]...)
		p.UpdateDate = q.now
		return map[string]any{}, nil
	}
	return nil, errVersionNotExist(id)
}

func (e *Emulator) ramSetDefaultPolicyVersion(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("VersionId"); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.policyParamLocked(q, "ram:SetDefaultPolicyVersion")
	if aerr != nil {
		return nil, aerr
	}
	p := e.st.Policies[name]
	if p == nil {
		return nil, errPolicyNotExist(policyTypeCustom, name)
	}
	v := p.version(q.param("VersionId"))
	if v == nil {
		return nil, errVersionNotExist(q.param("VersionId"))
	}
	p.DefaultVersion = v.ID
	p.UpdateDate = q.now
	return map[string]any{}, nil
}

// Attachments.

// principalEntity names the principal kinds in error codes.
var principalEntity = map[string]string{"user": "User", "group": "Group", "role": "Role"}

// attachmentsLocked returns the attachment list of a user, group or role.
func (e *Emulator) attachmentsLocked(kind, name string) (*[]*attachment, *APIError) {
	switch kind {
	case "user":
		if u := e.st.Users[name]; u != nil {
			return &u.Policies, nil
		}
		return nil, errUserNotExist(name)
	case "group":
		if g := e.st.Groups[name]; g != nil {
			return &g.Policies, nil
		}
		return nil, errGroupNotExist(name)
	case "role":
		if r := e.st.Roles[name]; r != nil {
			return &r.Policies, nil
		}
		return nil, errRoleNotExist(name)
	}
	return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "unknown principal kind %q", kind)
}

// attachLocked attaches a policy to a principal with the API's checks.
func (e *Emulator) attachLocked(kind, principalName, typ, policyName string, now time.Time) *APIError {
	if aerr := checkPolicyType(typ); aerr != nil {
		return aerr
	}
	atts, aerr := e.attachmentsLocked(kind, principalName)
	if aerr != nil {
		return aerr
	}
	if e.lookupPolicyLocked(typ, policyName) == nil {
		return errPolicyNotExist(typ, policyName)
	}
	entity := principalEntity[kind]
	if findAttachment(*atts, typ, policyName) >= 0 {
		return apiErr(http.StatusConflict, "EntityAlreadyExists."+entity+".Policy", "The policy has already been attached to the %s.", kind)
	}
	if countType(*atts, typ) >= policyAttachmentLimit(typ) {
		return apiErr(http.StatusConflict, "LimitExceeded."+entity+".Policy", "The count of %s policies attached to the %s beyond the current limits.", strings.ToLower(typ), kind)
	}
	*atts = append(*atts, &attachment{Type: typ, Name: policyName, AttachDate: now})
	return nil
}

func (e *Emulator) detachLocked(kind, principalName, typ, policyName string) *APIError {
	if aerr := checkPolicyType(typ); aerr != nil {
		return aerr
	}
	atts, aerr := e.attachmentsLocked(kind, principalName)
	if aerr != nil {
		return aerr
	}
	if e.lookupPolicyLocked(typ, policyName) == nil {
		return errPolicyNotExist(typ, policyName)
	}
	i := findAttachment(*atts, typ, policyName)
	if i < 0 {
		return apiErr(http.StatusNotFound, "EntityNotExist."+principalEntity[kind]+".Policy", "The policy is not attached to the %s.", kind)
	}
	*atts = append((*atts)[:i], (*atts)[i+1:]...)
	return nil
}

// principalParam maps a principal kind to its request parameter and name rule.
func principalParam(kind string) (param string, maxChars int, ok func(byte) bool) {
	switch kind {
	case "group":
		return "GroupName", maxUserOrGroupNameChars, userNameChar
	case "role":
		return "RoleName", maxRoleNameChars, roleNameChar
	}
	return "UserName", maxUserOrGroupNameChars, userNameChar
}

// attachmentRequestLocked validates an Attach/Detach request and authorizes it
// on both the policy and the principal.
func (e *Emulator) attachmentRequestLocked(q *rpcRequest, kind, action string) (principalName, typ, policyName string, aerr *APIError) {
	typ = q.param("PolicyType")
	if aerr := checkPolicyType(typ); aerr != nil {
		return "", "", "", aerr
	}
	policyName = q.param("PolicyName")
	if aerr := checkName("PolicyName", policyName, maxPolicyNameChars, policyNameChar); aerr != nil {
		return "", "", "", aerr
	}
	param, maxChars, ok := principalParam(kind)
	principalName = q.param(param)
	if aerr := checkName(param, principalName, maxChars, ok); aerr != nil {
		return "", "", "", aerr
	}
	if aerr := e.authorizeLocked(q, action, e.ramARN("policy", policyName), e.ramARN(kind, principalName)); aerr != nil {
		return "", "", "", aerr
	}
	return principalName, typ, policyName, nil
}

func (e *Emulator) attachHandler(q *rpcRequest, kind, action string, attach bool) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	principalName, typ, policyName, aerr := e.attachmentRequestLocked(q, kind, action)
	if aerr != nil {
		return nil, aerr
	}
	if attach {
		aerr = e.attachLocked(kind, principalName, typ, policyName, q.now)
	} else {
		aerr = e.detachLocked(kind, principalName, typ, policyName)
	}
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{}, nil
}

func (e *Emulator) ramAttachPolicyToUser(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "user", "ram:AttachPolicyToUser", true)
}

func (e *Emulator) ramDetachPolicyFromUser(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "user", "ram:DetachPolicyFromUser", false)
}

func (e *Emulator) ramAttachPolicyToGroup(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "group", "ram:AttachPolicyToGroup", true)
}

func (e *Emulator) ramDetachPolicyFromGroup(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "group", "ram:DetachPolicyFromGroup", false)
}

func (e *Emulator) ramAttachPolicyToRole(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "role", "ram:AttachPolicyToRole", true)
}

func (e *Emulator) ramDetachPolicyFromRole(q *rpcRequest) (map[string]any, *APIError) {
	return e.attachHandler(q, "role", "ram:DetachPolicyFromRole", false)
}

func (e *Emulator) listPoliciesFor(q *rpcRequest, kind, action string) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	param, maxChars, ok := principalParam(kind)
	name := q.param(param)
	if aerr := checkName(param, name, maxChars, ok); aerr != nil {
		return nil, aerr
	}
	if aerr := e.authorizeLocked(q, action, e.ramARN(kind, name)); aerr != nil {
		return nil, aerr
	}
	atts, aerr := e.attachmentsLocked(kind, name)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(*atts))
	for _, a := range *atts {
		p := e.lookupPolicyLocked(a.Type, a.Name)
		if p == nil {
			continue
		}
		items = append(items, map[string]any{
			"PolicyName": p.Name, "PolicyType": p.Type, "Description": p.Description,
			"DefaultVersion": p.DefaultVersion, "AttachDate": fmtTime(a.AttachDate),
		})
	}
	return map[string]any{"Policies": listEnvelope("Policy", items)}, nil
}

func (e *Emulator) ramListPoliciesForUser(q *rpcRequest) (map[string]any, *APIError) {
	return e.listPoliciesFor(q, "user", "ram:ListPoliciesForUser")
}

func (e *Emulator) ramListPoliciesForGroup(q *rpcRequest) (map[string]any, *APIError) {
	return e.listPoliciesFor(q, "group", "ram:ListPoliciesForGroup")
}

func (e *Emulator) ramListPoliciesForRole(q *rpcRequest) (map[string]any, *APIError) {
	return e.listPoliciesFor(q, "role", "ram:ListPoliciesForRole")
}

func (e *Emulator) ramListEntitiesForPolicy(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	p, aerr := e.typedPolicyParamsLocked(q, "ram:ListEntitiesForPolicy")
	if aerr != nil {
		return nil, aerr
	}
	var users, groups, roles []map[string]any
	for _, n := range sortedKeys(e.st.Users) {
		u := e.st.Users[n]
		if i := findAttachment(u.Policies, p.Type, p.Name); i >= 0 {
			users = append(users, map[string]any{"UserId": u.ID, "UserName": u.Name, "DisplayName": u.DisplayName, "AttachDate": fmtTime(u.Policies[i].AttachDate)})
		}
	}
	for _, n := range sortedKeys(e.st.Groups) {
		g := e.st.Groups[n]
		if i := findAttachment(g.Policies, p.Type, p.Name); i >= 0 {
			groups = append(groups, map[string]any{"GroupName": g.Name, "Comments": g.Comments, "AttachDate": fmtTime(g.Policies[i].AttachDate)})
		}
	}
	for _, n := range sortedKeys(e.st.Roles) {
		r := e.st.Roles[n]
		if i := findAttachment(r.Policies, p.Type, p.Name); i >= 0 {
			roles = append(roles, map[string]any{"RoleId": r.ID, "RoleName": r.Name, "Arn": e.roleARNLocked(r.Name), "Description": r.Description, "AttachDate": fmtTime(r.Policies[i].AttachDate)})
		}
	}
	return map[string]any{
		"Users":  listEnvelope("User", users),
		"Groups": listEnvelope("Group", groups),
		"Roles":  listEnvelope("Role", roles),
	}, nil
}

// sortedAttachments returns attachments ordered by type then name (state view).
func sortedAttachments(atts []*attachment) []*attachment {
	out := append([]*attachment(nil), atts...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}
