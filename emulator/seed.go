package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Seed is the initial content of an emulated account, usually read from a JSON
// file (fields in snake_case). Everything in it goes through the same checks as
// the RAM API; an error names the offending field, e.g.
// "seed: users[1].access_keys[2]: LimitExceeded.User.AccessKey ...".
type Seed struct {
	AccountID      string                  `json:"account_id,omitempty"`
	MainAccessKey  *SeedAccessKey          `json:"main_access_key,omitempty"`
	Users          []SeedUser              `json:"users,omitempty"`
	Groups         []SeedGroup             `json:"groups,omitempty"`
	Policies       []SeedPolicy            `json:"policies,omitempty"`
	Roles          []SeedRole              `json:"roles,omitempty"`
	OIDCProviders  []SeedOIDCProvider      `json:"oidc_providers,omitempty"`
	ECS            *ECSSettings            `json:"ecs,omitempty"`
	CredentialsURI *CredentialsURISettings `json:"credentials_uri,omitempty"`
}

// SeedAccessKey is an AccessKey pair; Status is Active (default) or Inactive.
type SeedAccessKey struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	Status string `json:"status,omitempty"`
}

// SeedPolicyRef names a policy to attach; Type is System or Custom (default:
// Custom when the seed defines a custom policy of that name, else System).
type SeedPolicyRef struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// SeedUser is a RAM user with its keys, policies and groups.
type SeedUser struct {
	Name        string          `json:"name"`
	DisplayName string          `json:"display_name,omitempty"`
	AccessKeys  []SeedAccessKey `json:"access_keys,omitempty"`
	Policies    []SeedPolicyRef `json:"policies,omitempty"`
	Groups      []string        `json:"groups,omitempty"`
}

// SeedGroup is a RAM group with its policies.
type SeedGroup struct {
	Name     string          `json:"name"`
	Comments string          `json:"comments,omitempty"`
	Policies []SeedPolicyRef `json:"policies,omitempty"`
}

// SeedPolicy is a custom policy; Document may be a JSON string or object.
type SeedPolicy struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Document    JSONDocument `json:"document"`
}

// SeedRole is a RAM role; TrustPolicy may be a JSON string or object, and
// MaxSessionDuration is in seconds (0: 3600).
type SeedRole struct {
	Name               string          `json:"name"`
	Description        string          `json:"description,omitempty"`
	TrustPolicy        JSONDocument    `json:"trust_policy"`
	MaxSessionDuration int             `json:"max_session_duration,omitempty"`
	Policies           []SeedPolicyRef `json:"policies,omitempty"`
}

// SeedOIDCProvider is an OIDC identity provider; an empty IssuerURL means the
// built-in issuer.
type SeedOIDCProvider struct {
	Name      string   `json:"name"`
	ClientIDs []string `json:"client_ids"`
	IssuerURL string   `json:"issuer_url,omitempty"`
}

// JSONDocument is a policy document given in a seed either as a JSON string or
// as a JSON object (kept as compact text).
type JSONDocument string

// UnmarshalJSON accepts a string or an object.
func (d *JSONDocument) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = JSONDocument(s)
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("must be a JSON string or object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*d = JSONDocument(buf.String())
	return nil
}

// ParseSeed decodes a JSON seed; unknown fields are errors.
func ParseSeed(r io.Reader) (*Seed, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	s := &Seed{}
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seed: unexpected data after the JSON object")
	}
	return s, nil
}

// LoadSeedFile reads and decodes a JSON seed file.
func LoadSeedFile(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer f.Close()
	s, err := ParseSeed(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func seedErr(field string, err error) error {
	return fmt.Errorf("emulator: seed: %s: %w", field, err)
}

func validKeyID(id string) bool {
	if len(id) < 4 || len(id) > 128 || strings.HasPrefix(id, "STS.") {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isLetterDigit(id[i]) {
			return false
		}
	}
	return true
}

func validSecret(s string) bool {
	if len(s) < 8 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// buildInitialState creates the state New starts from: the account, its main
// key, and the seed applied through the API's own checks.
func (e *Emulator) buildInitialState(seed *Seed) (*state, error) {
	if seed == nil {
		seed = &Seed{}
	}
	now := e.now()
	st := &state{
		FormatVersion: stateFormatVersion, AccountID: DefaultAccountID,
		Users: map[string]*user{}, Groups: map[string]*group{}, Policies: map[string]*policy{},
		Roles: map[string]*role{}, OIDCProviders: map[string]*oidcProvider{}, Sessions: map[string]*session{},
		TokenKey: e.randBytes(32),
	}
	if seed.AccountID != "" {
		if len(seed.AccountID) < 6 || len(seed.AccountID) > 20 || strings.Trim(seed.AccountID, digits) != "" {
			return nil, seedErr("account_id", fmt.Errorf("%q must be 6 to 20 digits", seed.AccountID))
		}
		st.AccountID = seed.AccountID
	}
	st.MainKey = &accessKey{ID: e.newAccessKeyID(), Secret: e.newAccessKeySecret(), Status: accessKeyStatusActive, CreateDate: now}
	if k := seed.MainAccessKey; k != nil {
		if !validKeyID(k.ID) {
			return nil, seedErr("main_access_key.id", errors.New("must be 4 to 128 letters or digits and not start with \"STS.\""))
		}
		if !validSecret(k.Secret) {
			return nil, seedErr("main_access_key.secret", fmt.Errorf("must be 8 to 128 printable ASCII characters"))
		}
		if k.Status != "" && k.Status != accessKeyStatusActive {
			return nil, seedErr("main_access_key.status", fmt.Errorf("the main key must be Active"))
		}
		st.MainKey.ID, st.MainKey.Secret = k.ID, k.Secret
	}
	// The helpers below work on e.st and e.keys, under construction here.
	e.st = st
	e.rebuildIndexLocked()

	custom := map[string]bool{}
	for i, p := range seed.Policies {
		if _, aerr := e.createPolicyLocked(p.Name, p.Description, string(p.Document), now); aerr != nil {
			return nil, seedErr(fmt.Sprintf("policies[%d]", i), aerr)
		}
		custom[p.Name] = true
	}
	refType := func(ref SeedPolicyRef) string {
		if ref.Type != "" {
			return ref.Type
		}
		if custom[ref.Name] {
			return policyTypeCustom
		}
		return policyTypeSystem
	}
	for i, g := range seed.Groups {
		if _, aerr := e.createGroupLocked(g.Name, g.Comments, now); aerr != nil {
			return nil, seedErr(fmt.Sprintf("groups[%d]", i), aerr)
		}
		for j, ref := range g.Policies {
			if aerr := e.attachLocked("group", g.Name, refType(ref), ref.Name, now); aerr != nil {
				return nil, seedErr(fmt.Sprintf("groups[%d].policies[%d]", i, j), aerr)
			}
		}
	}
	for i, su := range seed.Users {
		u, aerr := e.createUserLocked(userFields{name: su.Name, displayName: su.DisplayName}, now)
		if aerr != nil {
			return nil, seedErr(fmt.Sprintf("users[%d]", i), aerr)
		}
		for j, k := range su.AccessKeys {
			field := fmt.Sprintf("users[%d].access_keys[%d]", i, j)
			if !validKeyID(k.ID) {
				return nil, seedErr(field+".id", errors.New("must be 4 to 128 letters or digits and not start with \"STS.\""))
			}
			if !validSecret(k.Secret) {
				return nil, seedErr(field+".secret", fmt.Errorf("must be 8 to 128 printable ASCII characters"))
			}
			if k.Status != "" && k.Status != accessKeyStatusActive && k.Status != accessKeyStatusInactive {
				return nil, seedErr(field+".status", fmt.Errorf("%q is not Active or Inactive", k.Status))
			}
			if _, aerr := e.createAccessKeyLocked(u, k.ID, k.Secret, k.Status, now); aerr != nil {
				return nil, seedErr(field, aerr)
			}
		}
		for j, ref := range su.Policies {
			if aerr := e.attachLocked("user", su.Name, refType(ref), ref.Name, now); aerr != nil {
				return nil, seedErr(fmt.Sprintf("users[%d].policies[%d]", i, j), aerr)
			}
		}
		for j, g := range su.Groups {
			if aerr := e.addUserToGroupLocked(su.Name, g, now); aerr != nil {
				return nil, seedErr(fmt.Sprintf("users[%d].groups[%d]", i, j), aerr)
			}
		}
	}
	for i, sr := range seed.Roles {
		if _, aerr := e.createRoleLocked(sr.Name, sr.Description, string(sr.TrustPolicy), sr.MaxSessionDuration, now); aerr != nil {
			return nil, seedErr(fmt.Sprintf("roles[%d]", i), aerr)
		}
		for j, ref := range sr.Policies {
			if aerr := e.attachLocked("role", sr.Name, refType(ref), ref.Name, now); aerr != nil {
				return nil, seedErr(fmt.Sprintf("roles[%d].policies[%d]", i, j), aerr)
			}
		}
	}
	for i, p := range seed.OIDCProviders {
		if aerr := e.registerOIDCProviderLocked(p.Name, p.ClientIDs, p.IssuerURL, now); aerr != nil {
			return nil, seedErr(fmt.Sprintf("oidc_providers[%d]", i), aerr)
		}
	}
	if seed.ECS != nil {
		if n := seed.ECS.RoleName; n != "" && st.Roles[n] == nil {
			return nil, seedErr("ecs.role_name", fmt.Errorf("role %q is not defined in roles", n))
		}
		st.ECS = *seed.ECS
	}
	if seed.CredentialsURI != nil {
		if n := seed.CredentialsURI.RoleName; n != "" && st.Roles[n] == nil {
			return nil, seedErr("credentials_uri.role_name", fmt.Errorf("role %q is not defined in roles", n))
		}
		st.CredentialsURI = *seed.CredentialsURI
	}
	return st, nil
}
