package emulator

import "net/http"

// Console login profiles and MFA devices. The emulator has no console: these
// exist so that DeleteUser's DeleteConflict.User.LoginProfile and
// .MFADevice rules, and the calls that clear them, behave like the service.
// Passwords are checked for length and then discarded.

const (
	minPasswordChars = 8
	maxPasswordChars = 32
)

func (e *Emulator) loginProfileView(u *user) map[string]any {
	return map[string]any{
		"UserName":              u.Name,
		"PasswordResetRequired": u.LoginProfile.PasswordResetRequired,
		"MFABindRequired":       u.LoginProfile.MFABindRequired,
		"CreateDate":            fmtTime(u.LoginProfile.CreateDate),
	}
}

func errNoLoginProfile(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.User.LoginProfile", "The login profile of the user does not exist: %s.", name)
}

func errNoMFADevice(name string) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.User.MFADevice", "The MFA device of the user does not exist: %s.", name)
}

func checkPassword(p string) *APIError {
	n := len([]rune(p))
	if n < minPasswordChars || n > maxPasswordChars {
		return apiErr(http.StatusBadRequest, "InvalidParameter.Password.Length",
			"The password must be %d to %d characters in length.", minPasswordChars, maxPasswordChars)
	}
	return nil
}

// existingUserLocked reads and authorizes UserName and finds the user.
func (e *Emulator) existingUserLocked(q *rpcRequest, action string) (*user, *APIError) {
	name, aerr := e.userParamLocked(q, action)
	if aerr != nil {
		return nil, aerr
	}
	u := e.st.Users[name]
	if u == nil {
		return nil, errUserNotExist(name)
	}
	return u, nil
}

func (e *Emulator) ramCreateLoginProfile(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("Password"); aerr != nil {
		return nil, aerr
	}
	if aerr := checkPassword(q.param("Password")); aerr != nil {
		return nil, aerr
	}
	reset, aerr := parseBool("PasswordResetRequired", q.param("PasswordResetRequired"), false)
	if aerr != nil {
		return nil, aerr
	}
	mfa, aerr := parseBool("MFABindRequired", q.param("MFABindRequired"), false)
	if aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.existingUserLocked(q, "ram:CreateLoginProfile")
	if aerr != nil {
		return nil, aerr
	}
	if u.LoginProfile != nil {
		return nil, apiErr(http.StatusConflict, "EntityAlreadyExists.User.LoginProfile", "The login profile of the user does already EXIST.")
	}
	u.LoginProfile = &loginProfile{PasswordResetRequired: reset, MFABindRequired: mfa, CreateDate: q.now}
	return map[string]any{"LoginProfile": e.loginProfileView(u)}, nil
}

func (e *Emulator) ramGetLoginProfile(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	u, aerr := e.existingUserLocked(q, "ram:GetLoginProfile")
	if aerr != nil {
		return nil, aerr
	}
	if u.LoginProfile == nil {
		return nil, errNoLoginProfile(u.Name)
	}
	return map[string]any{"LoginProfile": e.loginProfileView(u)}, nil
}

func (e *Emulator) ramUpdateLoginProfile(q *rpcRequest) (map[string]any, *APIError) {
	if p := q.param("Password"); p != "" {
		if aerr := checkPassword(p); aerr != nil {
			return nil, aerr
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.existingUserLocked(q, "ram:UpdateLoginProfile")
	if aerr != nil {
		return nil, aerr
	}
	if u.LoginProfile == nil {
		return nil, errNoLoginProfile(u.Name)
	}
	reset, aerr := parseBool("PasswordResetRequired", q.param("PasswordResetRequired"), u.LoginProfile.PasswordResetRequired)
	if aerr != nil {
		return nil, aerr
	}
	mfa, aerr := parseBool("MFABindRequired", q.param("MFABindRequired"), u.LoginProfile.MFABindRequired)
	if aerr != nil {
		return nil, aerr
	}
	u.LoginProfile.PasswordResetRequired, u.LoginProfile.MFABindRequired = reset, mfa
	return map[string]any{}, nil
}

func (e *Emulator) ramDeleteLoginProfile(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.existingUserLocked(q, "ram:DeleteLoginProfile")
	if aerr != nil {
		return nil, aerr
	}
	if u.LoginProfile == nil {
		return nil, errNoLoginProfile(u.Name)
	}
	u.LoginProfile = nil
	return map[string]any{}, nil
}

func (e *Emulator) ramGetUserMFAInfo(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	u, aerr := e.existingUserLocked(q, "ram:GetUserMFAInfo")
	if aerr != nil {
		return nil, aerr
	}
	if u.MFADevice == nil {
		return nil, errNoMFADevice(u.Name)
	}
	return map[string]any{"MFADevice": map[string]any{"SerialNumber": u.MFADevice.SerialNumber, "Type": "VMFA"}}, nil
}

func (e *Emulator) ramUnbindMFADevice(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u, aerr := e.existingUserLocked(q, "ram:UnbindMFADevice")
	if aerr != nil {
		return nil, aerr
	}
	if u.MFADevice == nil {
		return nil, errNoMFADevice(u.Name)
	}
	serial := u.MFADevice.SerialNumber
	u.MFADevice = nil
	return map[string]any{"MFADevice": map[string]any{"SerialNumber": serial}}, nil
}

// CreateLoginProfile gives a user a console password, as a person would in the
// console (DeleteUser then fails with DeleteConflict.User.LoginProfile).
func (e *Emulator) CreateLoginProfile(userName string) error {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.st.Users[userName]
	if u == nil {
		return errUserNotExist(userName)
	}
	if u.LoginProfile != nil {
		return apiErr(http.StatusConflict, "EntityAlreadyExists.User.LoginProfile", "The login profile of the user does already EXIST.")
	}
	u.LoginProfile = &loginProfile{CreateDate: now}
	return nil
}

// BindMFADevice binds a virtual MFA device to a user, as a person would in the
// console (DeleteUser then fails with DeleteConflict.User.MFADevice), and
// returns its serial number.
func (e *Emulator) BindMFADevice(userName string) (serialNumber string, err error) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.st.Users[userName]
	if u == nil {
		return "", errUserNotExist(userName)
	}
	if u.MFADevice != nil {
		return "", apiErr(http.StatusConflict, "EntityAlreadyExists.User.MFADevice", "The user has already bound an MFA device.")
	}
	u.MFADevice = &mfaDevice{SerialNumber: "acs:ram::" + e.st.AccountID + ":mfa/" + userName, BindDate: now}
	return u.MFADevice.SerialNumber, nil
}
