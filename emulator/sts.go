package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// STS: AssumeRole, AssumeRoleWithOIDC (oidc.go), AssumeRoleWithSAML,
// GetCallerIdentity, and the sessions they issue.

const (
	minSessionDuration      = 900
	defaultSessionDuration  = 3600
	maxSessionPolicyBytes   = 2048
	serviceSessionDuration  = 6 * time.Hour // ECS instance role credentials last about 6 h
	maxRoleSessionNameChars = 64
)

func errDuration() *APIError {
	return apiErr(http.StatusBadRequest, "InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")
}

// parseRoleARN splits acs:ram::<account>:role/<name>.
func parseRoleARN(arn string) (account, name string, ok bool) {
	rest, found := strings.CutPrefix(arn, "acs:ram::")
	if !found {
		return "", "", false
	}
	account, name, found = strings.Cut(rest, ":role/")
	if !found || account == "" || name == "" || checkName("RoleName", name, maxRoleNameChars, roleNameChar) != nil {
		return "", "", false
	}
	for i := 0; i < len(account); i++ {
		if account[i] < '0' || account[i] > '9' {
			return "", "", false
		}
	}
	return account, name, true
}

func validSessionName(s string) bool {
	if len(s) < 2 || len(s) > maxRoleSessionNameChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetterDigit(c) || c == '.' || c == '@' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validExternalID: 2-1224 characters of [\w+=,.@:/-].
func validExternalID(s string) bool {
	if len(s) < 2 || len(s) > 1224 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetterDigit(c) || strings.IndexByte("_+=,.@:/-", c) >= 0) {
			return false
		}
	}
	return true
}

// validSourceIdentity: 2-64 characters of [\w+=,.@-], not starting with a
// reserved prefix.
func validSourceIdentity(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"acs:", "aliyun:", "alibabacloud:"} {
		if strings.HasPrefix(lower, p) {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetterDigit(c) || strings.IndexByte("_+=,.@-", c) >= 0) {
			return false
		}
	}
	return true
}

// sessionRequest holds the parameters AssumeRole and AssumeRoleWithOIDC share.
type sessionRequest struct {
	account, roleName, sessionName string
	duration                       int
	policyText                     string
	policy                         *Policy
}

// readSessionRequest validates RoleArn, RoleSessionName, DurationSeconds and
// Policy with STS's codes.
func readSessionRequest(q *rpcRequest) (sessionRequest, *APIError) {
	var sr sessionRequest
	var ok bool
	sr.account, sr.roleName, ok = parseRoleARN(q.param("RoleArn"))
	if !ok {
		return sr, apiErr(http.StatusBadRequest, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
	}
	sr.sessionName = q.param("RoleSessionName")
	if !validSessionName(sr.sessionName) {
		return sr, apiErr(http.StatusBadRequest, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
	}
	sr.duration = defaultSessionDuration
	if s := q.param("DurationSeconds"); s != "" {
		d, err := strconv.Atoi(s)
		if err != nil || d < minSessionDuration {
			return sr, errDuration()
		}
		sr.duration = d
	}
	if p := q.param("Policy"); p != "" {
		if len(p) > maxSessionPolicyBytes {
			return sr, apiErr(http.StatusBadRequest, "InvalidParameter.PolicySize", "The size of Policy must be smaller than 2048 bytes.")
		}
		parsed, err := sessionPolicies.parse(p)
		if err != nil {
			return sr, apiErr(http.StatusBadRequest, "InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check: %s", err.Error())
		}
		sr.policyText, sr.policy = p, parsed
	}
	return sr, nil
}

// maxCachedSessionPolicies bounds the session policy cache: 256 documents of
// at most 2048 bytes each.
const maxCachedSessionPolicies = 256

// policyCache remembers the parse of session policy documents. A client sends
// the same few inline policies with every AssumeRole (one per Vault role), and
// parsing one costs more than the rest of the request. A parsed Policy is
// never modified after ParsePolicy returns, so sessions share it.
type policyCache struct {
	mu   sync.Mutex
	docs map[string]*Policy
}

var sessionPolicies = &policyCache{docs: map[string]*Policy{}}

// parse returns ParsePolicy(doc), from the cache when doc parsed before. A
// document that fails to parse is not remembered.
func (c *policyCache) parse(doc string) (*Policy, error) {
	c.mu.Lock()
	p := c.docs[doc]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := ParsePolicy(doc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.docs) >= maxCachedSessionPolicies {
		clear(c.docs) // a client cycling through many documents just parses each
	}
	c.docs[doc] = p
	c.mu.Unlock()
	return p, nil
}

func (e *Emulator) errRoleMissing(sr sessionRequest) *APIError {
	return apiErr(http.StatusNotFound, "EntityNotExist.Role", "The role not exists: acs:ram::%s:role/%s.", sr.account, sr.roleName)
}

// callerIdentitiesLocked lists the names a trust policy's RAM principal may use
// for the caller: the account, the user or the role of the calling session.
func (e *Emulator) callerIdentitiesLocked(p *principal) []string {
	acct := e.st.AccountID
	ids := []string{"acs:ram::" + acct + ":root", acct}
	switch p.kind {
	case kindUser:
		ids = append(ids, "acs:ram::"+acct+":user/"+p.userName)
	case kindSession:
		ids = append(ids, e.roleARNLocked(p.sess.RoleName), e.assumedRoleARN(p.sess))
	}
	return ids
}

func (e *Emulator) assumedRoleARN(s *session) string {
	return "acs:ram::" + e.st.AccountID + ":assumed-role/" + s.RoleName + "/" + s.SessionName
}

func (e *Emulator) callerARNLocked(p *principal) string {
	switch p.kind {
	case kindRoot:
		return "acs:ram::" + e.st.AccountID + ":root"
	case kindUser:
		return "acs:ram::" + e.st.AccountID + ":user/" + p.userName
	case kindSession:
		return e.assumedRoleARN(p.sess)
	}
	return ""
}

func (e *Emulator) stsAssumeRole(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("RoleArn", "RoleSessionName"); aerr != nil {
		return nil, aerr
	}
	if q.caller.kind == kindRoot {
		return nil, apiErr(http.StatusForbidden, "NoPermission", "Roles may not be assumed by root accounts.")
	}
	sr, aerr := readSessionRequest(q)
	if aerr != nil {
		return nil, aerr
	}
	externalID := q.param("ExternalId")
	if externalID != "" && !validExternalID(externalID) {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.ExternalId", "The parameter ExternalId is wrongly formed.")
	}
	sourceIdentity := q.param("SourceIdentity")
	if sourceIdentity != "" && !validSourceIdentity(sourceIdentity) {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.SourceIdentity", "The parameter SourceIdentity is wrongly formed.")
	}
	if q.caller.kind == kindSession && q.caller.sess.SourceIdentity != "" {
		// A source identity, once set, follows the chain of roles unchanged.
		if sourceIdentity != "" && sourceIdentity != q.caller.sess.SourceIdentity {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter.SourceIdentity", "The SourceIdentity of a role chain cannot be changed.")
		}
		sourceIdentity = q.caller.sess.SourceIdentity
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.Roles[sr.roleName]
	if sr.account != e.st.AccountID || r == nil {
		return nil, e.errRoleMissing(sr)
	}
	if sr.duration > r.MaxSessionDuration {
		return nil, errDuration()
	}
	if aerr := e.authorizeLocked(q, "sts:AssumeRole", e.ramARN("role", r.Name)); aerr != nil {
		return nil, aerr
	}
	ext := []string{}
	if externalID != "" {
		ext = []string{externalID}
	}
	trusted := r.trust.trusts(trustRequest{
		principalType: "RAM",
		identities:    e.callerIdentitiesLocked(q.caller),
		context:       map[string][]string{"sts:externalid": ext},
	})
	if !trusted {
		return nil, apiErr(http.StatusForbidden, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	}
	s := e.issueSessionLocked(r, sr, sourceIdentity, "AssumeRole", e.callerARNLocked(q.caller), q.now)
	resp := e.sessionResponse(r, s)
	if sourceIdentity != "" {
		resp["SourceIdentity"] = sourceIdentity
	}
	return resp, nil
}

// issueSessionLocked creates an STS session for role r. Its lifetime is the
// requested duration, capped by Options.MaxIssuedSessionDuration.
func (e *Emulator) issueSessionLocked(r *role, sr sessionRequest, sourceIdentity, via, caller string, now time.Time) *session {
	lifetime := time.Duration(sr.duration) * time.Second
	if e.maxSession > 0 && lifetime > e.maxSession {
		lifetime = e.maxSession
	}
	exp := now.Add(lifetime).Truncate(time.Second)
	var idBuf [32]byte
	keyID := string(e.appendRandString(append(idBuf[:0], "STS."...), 25, alnum))
	s := &session{
		AccessKeyID: keyID, Secret: e.randString(44, alnum), SecurityToken: e.sealToken(keyID, exp),
		Expiration: exp, IssuedAt: now, RoleName: r.Name, RoleID: r.ID, SessionName: sr.sessionName,
		SourceIdentity: sourceIdentity, Policy: sr.policyText, Via: via, Caller: caller, parsed: sr.policy,
	}
	e.pruneSessionsLocked(now)
	e.st.Sessions[keyID] = s
	e.expiries.push(sessionExpiry{exp: exp, keyID: keyID})
	return s
}

// pruneSessionsLocked forgets expired sessions (their tokens still read as
// expired: the token carries its own expiry). It costs O(log n) per session.
func (e *Emulator) pruneSessionsLocked(now time.Time) {
	for len(e.expiries) > 0 && !now.Before(e.expiries[0].exp) {
		top := e.expiries.pop()
		if s := e.st.Sessions[top.keyID]; s != nil && !now.Before(s.Expiration) {
			delete(e.st.Sessions, top.keyID)
		}
	}
}

// sessionExpiry orders sessions by expiration in a min-heap.
type sessionExpiry struct {
	exp   time.Time
	keyID string
}

type expiryHeap []sessionExpiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(sessionExpiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// push and pop are heap.Push and heap.Pop, same algorithm and so the same
// order, without boxing each entry in an interface and calling Less and Swap
// through it on every issued session.
func (h *expiryHeap) push(x sessionExpiry) {
	*h = append(*h, x)
	h.up(len(*h) - 1)
}

func (h *expiryHeap) pop() sessionExpiry {
	n := len(*h) - 1
	h.Swap(0, n)
	h.down(0, n)
	x := (*h)[n]
	*h = (*h)[:n]
	return x
}

func (h expiryHeap) up(j int) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h.Less(j, i) {
			break
		}
		h.Swap(i, j)
		j = i
	}
}

func (h expiryHeap) down(i0, n int) {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && h.Less(j2, j1) {
			j = j2 // = 2*i + 2  // right child
		}
		if !h.Less(j, i) {
			break
		}
		h.Swap(i, j)
		i = j
	}
}

// sessionObjects are the two fixed-shape objects of an STS session response,
// allocated together. appendJSONValue and writeXMLValue encode each exactly
// like a map[string]any of its fields; the JSON tags, in key order, make
// encoding/json agree too.
type sessionObjects struct {
	user  assumedRoleUser
	creds stsCredentials
}

// assumedRoleUser is the AssumedRoleUser object of an STS response.
type assumedRoleUser struct {
	Arn           string `json:"Arn"`
	AssumedRoleID string `json:"AssumedRoleId"`
}

func (a *assumedRoleUser) fields() [2]strField {
	return [2]strField{{"Arn", a.Arn}, {"AssumedRoleId", a.AssumedRoleID}}
}

// stsCredentials is the Credentials object of an STS response.
type stsCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	Expiration      string `json:"Expiration"`
	SecurityToken   string `json:"SecurityToken"`
}

func (c *stsCredentials) fields() [4]strField {
	return [4]strField{
		{"AccessKeyId", c.AccessKeyID}, {"AccessKeySecret", c.AccessKeySecret},
		{"Expiration", c.Expiration}, {"SecurityToken", c.SecurityToken},
	}
}

func (e *Emulator) sessionResponse(r *role, s *session) map[string]any {
	o := &sessionObjects{
		user: assumedRoleUser{
			AssumedRoleID: r.ID + ":" + s.SessionName,
			Arn:           "acs:ram::" + e.st.AccountID + ":role/" + strings.ToLower(r.Name) + "/" + s.SessionName,
		},
		creds: stsCredentials{
			AccessKeyID:     s.AccessKeyID,
			AccessKeySecret: s.Secret,
			SecurityToken:   s.SecurityToken,
			Expiration:      fmtTime(s.Expiration),
		},
	}
	return map[string]any{"AssumedRoleUser": &o.user, "Credentials": &o.creds}
}

// issueServiceSession issues a real STS session for roleName as a cloud service
// would for an ECS instance role or a credentials-URI endpoint: the role's trust
// policy must trust servicePrincipal (e.g. "ecs.aliyuncs.com"). The session
// lasts six hours (capped by Options.MaxIssuedSessionDuration), works for later
// signed calls and carries the role's permissions.
func (e *Emulator) issueServiceSession(roleName, servicePrincipal string) (SessionCredentials, error) {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.st.Roles[roleName]
	if r == nil {
		return SessionCredentials{}, fmt.Errorf("emulator: role %q does not exist", roleName)
	}
	if !r.trust.trusts(trustRequest{principalType: "Service", identities: []string{servicePrincipal}}) {
		return SessionCredentials{}, fmt.Errorf("emulator: the trust policy of role %q does not trust service %q", roleName, servicePrincipal)
	}
	name := strings.TrimSuffix(servicePrincipal, ".aliyuncs.com")
	if name == "ecs" {
		name = "i-" + e.randString(20, lowerAlnum)
	} else {
		name = strings.ReplaceAll(name, ":", "-") + "-" + e.randString(8, lowerAlnum)
		if !validSessionName(name) {
			name = "service-" + e.randString(8, lowerAlnum)
		}
	}
	sr := sessionRequest{account: e.st.AccountID, roleName: r.Name, sessionName: name, duration: int(serviceSessionDuration / time.Second)}
	s := e.issueSessionLocked(r, sr, "", "service:"+servicePrincipal, servicePrincipal, now)
	return SessionCredentials{AccessKeyID: s.AccessKeyID, AccessKeySecret: s.Secret, SecurityToken: s.SecurityToken, Expiration: s.Expiration}, nil
}

func (e *Emulator) stsGetCallerIdentity(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	acct := e.st.AccountID
	resp := map[string]any{"AccountId": acct, "Arn": e.callerARNLocked(q.caller)}
	switch q.caller.kind {
	case kindRoot:
		resp["IdentityType"] = "Account"
		resp["PrincipalId"] = acct
		resp["UserId"] = acct
	case kindUser:
		u := e.st.Users[q.caller.userName]
		if u == nil {
			return nil, apiErr(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		resp["IdentityType"] = "RAMUser"
		resp["PrincipalId"] = u.ID
		resp["UserId"] = u.ID
	case kindSession:
		resp["IdentityType"] = "AssumedRoleUser"
		resp["PrincipalId"] = q.caller.sess.RoleID + ":" + q.caller.sess.SessionName
		resp["RoleId"] = q.caller.sess.RoleID
	}
	return resp, nil
}

// stsAssumeRoleWithSAML validates the request; the emulator registers no SAML
// identity providers, so every provider is unknown.
func (e *Emulator) stsAssumeRoleWithSAML(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("SAMLProviderArn", "RoleArn", "SAMLAssertion"); aerr != nil {
		return nil, aerr
	}
	if _, _, ok := parseRoleARN(q.param("RoleArn")); !ok {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
	}
	if n := len(q.param("SAMLAssertion")); n < 4 || n > 100000 {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.SAMLAssertion", "The parameter SAMLAssertion is wrongly formed.")
	}
	return nil, apiErr(http.StatusForbidden, "AuthenticationFail.NoPermission", "No such SAML Provider registered.")
}
