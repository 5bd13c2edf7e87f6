package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash/maphash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// timestampWindow is how far a request's Timestamp may be from the server's
// clock, either way.
const timestampWindow = 15 * time.Minute

type principalKind int

const (
	kindAnonymous principalKind = iota
	kindRoot
	kindUser
	kindSession
)

// principal is the authenticated caller of a request.
type principal struct {
	kind     principalKind
	keyID    string
	userName string   // kindUser
	sess     *session // kindSession; sessions are never modified after issue
}

// describe names the caller for the request log (no secrets).
func (p *principal) describe() string {
	switch p.kind {
	case kindRoot:
		return "root(" + p.keyID + ")"
	case kindUser:
		return "user/" + p.userName + "(" + p.keyID + ")"
	case kindSession:
		return "assumed-role/" + p.sess.RoleName + "/" + p.sess.SessionName + "(" + p.keyID + ")"
	}
	return "anonymous"
}

// authenticate checks the RPC V2 signature and everything around it: the common
// parameters, the timestamp window, the AccessKey and its status, the security
// token of STS keys, and nonce replay. On success q.caller is set.
func (e *Emulator) authenticate(q *rpcRequest) *APIError {
	if q.api.anonymous {
		q.caller = &principal{kind: kindAnonymous}
		return nil
	}
	if aerr := q.require("AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"); aerr != nil {
		return aerr
	}
	if m := q.param("SignatureMethod"); m != "HMAC-SHA1" {
		return apiErr(http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not supported.")
	}
	if v := q.param("SignatureVersion"); v != "1.0" {
		return apiErr(http.StatusBadRequest, "InvalidSignatureVersion", "Specified signature version is not supported.")
	}
	ts, ok := parseTimestamp(q.param("Timestamp"))
	if !ok {
		return apiErr(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if d := q.now.Sub(ts); d > timestampWindow || d < -timestampWindow {
		return apiErr(http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}

	keyID := q.param("AccessKeyId")
	token := q.param("SecurityToken")
	var (
		secret string
		caller *principal
		lastK  *accessKey
	)
	if strings.HasPrefix(keyID, "STS.") {
		if token == "" {
			return errMissing("SecurityToken")
		}
		tokKeyID, exp, ok := e.openToken(token)
		if !ok {
			return apiErr(http.StatusBadRequest, "InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.")
		}
		if tokKeyID != keyID {
			return apiErr(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
		}
		if !q.now.Before(exp) {
			return apiErr(http.StatusForbidden, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
		}
		e.mu.RLock()
		s := e.st.Sessions[keyID]
		e.mu.RUnlock()
		if s == nil || s.SecurityToken != token {
			return apiErr(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		secret = s.Secret
		caller = &principal{kind: kindSession, keyID: keyID, sess: s}
	} else {
		e.mu.RLock()
		ref := e.keys[keyID]
		var status, user string
		if ref != nil {
			secret, status, user, lastK = ref.key.Secret, ref.key.Status, ref.user, ref.key
		}
		e.mu.RUnlock()
		if ref == nil {
			return apiErr(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		}
		if status != "Active" {
			return apiErr(http.StatusBadRequest, "InvalidAccessKeyId.Inactive", "Specified access key is disabled.")
		}
		if token != "" {
			return apiErr(http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
		}
		if user == "" {
			caller = &principal{kind: kindRoot, keyID: keyID}
		} else {
			caller = &principal{kind: kindUser, keyID: keyID, userName: user}
		}
	}

	want := aliyun.SignParams(q.http.Method, q.params, secret)
	if !hmac.Equal([]byte(want), []byte(q.param("Signature"))) {
		return apiErr(http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:%s", redactedStringToSign(q.http.Method, q.params))
	}
	// The nonce is remembered only for correctly signed requests, so a forged
	// request cannot burn a legitimate client's nonce.
	if !e.nonces.use(keyID, q.param("SignatureNonce"), ts.Add(timestampWindow), q.now) {
		return apiErr(http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	if lastK != nil {
		lastK.lastUsed.Store(q.now.Unix())
	}
	q.caller = caller
	return nil
}

// secretParams are replaced by "REDACTED" in the string to sign that
// SignatureDoesNotMatch reports: the project never puts a security token or a
// password into an error message.
var secretParams = []string{"SecurityToken", "Password", "OIDCToken", "SAMLAssertion"}

// redactedStringToSign is the string to sign as the service reports it in
// SignatureDoesNotMatch, with the values of secretParams replaced.
func redactedStringToSign(method string, params url.Values) string {
	var c url.Values
	for _, k := range secretParams {
		if params.Get(k) == "" {
			continue
		}
		if c == nil {
			c = make(url.Values, len(params))
			for k, v := range params {
				c[k] = v
			}
		}
		c[k] = []string{"REDACTED"}
	}
	if c == nil {
		return aliyun.StringToSign(method, params)
	}
	return aliyun.StringToSign(method, c)
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{timeFormat, "2006-01-02T15:04:05.999999999Z"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Security tokens. A token is "CAIS" + base64(payload || mac), payload =
// version(1) | expiry unix seconds(8) | len(AccessKeyId)(1) | AccessKeyId |
// random(12), mac = HMAC-SHA256(state.TokenKey, payload)[:16]. The emulator can
// therefore tell a malformed, a foreign and an expired token apart without a
// lookup, even after the session was pruned.

const (
	tokenPrefix  = "CAIS"
	tokenVersion = 1
	tokenMACLen  = 16
)

// maxTokenPayload bounds the payload openToken accepts (a token is at most
// 512 characters); sealed payloads are far shorter.
const maxTokenPayload = 512 / 4 * 3

func (e *Emulator) sealToken(keyID string, exp time.Time) string {
	var pb [maxTokenPayload + tokenMACLen]byte
	payload := append(pb[:0], tokenVersion)
	payload = binary.BigEndian.AppendUint64(payload, uint64(exp.Unix()))
	payload = append(payload, byte(len(keyID)))
	payload = append(payload, keyID...)
	payload = e.appendRandBytes(payload, 12)
	mac := tokenMAC(e.st.TokenKey, payload)
	payload = append(payload, mac[:]...)
	var out [len(tokenPrefix) + (maxTokenPayload+tokenMACLen+2)/3*4]byte
	return string(base64.StdEncoding.AppendEncode(append(out[:0], tokenPrefix...), payload))
}

// tokenMAC returns HMAC-SHA256(key, payload) truncated to tokenMACLen. It
// hashes with sha256.Sum256 on stack buffers: crypto/hmac allocates two
// digests and both pads for every call, and tokens are sealed on every
// AssumeRole and opened on every call signed with STS credentials.
func tokenMAC(key, payload []byte) [tokenMACLen]byte {
	var k [sha256.BlockSize]byte
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var innerBuf [sha256.BlockSize + maxTokenPayload]byte
	inner := innerBuf[:sha256.BlockSize]
	for i, c := range k {
		inner[i] = c ^ 0x36
	}
	innerSum := sha256.Sum256(append(inner, payload...))
	var outer [sha256.BlockSize + sha256.Size]byte
	for i, c := range k {
		outer[i] = c ^ 0x5c
	}
	copy(outer[sha256.BlockSize:], innerSum[:])
	sum := sha256.Sum256(outer[:])
	return [tokenMACLen]byte(sum[:tokenMACLen])
}

// openToken verifies a token's MAC and returns the AccessKeyId it was issued
// for and its expiry.
func (e *Emulator) openToken(token string) (keyID string, exp time.Time, ok bool) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 512 {
		return "", time.Time{}, false
	}
	var rb [maxTokenPayload]byte
	raw, err := base64.StdEncoding.AppendDecode(rb[:0], []byte(token[len(tokenPrefix):]))
	if err != nil || len(raw) < 1+8+1+12+tokenMACLen || raw[0] != tokenVersion {
		return "", time.Time{}, false
	}
	n := int(raw[9])
	if len(raw) != 1+8+1+n+12+tokenMACLen {
		return "", time.Time{}, false
	}
	payload, sum := raw[:len(raw)-tokenMACLen], raw[len(raw)-tokenMACLen:]
	e.mu.RLock()
	key := e.st.TokenKey
	e.mu.RUnlock()
	mac := tokenMAC(key, payload)
	if !hmac.Equal(mac[:], sum) {
		return "", time.Time{}, false
	}
	return string(raw[10 : 10+n]), time.Unix(int64(binary.BigEndian.Uint64(raw[1:9])), 0).UTC(), true
}

// Nonce replay protection.
//
// A nonce only needs to be remembered until its request's Timestamp leaves the
// 15-minute window: after that the request is refused as expired anyway. The
// cache stores a 64-bit hash of (AccessKeyId, nonce) with that deadline, in
// insertion order, and holds at most capacity entries; beyond that the oldest
// are forgotten early, which only matters above ~1,100 requests per second
// sustained for 15 minutes.

const defaultNonceCapacity = 1 << 20

type nonceEntry struct {
	h   uint64
	exp int64
}

type nonceCache struct {
	mu    sync.Mutex
	seed  maphash.Seed
	seen  map[uint64]int64
	queue []nonceEntry
	head  int
	cap   int
}

func newNonceCache(capacity int) *nonceCache {
	return &nonceCache{seed: maphash.MakeSeed(), seen: map[uint64]int64{}, cap: capacity}
}

// use records nonce for keyID and reports whether it was fresh.
func (c *nonceCache) use(keyID, nonce string, exp, now time.Time) bool {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(keyID)
	h.WriteByte(0)
	h.WriteString(nonce)
	sum := h.Sum64()
	nowN := now.UnixNano()

	c.mu.Lock()
	defer c.mu.Unlock()
	// Drop expired entries from the front, and the oldest ones when full.
	for c.head < len(c.queue) {
		front := c.queue[c.head]
		if front.exp > nowN && len(c.queue)-c.head < c.cap {
			break
		}
		if c.seen[front.h] == front.exp {
			delete(c.seen, front.h)
		}
		c.head++
	}
	if c.head > 4096 && c.head*2 > len(c.queue) {
		c.queue = append(c.queue[:0:0], c.queue[c.head:]...)
		c.head = 0
	}
	if until, ok := c.seen[sum]; ok && until > nowN {
		return false
	}
	e := exp.UnixNano()
	c.seen[sum] = e
	c.queue = append(c.queue, nonceEntry{h: sum, exp: e})
	return true
}

func (c *nonceCache) clear() {
	c.mu.Lock()
	c.seen = map[uint64]int64{}
	c.queue = nil
	c.head = 0
	c.mu.Unlock()
}

// len reports how many nonces are remembered (tests).
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
