package emulator

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ECS instance metadata wire names (reference, section 5).
const (
	metadataTokenPath      = "/latest/api/token"
	metadataCredsPrefix    = "/latest/meta-data/ram/security-credentials/"
	metadataTokenHeader    = "X-Aliyun-Ecs-Metadata-Token"
	metadataTokenTTLHeader = "X-Aliyun-Ecs-Metadata-Token-Ttl-Seconds"
	metadataTokenMaxTTL    = 21600

	// ECSServicePrincipal is the service principal an ECS instance role's
	// trust policy must name for the metadata service to hand out its session.
	ECSServicePrincipal = "ecs.aliyuncs.com"

	// metadataTimeLayout is the only time layout the official clients parse.
	metadataTimeLayout = "2006-01-02T15:04:05Z"
)

// Session reuse: like the real metadata service, the emulator hands every
// caller the same role session until less than sessionRefreshFraction of its
// lifetime remains, then issues a new one. With the 6 h sessions ECS hands out
// that is a new session every 4 h, long before the 180 s margin at which the
// official clients refresh, so a client never receives a session it would
// immediately consider stale.
const sessionRefreshFraction = 3 // refresh when remaining < lifetime/3

// edgeState is the per-Emulator state of the metadata service and the
// credentials URI endpoint, created on first use.
type edgeState struct {
	tokenKey [32]byte // HMAC key for stateless metadata tokens

	mu       sync.Mutex
	sessions map[string]cachedSession // "ecs/<role>", "uri/<role>"
}

// cachedSession is a role session handed out by the metadata service or the
// credentials URI endpoint, reused until it nears expiry.
type cachedSession struct {
	creds  SessionCredentials
	issued time.Time
}

func (e *Emulator) edge() *edgeState {
	e.edgeOnce.Do(func() {
		st := &edgeState{sessions: map[string]cachedSession{}}
		if _, err := rand.Read(st.tokenKey[:]); err != nil {
			// crypto/rand never fails on supported platforms; a zero key would
			// only make tokens forgeable inside a development emulator.
			panic("emulator: crypto/rand: " + err.Error())
		}
		e.edgeSt = st
	})
	return e.edgeSt
}

// roleSession returns the session to hand out for key, issuing a new one for
// roleName when there is none, it is about to expire, or it no longer works.
// The lock is held while issuing so a burst of callers (the refresh storm the
// official SDKs are known for) gets one session, not one each.
func (e *Emulator) roleSession(key, roleName, principal string) (cachedSession, error) {
	st := e.edge()
	st.mu.Lock()
	defer st.mu.Unlock()
	now := e.now()
	if cs, ok := st.sessions[key]; ok && sessionFresh(cs, now) && e.sessionUsable(cs.creds) {
		return cs, nil
	}
	creds, err := e.issueServiceSession(roleName, principal)
	if err != nil {
		delete(st.sessions, key)
		return cachedSession{}, err
	}
	cs := cachedSession{creds: creds, issued: now}
	st.sessions[key] = cs
	return cs, nil
}

// sessionFresh reports whether cs still has at least a third of its lifetime.
func sessionFresh(cs cachedSession, now time.Time) bool {
	lifetime := cs.creds.Expiration.Sub(cs.issued)
	if lifetime <= 0 {
		return false
	}
	return cs.creds.Expiration.Sub(now) >= lifetime/sessionRefreshFraction
}

// serveMetadata emulates the ECS instance metadata service
// (http://100.100.100.200): the hardened-mode token, the RAM role listing and
// the role's credentials document. Requests reach it through the main
// listener under /latest/ or through the proxy for host 100.100.100.200.
func (e *Emulator) serveMetadata(w http.ResponseWriter, r *http.Request) {
	sw := &edgeStatusWriter{ResponseWriter: w}
	defer e.logEdge("metadata", r, sw)
	w = sw
	settings := e.ecsSettings()
	if settings.Disabled {
		// A disabled metadata service does not answer at all; dropping the
		// connection is the closest a listener can come to "unreachable".
		panic(http.ErrAbortHandler)
	}
	path := r.URL.Path
	isToken := path == metadataTokenPath
	isList := path == metadataCredsPrefix
	isCreds := strings.HasPrefix(path, metadataCredsPrefix) && !isList

	switch {
	case isToken:
		e.count("ecs:GetToken")
	case isList:
		e.count("ecs:ListRoles")
	case isCreds:
		e.count("ecs:GetCredentials")
	}
	switch e.applyFaults(w, r, "ECSMetadata") {
	case faultAnswered:
		return
	case faultLoseAnswer:
		sink, drop := loseAnswer(w)
		w = sink
		defer drop()
	}

	if isToken {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			metadataError(w, http.StatusMethodNotAllowed, "the metadata token is created with PUT")
			return
		}
		e.serveMetadataToken(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		metadataError(w, http.StatusMethodNotAllowed, "metadata is read with GET")
		return
	}
	if !e.metadataTokenOK(w, r, settings) {
		return
	}

	switch {
	case path == "/latest/meta-data/" || path == "/latest/meta-data":
		metadataText(w, "ram/")
	case path == "/latest/meta-data/ram/" || path == "/latest/meta-data/ram":
		metadataText(w, "security-credentials/")
	case isList:
		if settings.RoleName == "" {
			metadataError(w, http.StatusNotFound, "no RAM role is attached to this instance")
			return
		}
		metadataText(w, settings.RoleName)
	case isCreds:
		role := strings.TrimPrefix(path, metadataCredsPrefix)
		if settings.RoleName == "" || role != settings.RoleName {
			metadataError(w, http.StatusNotFound, "no such RAM role attached to this instance")
			return
		}
		e.serveMetadataCredentials(w, role)
	default:
		metadataError(w, http.StatusNotFound, "not found")
	}
}

// serveMetadataToken implements PUT /latest/api/token.
func (e *Emulator) serveMetadataToken(w http.ResponseWriter, r *http.Request) {
	vals := r.Header.Values(metadataTokenTTLHeader)
	if len(vals) == 0 {
		metadataError(w, http.StatusBadRequest, "missing header X-aliyun-ecs-metadata-token-ttl-seconds")
		return
	}
	ttl, err := strconv.Atoi(strings.TrimSpace(vals[0]))
	if len(vals) > 1 || err != nil || ttl < 1 || ttl > metadataTokenMaxTTL {
		metadataError(w, http.StatusBadRequest,
			"X-aliyun-ecs-metadata-token-ttl-seconds must be an integer from 1 to 21600")
		return
	}
	token := e.edge().mintToken(e.now().Add(time.Duration(ttl) * time.Second))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set(metadataTokenTTLHeader, strconv.Itoa(ttl))
	// No trailing newline: clients put the body into a header verbatim.
	_, _ = w.Write([]byte(token))
}

// metadataTokenOK enforces hardened mode on a GET: a token, when sent, must be
// one this service issued and not expired; without one the request is only
// allowed when the instance does not require tokens. It answers the request
// itself when it returns false.
func (e *Emulator) metadataTokenOK(w http.ResponseWriter, r *http.Request, s ECSSettings) bool {
	vals := r.Header.Values(metadataTokenHeader)
	if len(vals) == 0 {
		if s.RequireToken {
			metadataError(w, http.StatusUnauthorized,
				"this instance requires the security hardening mode: send X-aliyun-ecs-metadata-token")
			return false
		}
		return true
	}
	if len(vals) > 1 || !e.edge().tokenValid(vals[0], e.now()) {
		metadataError(w, http.StatusUnauthorized, "the metadata token is invalid or expired")
		return false
	}
	return true
}

// metadataCredentialsDoc is the credentials document, with exactly the six
// keys the official clients and the SDK fixtures show, in their order.
type metadataCredentialsDoc struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	Expiration      string `json:"Expiration"`
	SecurityToken   string `json:"SecurityToken"`
	LastUpdated     string `json:"LastUpdated"`
	Code            string `json:"Code"`
}

func (e *Emulator) serveMetadataCredentials(w http.ResponseWriter, role string) {
	cs, err := e.roleSession("ecs/"+role, role, ECSServicePrincipal)
	if err != nil {
		status, code, msg := e.serviceSessionError(role, ECSServicePrincipal, err)
		writeEdgeJSON(w, status, edgeErrorDoc{Code: code, Message: msg})
		return
	}
	writeEdgeJSON(w, http.StatusOK, metadataCredentialsDoc{
		AccessKeyID:     cs.creds.AccessKeyID,
		AccessKeySecret: cs.creds.AccessKeySecret,
		Expiration:      cs.creds.Expiration.UTC().Format(metadataTimeLayout),
		SecurityToken:   cs.creds.SecurityToken,
		LastUpdated:     cs.issued.UTC().Format(metadataTimeLayout),
		Code:            "Success",
	})
}

// Metadata tokens are stateless: base64url(expiry || nonce || HMAC-SHA256).
// Binding the expiry into the MAC ties each token to the TTL it was asked
// for, and nothing has to be stored or garbage collected per token.
const (
	mdTokenNonceLen = 16
	mdTokenMACLen   = 32
	mdTokenRawLen   = 8 + mdTokenNonceLen + mdTokenMACLen
)

func (st *edgeState) mintToken(expiry time.Time) string {
	var raw [mdTokenRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(expiry.Unix()))
	if _, err := rand.Read(raw[8 : 8+mdTokenNonceLen]); err != nil {
		panic("emulator: crypto/rand: " + err.Error())
	}
	copy(raw[8+mdTokenNonceLen:], st.tokenMAC(raw[:8+mdTokenNonceLen]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func (st *edgeState) tokenValid(token string, now time.Time) bool {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != mdTokenRawLen {
		return false
	}
	if !hmac.Equal(raw[8+mdTokenNonceLen:], st.tokenMAC(raw[:8+mdTokenNonceLen])) {
		return false
	}
	expiry := int64(binary.BigEndian.Uint64(raw[:8]))
	return now.Unix() < expiry
}

func (st *edgeState) tokenMAC(b []byte) []byte {
	m := hmac.New(sha256.New, st.tokenKey[:])
	m.Write(b)
	return m.Sum(nil)
}

func metadataText(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

// metadataError answers like the metadata service's web server: a status and
// a short plain-text reason.
func metadataError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(strconv.Itoa(status) + " " + http.StatusText(status) + ": " + msg + "\n"))
}

// edgeErrorDoc is the JSON error body of the metadata credentials document
// and of the credentials URI endpoint.
type edgeErrorDoc struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func writeEdgeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sessionUsable reports whether a handed-out session still authenticates:
// an admin reset or a loaded state may have dropped it from the account.
func (e *Emulator) sessionUsable(c SessionCredentials) bool {
	e.mu.RLock()
	s, ok := e.st.Sessions[c.AccessKeyID]
	e.mu.RUnlock()
	return ok && s.SecurityToken == c.SecurityToken && e.now().Before(s.Expiration)
}

// serviceSessionError maps a failure of issueServiceSession to the status,
// Code and Message of the error document. An *APIError is passed through;
// otherwise the role's existence tells the two documented failures apart:
// 404 EntityNotExist.Role when the role is gone, 403 NoPermission when its
// trust policy does not trust the service.
func (e *Emulator) serviceSessionError(roleName, principal string, err error) (status int, code, msg string) {
	var aerr *APIError
	if errors.As(err, &aerr) {
		return aerr.Status, aerr.Code, aerr.Message
	}
	e.mu.RLock()
	_, exists := e.st.Roles[roleName]
	e.mu.RUnlock()
	if !exists {
		return http.StatusNotFound, "EntityNotExist.Role", "The role " + roleName + " does not exist."
	}
	return http.StatusForbidden, "NoPermission",
		"The trust policy of role " + roleName + " does not allow the service " + principal + " to assume it."
}

// edgeStatusWriter remembers the status of an edge answer for the request
// log. It passes Hijack through so injected connection drops still work.
type edgeStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *edgeStatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *edgeStatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *edgeStatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}

// logEdge writes the request log line of a metadata or credentials URI
// request: method, path (a role name at most) and status, never a token or
// a credential.
func (e *Emulator) logEdge(kind string, r *http.Request, w *edgeStatusWriter) {
	if w.status == 0 {
		e.log("%s %s %s no answer (dropped)", kind, r.Method, r.URL.Path)
		return
	}
	e.log("%s %s %s status=%d", kind, r.Method, r.URL.Path, w.status)
}
