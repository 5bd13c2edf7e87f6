package emulator

import (
	"bytes"
	"container/heap"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// stateFormatVersion is written into saved state so a future format change can
// refuse or migrate old files.
const stateFormatVersion = 1

// state is everything the emulated account holds. It is serialized as is by
// SaveState (secrets included: the file is the emulator's own database).
type state struct {
	FormatVersion  int                      `json:"format_version"`
	AccountID      string                   `json:"account_id"`
	MainKey        *accessKey               `json:"main_access_key"`
	Users          map[string]*user         `json:"users"`
	Groups         map[string]*group        `json:"groups"`
	Policies       map[string]*policy       `json:"policies"` // custom policies only
	Roles          map[string]*role         `json:"roles"`
	OIDCProviders  map[string]*oidcProvider `json:"oidc_providers"`
	Sessions       map[string]*session      `json:"sessions"`
	ECS            ECSSettings              `json:"ecs"`
	CredentialsURI CredentialsURISettings   `json:"credentials_uri"`
	// TokenKey authenticates the SecurityTokens the emulator issues.
	TokenKey []byte `json:"token_key"`
	// OIDCKey is the built-in issuer's RSA key (PKCS#8 DER), once generated.
	OIDCKey []byte `json:"oidc_key,omitempty"`
}

type accessKey struct {
	ID         string    `json:"id"`
	Secret     string    `json:"secret"`
	Status     string    `json:"status"`
	CreateDate time.Time `json:"create_date"`
	// LastUsed is updated on the request path without the write lock.
	lastUsed atomic.Int64 // unix seconds, 0 = never
}

// accessKeyJSON is the serialized form of accessKey (atomic fields cannot be
// marshaled directly).
type accessKeyJSON struct {
	ID         string    `json:"id"`
	Secret     string    `json:"secret"`
	Status     string    `json:"status"`
	CreateDate time.Time `json:"create_date"`
	LastUsed   int64     `json:"last_used,omitempty"`
}

func (k *accessKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(accessKeyJSON{k.ID, k.Secret, k.Status, k.CreateDate, k.lastUsed.Load()})
}

func (k *accessKey) UnmarshalJSON(b []byte) error {
	var j accessKeyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	k.ID, k.Secret, k.Status, k.CreateDate = j.ID, j.Secret, j.Status, j.CreateDate
	k.lastUsed.Store(j.LastUsed)
	return nil
}

type attachment struct {
	Type       string    `json:"type"` // "System" or "Custom"
	Name       string    `json:"name"`
	AttachDate time.Time `json:"attach_date"`
}

type membership struct {
	Group    string    `json:"group"`
	JoinDate time.Time `json:"join_date"`
}

type user struct {
	Name        string        `json:"name"`
	ID          string        `json:"id"`
	DisplayName string        `json:"display_name,omitempty"`
	Email       string        `json:"email,omitempty"`
	MobilePhone string        `json:"mobile_phone,omitempty"`
	Comments    string        `json:"comments,omitempty"`
	CreateDate  time.Time     `json:"create_date"`
	UpdateDate  time.Time     `json:"update_date"`
	AccessKeys  []*accessKey  `json:"access_keys,omitempty"`
	Policies    []*attachment `json:"policies,omitempty"`
	Groups      []*membership `json:"groups,omitempty"`
	// LoginProfile and MFADevice only matter for DeleteUser's conflicts: the
	// emulator has no console to log in to.
	LoginProfile *loginProfile `json:"login_profile,omitempty"`
	MFADevice    *mfaDevice    `json:"mfa_device,omitempty"`
}

type loginProfile struct {
	PasswordResetRequired bool      `json:"password_reset_required"`
	MFABindRequired       bool      `json:"mfa_bind_required"`
	CreateDate            time.Time `json:"create_date"`
}

type mfaDevice struct {
	SerialNumber string    `json:"serial_number"`
	BindDate     time.Time `json:"bind_date"`
}

type group struct {
	Name       string        `json:"name"`
	ID         string        `json:"id"`
	Comments   string        `json:"comments,omitempty"`
	CreateDate time.Time     `json:"create_date"`
	UpdateDate time.Time     `json:"update_date"`
	Policies   []*attachment `json:"policies,omitempty"`
}

type policyVersion struct {
	ID         string    `json:"id"`
	Document   string    `json:"document"`
	CreateDate time.Time `json:"create_date"`
	parsed     *Policy
}

type policy struct {
	Name           string           `json:"name"`
	Type           string           `json:"type"`
	Description    string           `json:"description,omitempty"`
	CreateDate     time.Time        `json:"create_date"`
	UpdateDate     time.Time        `json:"update_date"`
	DefaultVersion string           `json:"default_version"`
	Versions       []*policyVersion `json:"versions"`
	NextVersion    int              `json:"next_version"`
}

type role struct {
	Name               string        `json:"name"`
	ID                 string        `json:"id"`
	Description        string        `json:"description,omitempty"`
	TrustPolicy        string        `json:"trust_policy"`
	MaxSessionDuration int           `json:"max_session_duration"`
	CreateDate         time.Time     `json:"create_date"`
	UpdateDate         time.Time     `json:"update_date"`
	Policies           []*attachment `json:"policies,omitempty"`
	trust              *Policy
}

type oidcProvider struct {
	Name       string    `json:"name"`
	ClientIDs  []string  `json:"client_ids"`
	IssuerURL  string    `json:"issuer_url,omitempty"` // empty: the built-in issuer
	CreateDate time.Time `json:"create_date"`
}

type session struct {
	AccessKeyID    string    `json:"access_key_id"`
	Secret         string    `json:"secret"`
	SecurityToken  string    `json:"security_token"`
	Expiration     time.Time `json:"expiration"`
	IssuedAt       time.Time `json:"issued_at"`
	RoleName       string    `json:"role_name"`
	RoleID         string    `json:"role_id"`
	SessionName    string    `json:"session_name"`
	SourceIdentity string    `json:"source_identity,omitempty"`
	Policy         string    `json:"policy,omitempty"` // the session policy, if any
	Via            string    `json:"via"`              // AssumeRole, AssumeRoleWithOIDC, service:<principal>
	Caller         string    `json:"caller,omitempty"` // ARN of the identity that asked for it
	parsed         *Policy
}

// defaultPolicy returns the parsed default version of p.
func (p *policy) defaultPolicy() *Policy {
	for _, v := range p.Versions {
		if v.ID == p.DefaultVersion {
			return v.parsed
		}
	}
	return nil
}

func (p *policy) version(id string) *policyVersion {
	for _, v := range p.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// SaveState writes the complete state (users, keys with their secrets, policies,
// roles, live sessions, settings) as JSON, for the command's -state flag.
func (e *Emulator) SaveState(w io.Writer) error {
	e.mu.RLock()
	b, err := e.marshalStateLocked()
	e.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("emulator: save state: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// LoadState replaces the whole state with one written by SaveState. Counters,
// faults and remembered nonces are kept.
func (e *Emulator) LoadState(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("emulator: load state: %w", err)
	}
	st, err := e.unmarshalState(b)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.st = st
	e.rebuildIndexLocked()
	e.mu.Unlock()
	return nil
}

func (e *Emulator) marshalStateLocked() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e.st); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unmarshalState decodes a saved state and re-derives what is not stored
// (parsed policies), checking that every stored document still parses.
func (e *Emulator) unmarshalState(b []byte) (*state, error) {
	st := &state{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(st); err != nil {
		return nil, fmt.Errorf("emulator: load state: %w", err)
	}
	if st.FormatVersion != stateFormatVersion {
		return nil, fmt.Errorf("emulator: load state: format_version %d is not supported (want %d)", st.FormatVersion, stateFormatVersion)
	}
	if st.AccountID == "" || st.MainKey == nil || st.MainKey.ID == "" || st.MainKey.Secret == "" {
		return nil, fmt.Errorf("emulator: load state: account_id and main_access_key are required")
	}
	if len(st.TokenKey) < 16 {
		return nil, fmt.Errorf("emulator: load state: token_key is missing or too short")
	}
	if st.OIDCKey != nil {
		if _, err := x509.ParsePKCS8PrivateKey(st.OIDCKey); err != nil {
			return nil, fmt.Errorf("emulator: load state: oidc_key: %w", err)
		}
	}
	if st.Users == nil {
		st.Users = map[string]*user{}
	}
	if st.Groups == nil {
		st.Groups = map[string]*group{}
	}
	if st.Policies == nil {
		st.Policies = map[string]*policy{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*role{}
	}
	if st.OIDCProviders == nil {
		st.OIDCProviders = map[string]*oidcProvider{}
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*session{}
	}
	for name, p := range st.Policies {
		for _, v := range p.Versions {
			parsed, err := ParsePolicy(v.Document)
			if err != nil {
				return nil, fmt.Errorf("emulator: load state: policies[%s].versions[%s]: %w", name, v.ID, err)
			}
			v.parsed = parsed
		}
		if p.defaultPolicy() == nil {
			return nil, fmt.Errorf("emulator: load state: policies[%s]: default version %q missing", name, p.DefaultVersion)
		}
	}
	for name, r := range st.Roles {
		parsed, err := ParseTrustPolicy(r.TrustPolicy)
		if err != nil {
			return nil, fmt.Errorf("emulator: load state: roles[%s].trust_policy: %w", name, err)
		}
		r.trust = parsed
	}
	for id, s := range st.Sessions {
		if s.Policy != "" {
			parsed, err := ParsePolicy(s.Policy)
			if err != nil {
				return nil, fmt.Errorf("emulator: load state: sessions[%s].policy: %w", id, err)
			}
			s.parsed = parsed
		}
	}
	return st, nil
}

// rebuildIndexLocked rebuilds the AccessKeyId index from st.
func (e *Emulator) rebuildIndexLocked() {
	e.expiries = e.expiries[:0]
	for id, s := range e.st.Sessions {
		e.expiries = append(e.expiries, sessionExpiry{exp: s.Expiration, keyID: id})
	}
	heap.Init(&e.expiries)
	e.keys = make(map[string]*keyRef, 1+len(e.st.Users))
	e.keys[e.st.MainKey.ID] = &keyRef{key: e.st.MainKey}
	for _, u := range e.st.Users {
		for _, k := range u.AccessKeys {
			e.keys[k.ID] = &keyRef{key: k, user: u.Name}
		}
	}
}
