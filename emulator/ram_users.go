package emulator

import (
	"net/http"
	"strings"
	"time"
)

// Users and AccessKeys.

func (u *user) view(withUpdate bool) map[string]any {
	m := map[string]any{
		"UserId":      u.ID,
		"UserName":    u.Name,
		"DisplayName": u.DisplayName,
		"CreateDate":  fmtTime(u.CreateDate),
	}
	if u.Email != "" {
		m["Email"] = u.Email
	}
	if u.MobilePhone != "" {
		m["MobilePhone"] = u.MobilePhone
	}
	if u.Comments != "" {
		m["Comments"] = u.Comments
	}
	if withUpdate {
		m["UpdateDate"] = fmtTime(u.UpdateDate)
	}
	return m
}

type userFields struct {
	name, displayName, mobilePhone, email, comments string
}

func checkUserFields(f userFields, prefix string) *APIError {
	if aerr := checkName(prefix+"UserName", f.name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return aerr
	}
	if aerr := checkLength(prefix+"DisplayName", f.displayName, maxDisplayNameChars); aerr != nil {
		return aerr
	}
	if aerr := checkLength(prefix+"Comments", f.comments, maxCommentsChars); aerr != nil {
		return aerr
	}
	if f.mobilePhone != "" && !validMobilePhone(f.mobilePhone) {
		return apiErr(http.StatusBadRequest, "InvalidParameter."+prefix+"MobilePhone.Format", `The format of the parameter - "%sMobilePhone" is incorrect.`, prefix)
	}
	if f.email != "" && (!strings.Contains(f.email, "@") || strings.ContainsAny(f.email, " \t\r\n")) {
		return apiErr(http.StatusBadRequest, "InvalidParameter."+prefix+"Email.Format", `The format of the parameter - "%sEmail" is incorrect.`, prefix)
	}
	return nil
}

// validMobilePhone accepts <country code>-<number>, e.g. 86-18600008888.
func validMobilePhone(s string) bool {
	cc, num, ok := strings.Cut(s, "-")
	if !ok || cc == "" || num == "" || len(cc) > 4 || len(num) > 20 {
		return false
	}
	for _, c := range cc + num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// createUserLocked creates a RAM user with the API's validation and quota.
func (e *Emulator) createUserLocked(f userFields, now time.Time) (*user, *APIError) {
	if aerr := checkUserFields(f, ""); aerr != nil {
		return nil, aerr
	}
	if _, exists := e.st.Users[f.name]; exists {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.User", "The user does already EXIST.")
	}
	if len(e.st.Users) >= maxUsers {
		return nil, apiErr(http.StatusConflict, "LimitExceeded.User", "The count of users beyond the current limits.")
	}
	u := &user{
		Name: f.name, ID: e.numericID(16), DisplayName: f.displayName,
		MobilePhone: f.mobilePhone, Email: f.email, Comments: f.comments,
		CreateDate: now, UpdateDate: now,
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Name
	}
	e.st.Users[u.Name] = u
	return u, nil
}

func (e *Emulator) ramCreateUser(q *rpcRequest) (map[string]any, *APIError) {
	f := userFields{q.param("UserName"), q.param("DisplayName"), q.param("MobilePhone"), q.param("Email"), q.param("Comments")}
	if aerr := checkUserFields(f, ""); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.authorizeLocked(q, "ram:CreateUser", e.ramARN("user", f.name)); aerr != nil {
		return nil, aerr
	}
	u, aerr := e.createUserLocked(f, q.now)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"User": u.view(false)}, nil
}

// userParam reads a required UserName, checks its format and authorization.
func (e *Emulator) userParamLocked(q *rpcRequest, action string) (string, *APIError) {
	name := q.param("UserName")
	if aerr := checkName("UserName", name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return "", aerr
	}
	return name, e.authorizeLocked(q, action, e.ramARN("user", name))
}

func (e *Emulator) ramGetUser(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	name, aerr := e.userParamLocked(q, "ram:GetUser")
	if aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[name]
	if u == nil {
		return nil, errUserNotExist(name)
	}
	return map[string]any{"User": u.view(true)}, nil
}

func (e *Emulator) ramUpdateUser(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.userParamLocked(q, "ram:UpdateUser")
	if aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[name]
	if u == nil {
		return nil, errUserNotExist(name)
	}
	f := userFields{u.Name, u.DisplayName, u.MobilePhone, u.Email, u.Comments}
	if v := q.param("NewUserName"); v != "" {
		f.name = v
	}
	if v := q.param("NewDisplayName"); v != "" {
		f.displayName = v
	}
	if v := q.param("NewMobilePhone"); v != "" {
		f.mobilePhone = v
	}
	if v := q.param("NewEmail"); v != "" {
		f.email = v
	}
	if v := q.param("NewComments"); v != "" {
		f.comments = v
	}
	if aerr := checkUserFields(f, "New"); aerr != nil {
		return nil, aerr
	}
	if f.name != u.Name {
		if _, exists := e.st.Users[f.name]; exists {
			return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.User", "The user does already EXIST.")
		}
		delete(e.st.Users, u.Name)
		u.Name = f.name
		e.st.Users[u.Name] = u
		for _, k := range u.AccessKeys {
			e.keys[k.ID] = &keyRef{key: k, user: u.Name}
		}
	}
	u.DisplayName, u.MobilePhone, u.Email, u.Comments = f.displayName, f.mobilePhone, f.email, f.comments
	u.UpdateDate = q.now
	return map[string]any{"User": u.view(true)}, nil
}

func (e *Emulator) ramDeleteUser(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	name, aerr := e.userParamLocked(q, "ram:DeleteUser")
	if aerr != nil {
		return nil, aerr
	}
	if aerr := e.deleteUserLocked(name); aerr != nil {
		return nil, aerr
	}
	return map[string]any{}, nil
}

// deleteUserLocked applies the legacy DeleteUser rule: no AccessKey, attached
// policy, group membership, login profile or MFA device may remain.
func (e *Emulator) deleteUserLocked(name string) *APIError {
	u := e.st.Users[name]
	switch {
	case u == nil:
		return errUserNotExist(name)
	case len(u.AccessKeys) > 0:
		return apiErr(http.StatusConflict, "DeleteConflict.User.AccessKey", "The user CAN NOT has any access key while deleting the user.")
	case len(u.Policies) > 0:
		return apiErr(http.StatusConflict, "DeleteConflict.User.Policy", "The user CAN NOT has any attached policy while deleting the user.")
	case len(u.Groups) > 0:
		return apiErr(http.StatusConflict, "DeleteConflict.User.Group", "The user CAN NOT belong to any group while deleting the user.")
	case u.LoginProfile != nil:
		return apiErr(http.StatusConflict, "DeleteConflict.User.LoginProfile", "The user CAN NOT has any login profile while deleting the user.")
	case u.MFADevice != nil:
		return apiErr(http.StatusConflict, "DeleteConflict.User.MFADevice", "The user CAN NOT has any MFA device while deleting the user.")
	}
	delete(e.st.Users, name)
	return nil
}

func (e *Emulator) ramListUsers(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if aerr := e.authorizeLocked(q, "ram:ListUsers", e.ramARN("user", "*")); aerr != nil {
		return nil, aerr
	}
	page, marker, truncated, aerr := paginate(q, sortedKeys(e.st.Users), maxListMaxItems)
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(page))
	for _, n := range page {
		items = append(items, e.st.Users[n].view(true))
	}
	resp := map[string]any{"Users": listEnvelope("User", items), "IsTruncated": truncated}
	if truncated {
		resp["Marker"] = marker
	}
	return resp, nil
}

// AccessKeys.

func keyView(k *accessKey, withSecret bool) map[string]any {
	m := map[string]any{"AccessKeyId": k.ID, "Status": k.Status, "CreateDate": fmtTime(k.CreateDate)}
	if withSecret {
		m["AccessKeySecret"] = k.Secret
	}
	return m
}

// keyUserLocked resolves the UserName of an AccessKey action: the parameter, or
// the calling RAM user's own name when it is omitted.
func (e *Emulator) keyUserLocked(q *rpcRequest, action string) (*user, *APIError) {
	name := q.param("UserName")
	if name == "" {
		if q.caller.kind != kindUser {
			return nil, errMissing("UserName")
		}
		name = q.caller.userName
	}
	if aerr := checkName("UserName", name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return nil, aerr
	}
	if aerr := e.authorizeLocked(q, action, e.ramARN("user", name)); aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[name]
	if u == nil {
		return nil, errUserNotExist(name)
	}
	return u, nil
}

// createAccessKeyLocked adds a key to u (id and secret generated when empty).
func (e *Emulator) createAccessKeyLocked(u *user, id, secret, status string, now time.Time) (*accessKey, *APIError) {
	if len(u.AccessKeys) >= maxAccessKeysPerUser {
		return nil, apiErr(http.StatusConflict, "LimitExceeded.User.AccessKey", "The access key count of the user access keys beyond the current limits.")
	}
	if id == "" {
		id = e.newAccessKeyID()
	}
	if secret == "" {
		secret = e.newAccessKeySecret()
	}
	if status == "" {
		status = accessKeyStatusActive
	}
	if _, taken := e.keys[id]; taken {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.User.AccessKey", "The access key does already EXIST.")
	}
	k := &accessKey{ID: id, Secret: secret, Status: status, CreateDate: now}
	u.AccessKeys = append(u.AccessKeys, k)
	e.keys[id] = &keyRef{key: k, user: u.Name}
	return k, nil
}

func (e *Emulator) ramCreateAccessKey(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.keyUserLocked(q, "ram:CreateAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	k, aerr := e.createAccessKeyLocked(u, "", "", "", q.now)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"AccessKey": keyView(k, true)}, nil
}

func findKey(u *user, id string) int {
	for i, k := range u.AccessKeys {
		if k.ID == id {
			return i
		}
	}
	return -1
}

func errKeyNotExist(id string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.User.AccessKey", "The user access key does not exist: %s.", id)
}

func (e *Emulator) ramUpdateAccessKey(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("UserAccessKeyId", "Status"); aerr != nil {
		return nil, aerr
	}
	status := q.param("Status")
	if status != accessKeyStatusActive && status != accessKeyStatusInactive {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.Status", `The parameter - "Status" must be Active or Inactive.`)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.keyUserLocked(q, "ram:UpdateAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	i := findKey(u, q.param("UserAccessKeyId"))
	if i < 0 {
		return nil, errKeyNotExist(q.param("UserAccessKeyId"))
	}
	u.AccessKeys[i].Status = status
	return map[string]any{}, nil
}

func (e *Emulator) ramDeleteAccessKey(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("UserAccessKeyId"); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.keyUserLocked(q, "ram:DeleteAccessKey")
	if aerr != nil {
		return nil, aerr
	}
	id := q.param("UserAccessKeyId")
	i := findKey(u, id)
	if i < 0 {
		return nil, errKeyNotExist(id)
	}
	u.AccessKeys = append(u.AccessKeys[:i], u.AccessKeys[i+1:]...)
	delete(e.keys, id)
	return map[string]any{}, nil
}

func (e *Emulator) ramListAccessKeys(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	u, aerr := e.keyUserLocked(q, "ram:ListAccessKeys")
	if aerr != nil {
		return nil, aerr
	}
	items := make([]map[string]any, 0, len(u.AccessKeys))
	for _, k := range u.AccessKeys {
		items = append(items, keyView(k, false))
	}
	return map[string]any{"AccessKeys": listEnvelope("AccessKey", items)}, nil
}

func (e *Emulator) ramGetAccessKeyLastUsed(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("UserAccessKeyId"); aerr != nil {
		return nil, aerr
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	u, aerr := e.keyUserLocked(q, "ram:GetAccessKeyLastUsed")
	if aerr != nil {
		return nil, aerr
	}
	id := q.param("UserAccessKeyId")
	i := findKey(u, id)
	if i < 0 {
		return nil, errKeyNotExist(id)
	}
	last := map[string]any{}
	if ts := u.AccessKeys[i].lastUsed.Load(); ts != 0 {
		last["LastUsedDate"] = fmtTime(time.Unix(ts, 0))
	}
	return map[string]any{"AccessKeyLastUsed": last}, nil
}
