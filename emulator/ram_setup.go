package emulator

import (
	"fmt"
	"time"
)

// Set-up helpers for tests and tools. Each does exactly what the RAM API would
// do, with the same validation and quotas, and fails with the *APIError the API
// would answer.

// apiError converts a nil *APIError into a nil error.
func apiError(aerr *APIError) error {
	if aerr == nil {
		return nil
	}
	return aerr
}

// CreateUser creates a RAM user.
func (e *Emulator) CreateUser(name string) error {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	_, aerr := e.createUserLocked(userFields{name: name}, now)
	return apiError(aerr)
}

// CreateAccessKey creates an AccessKey for a RAM user and returns its pair.
func (e *Emulator) CreateAccessKey(userName string) (id, secret string, err error) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.st.Users[userName]
	if u == nil {
		return "", "", errUserNotExist(userName)
	}
	k, aerr := e.createAccessKeyLocked(u, "", "", "", now)
	if aerr != nil {
		return "", "", aerr
	}
	return k.ID, k.Secret, nil
}

// SetAccessKeyStatus sets a user's AccessKey to Active or Inactive.
func (e *Emulator) SetAccessKeyStatus(userName, keyID, status string) error {
	if status != accessKeyStatusActive && status != accessKeyStatusInactive {
		return errInvalid("Status")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.st.Users[userName]
	if u == nil {
		return errUserNotExist(userName)
	}
	i := findKey(u, keyID)
	if i < 0 {
		return errKeyNotExist(keyID)
	}
	u.AccessKeys[i].Status = status
	return nil
}

// CreateRole creates a role with a trust policy (JSON text) and a maximum
// session duration (0: one hour), and returns its ARN.
func (e *Emulator) CreateRole(name, trustPolicy string, maxSessionDuration time.Duration) (arn string, err error) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r, aerr := e.createRoleLocked(name, "", trustPolicy, int(maxSessionDuration/time.Second), now)
	if aerr != nil {
		return "", aerr
	}
	return e.roleARNLocked(r.Name), nil
}

// AttachPolicy attaches a System or Custom policy to a "user", "group" or "role".
func (e *Emulator) AttachPolicy(principalKind, principal, policyType, policyName string) error {
	if _, ok := principalEntity[principalKind]; !ok {
		return fmt.Errorf("emulator: principal kind %q is not user, group or role", principalKind)
	}
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	return apiError(e.attachLocked(principalKind, principal, policyType, policyName, now))
}

// DetachPolicy detaches a policy from a "user", "group" or "role".
func (e *Emulator) DetachPolicy(principalKind, principal, policyType, policyName string) error {
	if _, ok := principalEntity[principalKind]; !ok {
		return fmt.Errorf("emulator: principal kind %q is not user, group or role", principalKind)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return apiError(e.detachLocked(principalKind, principal, policyType, policyName))
}

// CreatePolicy creates a custom policy from a JSON document.
func (e *Emulator) CreatePolicy(name, document string) error {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	_, aerr := e.createPolicyLocked(name, "", document, now)
	return apiError(aerr)
}

// CreateGroup creates a RAM group.
func (e *Emulator) CreateGroup(name string) error {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	_, aerr := e.createGroupLocked(name, "", now)
	return apiError(aerr)
}

// AddUserToGroup adds a user to a group.
func (e *Emulator) AddUserToGroup(userName, groupName string) error {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	return apiError(e.addUserToGroupLocked(userName, groupName, now))
}
