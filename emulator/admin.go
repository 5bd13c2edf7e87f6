package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// The admin API, under /_emulator/ (JSON in and out, no authentication: the
// emulator is a development tool meant to listen on loopback; requests must
// pass the rules of admin_guard.go: a loopback or listener Host, no browser
// Origin on state-changing requests, bodies as application/json):
//
//	GET    /_emulator/state              StateView (no secrets)
//	GET    /_emulator/counters           per-action call counters
//	DELETE /_emulator/counters           reset the counters
//	POST   /_emulator/reset              back to the state right after start
//	GET    /_emulator/faults             current FaultConfig
//	PUT    /_emulator/faults             replace it ({"seed":1,"rules":[{"action":"AssumeRole","kind":"throttle","probability":0.5,"count":3}]})
//	DELETE /_emulator/faults             remove every rule
//	GET|PUT /_emulator/ecs               ECSSettings ({"role_name":"..","require_token":true,"disabled":false})
//	GET|PUT /_emulator/credentials-uri   CredentialsURISettings ({"role_name":".."})
//	POST   /_emulator/oidc/token         mint a token: {"provider":"..","subject":"..","audience":"..","ttl_seconds":3600} -> {"token":".."}
//	GET    /_emulator/oidc/.well-known/openid-configuration, /_emulator/oidc/jwks  (built-in issuer)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func readJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(dst)
}

func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/_emulator"), "/")
	sub, isOIDC := strings.CutPrefix(path, "oidc/")
	isOIDC = isOIDC && sub != "token"
	// The issuer's public documents are exempt from the admin rules
	// (admin_guard.go); everything else, minting tokens included, is not.
	if !isOIDC || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		if refusal := e.checkAdminRequest(r); refusal != nil {
			e.log("admin %s %q refused: rule=%s status=%d", r.Method, r.URL.Path, refusal.rule, refusal.status)
			writeJSON(w, refusal.status, map[string]string{"error": refusal.msg, "rule": refusal.rule})
			return
		}
	}
	if isOIDC {
		e.serveOIDC(w, r, sub)
		return
	}
	route := r.Method + " " + path
	switch route {
	case "GET state":
		writeJSON(w, http.StatusOK, e.Snapshot())
	case "GET stats":
		e.serveStats(w)
	case "GET counters":
		writeJSON(w, http.StatusOK, e.Counters())
	case "DELETE counters":
		e.ResetCounters()
		w.WriteHeader(http.StatusNoContent)
	case "POST reset":
		if err := e.Reset(); err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "GET faults":
		writeJSON(w, http.StatusOK, e.Faults())
	case "PUT faults":
		var c FaultConfig
		if err := readJSON(r, &c); err != nil {
			adminError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		if err := c.Validate(); err != nil {
			adminError(w, http.StatusBadRequest, "faults: "+err.Error())
			return
		}
		e.SetFaults(c)
		writeJSON(w, http.StatusOK, e.Faults())
	case "DELETE faults":
		e.SetFaults(FaultConfig{})
		w.WriteHeader(http.StatusNoContent)
	case "GET ecs":
		writeJSON(w, http.StatusOK, e.ecsSettings())
	case "PUT ecs":
		var s ECSSettings
		if err := readJSON(r, &s); err != nil {
			adminError(w, http.StatusBadRequest, "ecs: "+err.Error())
			return
		}
		e.SetECS(s)
		writeJSON(w, http.StatusOK, e.ecsSettings())
	case "GET credentials-uri":
		writeJSON(w, http.StatusOK, e.credentialsURISettings())
	case "PUT credentials-uri":
		var s CredentialsURISettings
		if err := readJSON(r, &s); err != nil {
			adminError(w, http.StatusBadRequest, "credentials-uri: "+err.Error())
			return
		}
		e.SetCredentialsURI(s)
		writeJSON(w, http.StatusOK, e.credentialsURISettings())
	case "POST oidc/token":
		var req struct {
			Provider   string `json:"provider"`
			Subject    string `json:"subject"`
			Audience   string `json:"audience"`
			TTLSeconds int    `json:"ttl_seconds"`
		}
		if err := readJSON(r, &req); err != nil {
			adminError(w, http.StatusBadRequest, "oidc/token: "+err.Error())
			return
		}
		tok, err := e.MintOIDCToken(req.Provider, req.Subject, req.Audience, time.Duration(req.TTLSeconds)*time.Second)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok})
	default:
		adminError(w, http.StatusNotFound, "no admin endpoint "+route)
	}
}

// StateView is a secret-free picture of the emulated account, for tests and the
// admin API.
type StateView struct {
	AccountID       string                 `json:"account_id"`
	MainAccessKeyID string                 `json:"main_access_key_id"`
	Users           []UserView             `json:"users"`
	Groups          []GroupView            `json:"groups"`
	Policies        []PolicyView           `json:"policies"` // custom policies
	Roles           []RoleView             `json:"roles"`
	OIDCProviders   []OIDCProviderView     `json:"oidc_providers"`
	Sessions        []SessionView          `json:"sessions"` // live (unexpired) STS sessions
	Counters        map[string]int64       `json:"counters"`
	ECS             ECSSettings            `json:"ecs"`
	CredentialsURI  CredentialsURISettings `json:"credentials_uri"`
}

// UserView describes a RAM user.
type UserView struct {
	Name        string           `json:"name"`
	ID          string           `json:"id"`
	DisplayName string           `json:"display_name"`
	Comments    string           `json:"comments"`
	CreateDate  time.Time        `json:"create_date"`
	AccessKeys  []AccessKeyView  `json:"access_keys"`
	Policies    []AttachmentView `json:"policies"`
	Groups      []string         `json:"groups"`
	// LoginProfile and MFADevice report what blocks DeleteUser besides keys,
	// policies and groups.
	LoginProfile bool `json:"login_profile"`
	MFADevice    bool `json:"mfa_device"`
}

// AccessKeyView describes an AccessKey without its secret.
type AccessKeyView struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	CreateDate time.Time `json:"create_date"`
	LastUsed   time.Time `json:"last_used,omitzero"`
}

// AttachmentView is a policy attached to a principal.
type AttachmentView struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// GroupView describes a RAM group.
type GroupView struct {
	Name     string           `json:"name"`
	ID       string           `json:"id"`
	Comments string           `json:"comments"`
	Users    []string         `json:"users"`
	Policies []AttachmentView `json:"policies"`
}

// PolicyView describes a custom policy.
type PolicyView struct {
	Name            string              `json:"name"`
	Description     string              `json:"description"`
	DefaultVersion  string              `json:"default_version"`
	Versions        []PolicyVersionView `json:"versions"`
	AttachmentCount int                 `json:"attachment_count"`
}

// PolicyVersionView is one version of a policy.
type PolicyVersionView struct {
	ID         string    `json:"id"`
	Default    bool      `json:"default"`
	Document   string    `json:"document"`
	CreateDate time.Time `json:"create_date"`
}

// RoleView describes a RAM role.
type RoleView struct {
	Name               string           `json:"name"`
	ID                 string           `json:"id"`
	Arn                string           `json:"arn"`
	Description        string           `json:"description"`
	TrustPolicy        string           `json:"trust_policy"`
	MaxSessionDuration int              `json:"max_session_duration"`
	Policies           []AttachmentView `json:"policies"`
}

// OIDCProviderView describes a registered OIDC identity provider.
type OIDCProviderView struct {
	Name      string   `json:"name"`
	Arn       string   `json:"arn"`
	IssuerURL string   `json:"issuer_url"`
	ClientIDs []string `json:"client_ids"`
}

// SessionView describes a live STS session (no secret, no token).
type SessionView struct {
	AccessKeyID    string    `json:"access_key_id"`
	RoleName       string    `json:"role_name"`
	RoleArn        string    `json:"role_arn"`
	SessionName    string    `json:"session_name"`
	SourceIdentity string    `json:"source_identity,omitempty"`
	HasPolicy      bool      `json:"has_policy"`
	Via            string    `json:"via"`
	Caller         string    `json:"caller"`
	IssuedAt       time.Time `json:"issued_at"`
	Expiration     time.Time `json:"expiration"`
}

func attachmentViews(atts []*attachment) []AttachmentView {
	out := []AttachmentView{}
	for _, a := range sortedAttachments(atts) {
		out = append(out, AttachmentView{Type: a.Type, Name: a.Name})
	}
	return out
}

// Snapshot returns the current state without secrets.
func (e *Emulator) Snapshot() StateView {
	counters := e.Counters()
	now := e.now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	v := StateView{
		AccountID: e.st.AccountID, MainAccessKeyID: e.st.MainKey.ID, Counters: counters,
		ECS: e.st.ECS, CredentialsURI: e.st.CredentialsURI,
		Users: []UserView{}, Groups: []GroupView{}, Policies: []PolicyView{}, Roles: []RoleView{},
		OIDCProviders: []OIDCProviderView{}, Sessions: []SessionView{},
	}
	for _, n := range sortedKeys(e.st.Users) {
		u := e.st.Users[n]
		uv := UserView{Name: u.Name, ID: u.ID, DisplayName: u.DisplayName, Comments: u.Comments, CreateDate: u.CreateDate,
			AccessKeys: []AccessKeyView{}, Policies: attachmentViews(u.Policies), Groups: []string{},
			LoginProfile: u.LoginProfile != nil, MFADevice: u.MFADevice != nil}
		for _, k := range u.AccessKeys {
			kv := AccessKeyView{ID: k.ID, Status: k.Status, CreateDate: k.CreateDate}
			if ts := k.lastUsed.Load(); ts != 0 {
				kv.LastUsed = time.Unix(ts, 0).UTC()
			}
			uv.AccessKeys = append(uv.AccessKeys, kv)
		}
		for _, m := range u.Groups {
			uv.Groups = append(uv.Groups, m.Group)
		}
		v.Users = append(v.Users, uv)
	}
	for _, n := range sortedKeys(e.st.Groups) {
		g := e.st.Groups[n]
		gv := GroupView{Name: g.Name, ID: g.ID, Comments: g.Comments, Users: []string{}, Policies: attachmentViews(g.Policies)}
		for _, u := range e.groupMembersLocked(g.Name) {
			gv.Users = append(gv.Users, u.Name)
		}
		v.Groups = append(v.Groups, gv)
	}
	for _, n := range sortedKeys(e.st.Policies) {
		p := e.st.Policies[n]
		pv := PolicyView{Name: p.Name, Description: p.Description, DefaultVersion: p.DefaultVersion,
			AttachmentCount: e.attachmentCountLocked(p)}
		for _, ver := range p.Versions {
			pv.Versions = append(pv.Versions, PolicyVersionView{ID: ver.ID, Default: ver.ID == p.DefaultVersion, Document: ver.Document, CreateDate: ver.CreateDate})
		}
		v.Policies = append(v.Policies, pv)
	}
	for _, n := range sortedKeys(e.st.Roles) {
		r := e.st.Roles[n]
		v.Roles = append(v.Roles, RoleView{Name: r.Name, ID: r.ID, Arn: e.roleARNLocked(r.Name), Description: r.Description, TrustPolicy: r.TrustPolicy,
			MaxSessionDuration: r.MaxSessionDuration, Policies: attachmentViews(r.Policies)})
	}
	for _, n := range sortedKeys(e.st.OIDCProviders) {
		p := e.st.OIDCProviders[n]
		issuer := p.IssuerURL
		if issuer == "" {
			issuer = e.issuerURL
		}
		v.OIDCProviders = append(v.OIDCProviders, OIDCProviderView{Name: p.Name, Arn: e.oidcProviderARNLocked(p.Name),
			IssuerURL: issuer, ClientIDs: append([]string(nil), p.ClientIDs...)})
	}
	for _, id := range sortedKeys(e.st.Sessions) {
		s := e.st.Sessions[id]
		if !now.Before(s.Expiration) {
			continue
		}
		v.Sessions = append(v.Sessions, SessionView{AccessKeyID: s.AccessKeyID, RoleName: s.RoleName, RoleArn: e.roleARNLocked(s.RoleName),
			SessionName: s.SessionName, SourceIdentity: s.SourceIdentity, HasPolicy: s.Policy != "", Via: s.Via, Caller: s.Caller,
			IssuedAt: s.IssuedAt, Expiration: s.Expiration})
	}
	return v
}
