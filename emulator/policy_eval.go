package emulator

import (
	"net/http"
	"strings"
)

// Authorization of RAM users and assumed-role sessions.
//
// A RAM user may do what the policies attached to it and to its groups allow;
// an assumed-role session what the role's policies allow and, if the session
// was issued with a Policy, what that session policy also allows. An explicit
// Deny in any of them wins. The main account key may do anything.

// ramARN builds the resource name RAM authorizes against, e.g.
// acs:ram:*:<account>:user/<name>.
func (e *Emulator) ramARN(kind, name string) string {
	return "acs:ram:*:" + e.st.AccountID + ":" + kind + "/" + name
}

// authorize checks that the caller may perform action (e.g. "ram:CreateUser")
// on every resource, and returns the product's denial error otherwise.
func (e *Emulator) authorize(q *rpcRequest, action string, resources ...string) *APIError {
	if q.caller.kind == kindRoot {
		return nil
	}
	e.mu.RLock()
	aerr := e.authorizeLocked(q, action, resources...)
	e.mu.RUnlock()
	return aerr
}

// authorizeLocked is authorize for callers holding e.mu.
func (e *Emulator) authorizeLocked(q *rpcRequest, action string, resources ...string) *APIError {
	p := q.caller
	if p.kind == kindRoot {
		return nil
	}
	allowed, explicit := e.allowedLocked(p, strings.ToLower(action), resources)
	if allowed {
		return nil
	}
	return e.deniedLocked(q.api.prod, p, action, resources, explicit)
}

// allowedLocked evaluates the caller's policies; explicit reports an explicit Deny.
func (e *Emulator) allowedLocked(p *principal, action string, resources []string) (allowed, explicit bool) {
	var docs []*Policy
	var sessionPolicy *Policy
	switch p.kind {
	case kindRoot:
		return true, false
	case kindUser:
		docs = e.userPoliciesLocked(p.userName)
	case kindSession:
		if r := e.st.Roles[p.sess.RoleName]; r != nil && r.ID == p.sess.RoleID {
			docs = e.attachedPoliciesLocked(r.Policies, docs)
		}
		sessionPolicy = p.sess.parsed
	default:
		return false, false
	}
	for _, res := range resources {
		verdict := effectNone
		for _, d := range docs {
			switch d.evaluate(action, res) {
			case effectDeny:
				return false, true
			case effectAllow:
				verdict = effectAllow
			}
		}
		if sessionPolicy != nil {
			switch sessionPolicy.evaluate(action, res) {
			case effectDeny:
				return false, true
			case effectNone:
				verdict = effectNone
			}
		}
		if verdict != effectAllow {
			return false, false
		}
	}
	return true, false
}

// userPoliciesLocked returns the parsed policies of a user and of its groups.
func (e *Emulator) userPoliciesLocked(name string) []*Policy {
	u := e.st.Users[name]
	if u == nil {
		return nil
	}
	docs := e.attachedPoliciesLocked(u.Policies, nil)
	for _, m := range u.Groups {
		if g := e.st.Groups[m.Group]; g != nil {
			docs = e.attachedPoliciesLocked(g.Policies, docs)
		}
	}
	return docs
}

func (e *Emulator) attachedPoliciesLocked(atts []*attachment, docs []*Policy) []*Policy {
	for _, a := range atts {
		if p := e.lookupPolicyLocked(a.Type, a.Name); p != nil {
			if d := p.defaultPolicy(); d != nil {
				docs = append(docs, d)
			}
		}
	}
	return docs
}

// lookupPolicyLocked finds a System or Custom policy by name.
func (e *Emulator) lookupPolicyLocked(typ, name string) *policy {
	switch typ {
	case "System":
		return systemPolicies[name]
	case "Custom":
		return e.st.Policies[name]
	}
	return nil
}

// deniedLocked builds the product's authorization failure: NoPermission (403)
// for STS and RAM, Forbidden.RAM (403) for ECS.
func (e *Emulator) deniedLocked(prod *product, p *principal, action string, resources []string, explicit bool) *APIError {
	var aerr *APIError
	switch prod {
	case productSTS:
		aerr = apiErr(http.StatusForbidden, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	case productRAM:
		aerr = apiErr(http.StatusForbidden, "NoPermission", "You are not authorized to do this action. Resource: %s Action: %s", strings.Join(resources, ","), action)
	default:
		aerr = apiErr(http.StatusForbidden, "Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't support RAM.")
	}
	noPerm := "ImplicitDeny"
	if explicit {
		noPerm = "ExplicitDeny"
	}
	aerr.detail = map[string]any{
		"AuthAction":               action,
		"AuthPrincipalOwnerId":     e.st.AccountID,
		"AuthPrincipalType":        principalTypeName(p),
		"AuthPrincipalDisplayName": principalDisplayName(p),
		"NoPermissionType":         noPerm,
		"PolicyType":               "AccountLevelIdentityBasedPolicy",
	}
	return aerr
}

func principalTypeName(p *principal) string {
	switch p.kind {
	case kindUser:
		return "SubUser"
	case kindSession:
		return "AssumedRoleUser"
	case kindRoot:
		return "Account"
	}
	return "Anonymous"
}

func principalDisplayName(p *principal) string {
	switch p.kind {
	case kindUser:
		return p.userName
	case kindSession:
		return p.sess.RoleName + ":" + p.sess.SessionName
	}
	return ""
}
