package emulator

import (
	"net/http"
	"time"
)

// Groups and memberships.

func (g *group) view(withUpdate bool) map[string]any {
	m := map[string]any{
		"GroupId":    g.ID,
		"GroupName":  g.Name,
		"Comments":   g.Comments,
		"CreateDate": fmtTime(g.CreateDate),
	}
	if withUpdate {
		m["UpdateDate"] = fmtTime(g.UpdateDate)
	}
	return m
}

func (e *Emulator) createGroupLocked(name, comments string, now time.Time) (*group, *APIError) {
	if aerr := checkName("GroupName", name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return nil, aerr
	}
	if aerr := checkLength("Comments", comments, maxCommentsChars); aerr != nil {
		return nil, aerr
	}
	if _, exists := e.st.Groups[name]; exists {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.Group", "The group does already EXIST.")
	}
	if len(e.st.Groups) >= maxGroups {
		return nil, apiErr(http.StatusConflict, "LimitExceeded.Group", "The count of groups beyond the current limits.")
	}
	g := &group{Name: name, ID: "g-" + e.randString(16, alnum), Comments: comments, CreateDate: now, UpdateDate: now}
	e.st.Groups[name] = g
	return g, nil
}

// groupParamLocked reads a required GroupName, checks its format and authorization.
func (e *Emulator) groupParamLocked(q *rpcRequest, action string) (string, *APIError) {
	name := q.param("GroupName")
	if aerr := checkName("GroupName", name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return "", aerr
	}
	return name, e.authorizeLocked(q, action, e.ramARN("group", name))
}

func (e *Emulator) ramCreateGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.groupParamLocked(q, "ram:CreateGroup")
	if aerr != nil {
		return nil, aerr
	}
	g, aerr := e.createGroupLocked(name, q.param("Comments"), q.now)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Group": g.view(false)}, nil
}

func (e *Emulator) ramGetGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	name, aerr := e.groupParamLocked(q, "ram:GetGroup")
	if aerr != nil {
		return nil, aerr
	}
	g := e.st.Groups[name]
	if g == nil {
		return nil, errGroupNotExist(name)
	}
	return map[string]any{"Group": g.view(true)}, nil
}

func (e *Emulator) groupMembersLocked(name string) []*user {
	var out []*user
	for _, n := range sortedKeys(e.st.Users) {
		u := e.st.Users[n]
		for _, m := range u.Groups {
			if m.Group == name {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

func (e *Emulator) ramDeleteGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.groupParamLocked(q, "ram:DeleteGroup")
	if aerr != nil {
		return nil, aerr
	}
	g := e.st.Groups[name]
	switch {
	case g == nil:
		return nil, errGroupNotExist(name)
	case len(e.groupMembersLocked(name)) > 0:
		return nil, apiErr(http.StatusConflict, "DeleteConflict.Group.User", "The group CAN NOT has any user while deleting the group.")
	case len(g.Policies) > 0:
		return nil, apiErr(http.StatusConflict, "DeleteConflict.Group.Policy", "The group CAN NOT has any attached policy while deleting the group.")
	}
	delete(e.st.Groups, name)
	return map[string]any{}, nil
}

func (e *Emulator) ramListGroups(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if aerr := e.authorizeLocked(q, "ram:ListGroups", e.ramARN("group", "*")); aerr != nil {
		return nil, aerr
	}
	page, marker, truncated, aerr := paginate(q, sortedKeys(e.st.Groups), maxListMaxItems)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(page))
	for _, n := range page {
		items = append(items, e.st.Groups[n].view(true))
	}
	resp := map[string]any{"Groups": listEnvelope("Group", items), "IsTruncated": truncated}
	if truncated {
		resp["Marker"] = marker
	}
	return resp, nil
}

// addUserToGroupLocked adds a membership with the API's checks.
func (e *Emulator) addUserToGroupLocked(userName, groupName string, now time.Time) *APIError {
	u := e.st.Users[userName]
	if u == nil {
		return errUserNotExist(userName)
	}
	if e.st.Groups[groupName] == nil {
		return errGroupNotExist(groupName)
	}
	for _, m := range u.Groups {
		if m.Group == groupName {
			return apiErr(http.StatusConflict, "EntityAlreadyExists.User.Group", "The user has already belonged to the group.")
		}
	}
	if len(u.Groups) >= maxGroupsPerUser {
		return apiErr(http.StatusConflict, "LimitExceeded.User.Group", "The count of groups the user joined beyond the current limits.")
	}
	u.Groups = append(u.Groups, &membership{Group: groupName, JoinDate: now})
	return nil
}

// membershipParamsLocked reads UserName and GroupName and authorizes action on both.
func (e *Emulator) membershipParamsLocked(q *rpcRequest, action string) (string, string, *APIError) {
	userName, groupName := q.param("UserName"), q.param("GroupName")
	if aerr := checkName("UserName", userName, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return "", "", aerr
	}
	if aerr := checkName("GroupName", groupName, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return "", "", aerr
	}
	if aerr := e.authorizeLocked(q, action, e.ramARN("group", groupName), e.ramARN("user", userName)); aerr != nil {
		return "", "", aerr
	}
	return userName, groupName, nil
}

func (e *Emulator) ramAddUserToGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	userName, groupName, aerr := e.membershipParamsLocked(q, "ram:AddUserToGroup")
	if aerr != nil {
		return nil, aerr
	}
	if aerr := e.addUserToGroupLocked(userName, groupName, q.now); aerr != nil {
		return nil, aerr
	}
	return map[string]any{}, nil
}

func (e *Emulator) ramRemoveUserFromGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	userName, groupName, aerr := e.membershipParamsLocked(q, "ram:RemoveUserFromGroup")
	if aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[userName]
	if u == nil {
		return nil, errUserNotExist(userName)
	}
	if e.st.Groups[groupName] == nil {
		return nil, errGroupNotExist(groupName)
	}
	for i, m := range u.Groups {
		if m.Group == groupName {
			u.Groups = append(u.Groups[:i], u.Groups[i+1:]...)
			return map[string]any{}, nil
		}
	}
	return nil, apiErr(http.StatusNotFound, "EntityNotExist.User.Group", "The user does not belong to the group.")
}

func (e *Emulator) ramListGroupsForUser(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	name, aerr := e.userParamLocked(q, "ram:ListGroupsForUser")
	if aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[name]
	if u == nil {
		return nil, errUserNotExist(name)
	}
	items := make([]map[string]any, 0, len(u.Groups))
	for _, m := range u.Groups {
		g := e.st.Groups[m.Group]
		if g == nil {
			continue
		}
		items = append(items, map[string]any{
			"GroupId": g.ID, "GroupName": g.Name, "Comments": g.Comments, "JoinDate": fmtTime(m.JoinDate),
		})
	}
	return map[string]any{"Groups": listEnvelope("Group", items)}, nil
}

func (e *Emulator) ramListUsersForGroup(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	name, aerr := e.groupParamLocked(q, "ram:ListUsersForGroup")
	if aerr != nil {
		return nil, aerr
	}
	if e.st.Groups[name] == nil {
		return nil, errGroupNotExist(name)
	}
	members := e.groupMembersLocked(name)
	names := make([]string, len(members))
	byName := map[string]*user{}
	for i, u := range members {
		names[i] = u.Name
		byName[u.Name] = u
	}
	page, marker, truncated, aerr := paginate(q, names, maxListMaxItems)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(page))
	for _, n := range page {
		u := byName[n]
		join := time.Time{}
		for _, m := range u.Groups {
			if m.Group == name {
				join = m.JoinDate
			}
		}
		items = append(items, map[string]any{"UserName": u.Name, "DisplayName": u.DisplayName, "JoinDate": fmtTime(join)})
	}
	resp := map[string]any{"Users": listEnvelope("User", items), "IsTruncated": truncated}
	if truncated {
		resp["Marker"] = marker
	}
	return resp, nil
}
