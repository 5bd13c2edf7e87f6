// Package emulator is an in-memory Alibaba Cloud for one account: the STS
// (2015-04-01) and RAM (2015-05-01) RPC APIs, ECS DescribeRegions as a sample
// workload, ECS instance metadata and a credentials URI endpoint, served from one
// http.Handler.
//
// It behaves like the service rather than like a mock: every request signature
// (RPC V2, HMAC-SHA1) is verified, timestamps must fall inside the 15-minute
// window, nonces cannot be replayed, RAM's naming rules and quotas are enforced,
// and RAM users and assumed-role sessions are authorized against their policies.
//
// Policy evaluation covers Effect, Action/NotAction and Resource/NotResource with
// the '*' and '?' wildcards; an explicit Deny wins. Condition blocks of permission
// policies are not evaluated: a statement applies as if its conditions held.
// Trust policies evaluate the string operators (StringEquals, StringLike and
// their negated and case-insensitive forms) for the keys sts:ExternalId,
// oidc:aud, oidc:iss and oidc:sub; other condition keys are ignored.
//
// The package imports nothing from Vault.
package emulator

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAccountID is the account id used when no seed sets one.
const DefaultAccountID = "1234567890123456"

// DefaultOIDCIssuerURL is the issuer ("iss") of the built-in OIDC issuer when
// Options.OIDCIssuerURL is empty. It matches the default listen address of
// cmd/alicloud-emulator; emulatortest sets the real address.
const DefaultOIDCIssuerURL = "http://127.0.0.1:8100/_emulator/oidc"

// Options configure an Emulator. The zero value works: a random main key for
// account DefaultAccountID and the default system policies.
type Options struct {
	// Seed is the initial state; nil means defaults.
	Seed *Seed
	// Clock is the emulator's time source (timestamp window, expiry, dates);
	// nil means time.Now.
	Clock func() time.Time
	// RandSeed makes generated ids, secrets and fault decisions deterministic;
	// 0 means random.
	RandSeed int64
	// MaxIssuedSessionDuration caps the lifetime of every STS credential the
	// emulator issues, so tests can exercise expiry quickly (0: no cap).
	MaxIssuedSessionDuration time.Duration
	// Logger, if set, receives one line per request. Lines never contain a
	// secret, a security token or an OIDC token.
	Logger func(format string, args ...any)
	// OIDCIssuerURL is the "iss" of the built-in OIDC issuer; empty means
	// DefaultOIDCIssuerURL.
	OIDCIssuerURL string
}

// Emulator is an in-memory Alibaba Cloud account. It is safe for concurrent use.
type Emulator struct {
	clock      func() time.Time
	logf       func(format string, args ...any)
	maxSession time.Duration
	randSeed   int64

	// mu guards st and keys. Request authentication and policy evaluation take
	// the read lock; mutations take the write lock.
	mu        sync.RWMutex
	st        *state
	keys      map[string]*keyRef // AccessKeyId -> key of the main account or a RAM user
	expiries  expiryHeap         // sessions by expiration, for pruning
	issuerURL string
	initial   []byte // serialized state after New, restored by Reset

	idMu sync.Mutex
	rnd  *mrand.ChaCha8

	nonces *nonceCache

	cntMu    sync.Mutex
	counters map[string]int64

	faults faultInjector

	oidc oidcState

	// listenerAddrs are the host:port values, besides loopback ones, that
	// admin requests may carry as Host (SetListenerAddrs).
	listenerAddrs atomic.Pointer[[]string]

	// edgeOnce and edgeSt hold the metadata and credentials-URI state (metadata.go).
	edgeOnce sync.Once
	edgeSt   *edgeState
}

// keyRef locates a long-term AccessKey: the main account's (user == "") or a
// RAM user's.
type keyRef struct {
	key  *accessKey
	user string
}

// SessionCredentials are STS credentials issued by the emulator.
type SessionCredentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expiration      time.Time
}

// ECSSettings configure the emulated ECS instance metadata service.
type ECSSettings struct {
	// RoleName is the RAM role attached to the emulated instance; empty means
	// none (the credentials paths answer 404).
	RoleName string `json:"role_name"`
	// RequireToken refuses metadata requests without a hardened-mode token.
	RequireToken bool `json:"require_token"`
	// Disabled makes the metadata service unreachable.
	Disabled bool `json:"disabled"`
}

// CredentialsURISettings configure the emulated credentials URI endpoint.
type CredentialsURISettings struct {
	// RoleName is the RAM role whose sessions the endpoint hands out; empty
	// means the endpoint answers 404.
	RoleName string `json:"role_name"`
}

// New builds an Emulator from opts, applying opts.Seed (validated, errors name
// the offending field).
func New(opts Options) (*Emulator, error) {
	e := &Emulator{
		clock:      opts.Clock,
		logf:       opts.Logger,
		maxSession: opts.MaxIssuedSessionDuration,
		randSeed:   opts.RandSeed,
		counters:   map[string]int64{},
		issuerURL:  strings.TrimRight(opts.OIDCIssuerURL, "/"),
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.issuerURL == "" {
		e.issuerURL = DefaultOIDCIssuerURL
	}
	var seed [32]byte
	if opts.RandSeed != 0 {
		binary.LittleEndian.PutUint64(seed[:], uint64(opts.RandSeed))
		copy(seed[8:], "alicloud-emulator-seed-pad")
	} else if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("emulator: random seed: %w", err)
	}
	e.rnd = mrand.NewChaCha8(seed)
	e.nonces = newNonceCache(defaultNonceCapacity)
	e.faults.init(e.deriveSeed(1))

	st, err := e.buildInitialState(opts.Seed)
	if err != nil {
		return nil, err
	}
	e.st = st
	e.rebuildIndexLocked()
	initial, err := e.marshalStateLocked()
	if err != nil {
		return nil, fmt.Errorf("emulator: snapshot initial state: %w", err)
	}
	e.initial = initial
	return e, nil
}

// deriveSeed returns a value derived from RandSeed (or random when RandSeed is
// 0) so independent random streams stay deterministic under one seed.
func (e *Emulator) deriveSeed(stream uint64) int64 {
	if e.randSeed != 0 {
		return e.randSeed*1000003 + int64(stream)
	}
	e.idMu.Lock()
	defer e.idMu.Unlock()
	return int64(e.rnd.Uint64() >> 1)
}

// now returns the emulator's current time (Options.Clock), in UTC.
func (e *Emulator) now() time.Time { return e.clock().UTC() }

// count bumps the call counter of name (e.g. "sts:AssumeRole", "ecs:GetCredentials").
func (e *Emulator) count(name string) {
	e.cntMu.Lock()
	e.counters[name]++
	e.cntMu.Unlock()
}

// Counters returns a copy of the per-action call counters, keyed like
// "sts:AssumeRole", "ram:CreateUser", "ecs:GetCredentials". Every request that
// reached an action is counted, including failed and fault-injected ones.
func (e *Emulator) Counters() map[string]int64 {
	e.cntMu.Lock()
	defer e.cntMu.Unlock()
	out := make(map[string]int64, len(e.counters))
	for k, v := range e.counters {
		out[k] = v
	}
	return out
}

// ResetCounters sets every call counter back to zero.
func (e *Emulator) ResetCounters() {
	e.cntMu.Lock()
	e.counters = map[string]int64{}
	e.cntMu.Unlock()
}

// AccountID returns the emulated account's id.
func (e *Emulator) AccountID() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.AccountID
}

// MainAccessKey returns the account's main (root) AccessKey pair, which may
// call every action.
func (e *Emulator) MainAccessKey() (id, secret string) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.MainKey.ID, e.st.MainKey.Secret
}

// OIDCIssuerURL returns the "iss" of the built-in OIDC issuer.
func (e *Emulator) OIDCIssuerURL() string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.issuerURL
}

// SetOIDCIssuerURL changes the "iss" of the built-in OIDC issuer, typically to
// the address the emulator listens on. Providers registered with the built-in
// issuer follow the change.
func (e *Emulator) SetOIDCIssuerURL(u string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.issuerURL = strings.TrimRight(u, "/")
}

// SetECS replaces the ECS instance metadata settings.
func (e *Emulator) SetECS(s ECSSettings) {
	e.mu.Lock()
	e.st.ECS = s
	e.mu.Unlock()
}

// SetCredentialsURI replaces the credentials URI settings.
func (e *Emulator) SetCredentialsURI(s CredentialsURISettings) {
	e.mu.Lock()
	e.st.CredentialsURI = s
	e.mu.Unlock()
}

// ecsSettings returns the current ECS metadata settings.
func (e *Emulator) ecsSettings() ECSSettings {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.ECS
}

// credentialsURISettings returns the current credentials URI settings.
func (e *Emulator) credentialsURISettings() CredentialsURISettings {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.st.CredentialsURI
}

// Reset restores the state the emulator had right after New (same account,
// main key and seed), and clears counters, faults and remembered nonces.
func (e *Emulator) Reset() error {
	st, err := e.unmarshalState(e.initial)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.st = st
	e.rebuildIndexLocked()
	e.mu.Unlock()
	e.ResetCounters()
	e.SetFaults(FaultConfig{})
	e.nonces.clear()
	return nil
}

// ServeHTTP routes a request: /_emulator/... is the admin API and the built-in
// OIDC issuer, /latest/... the ECS instance metadata service, /credentials-uri
// the credentials URI endpoint, and everything else an RPC call.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/_emulator" || strings.HasPrefix(p, "/_emulator/"):
		e.serveAdmin(w, r)
	case strings.HasPrefix(p, "/latest/") || p == "/latest":
		e.serveMetadata(w, r)
	case p == "/credentials-uri" || strings.HasPrefix(p, "/credentials-uri/"):
		e.serveCredentialsURI(w, r)
	default:
		e.serveRPC(w, r)
	}
}

// Random helpers. They share one ChaCha8 stream so ids are reproducible under
// Options.RandSeed.

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	digits     = "0123456789"
	upperHex   = "0123456789ABCDEF"
)

func (e *Emulator) randString(n int, alphabet string) string {
	var buf [64]byte
	return string(e.appendRandString(buf[:0], n, alphabet))
}

// appendRandString appends n characters drawn from alphabet to dst; ids built
// from a prefix and random characters then cost a single allocation.
func (e *Emulator) appendRandString(dst []byte, n int, alphabet string) []byte {
	e.idMu.Lock()
	for range n {
		dst = append(dst, alphabet[e.rnd.Uint64()%uint64(len(alphabet))])
	}
	e.idMu.Unlock()
	return dst
}

func (e *Emulator) randBytes(n int) []byte {
	return e.appendRandBytes(make([]byte, 0, n), n)
}

// appendRandBytes appends n random bytes to dst.
func (e *Emulator) appendRandBytes(dst []byte, n int) []byte {
	e.idMu.Lock()
	for i := 0; i < n; i += 8 {
		v := e.rnd.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			dst = append(dst, byte(v>>(8*j)))
		}
	}
	e.idMu.Unlock()
	return dst
}

// requestID returns an uppercase UUID-shaped id, like the service's RequestId.
func (e *Emulator) requestID() string {
	var raw [32]byte
	hex := e.appendRandString(raw[:0], 32, upperHex)
	var id [36]byte
	copy(id[0:8], hex[0:8])
	id[8] = '-'
	copy(id[9:13], hex[8:12])
	id[13] = '-'
	copy(id[14:18], hex[12:16])
	id[18] = '-'
	copy(id[19:23], hex[16:20])
	id[23] = '-'
	copy(id[24:36], hex[20:32])
	return string(id[:])
}

// numericID returns an id made of digits that does not start with 0, the shape
// of RAM user and role ids.
func (e *Emulator) numericID(n int) string {
	return e.randString(1, "123456789") + e.randString(n-1, digits)
}

// newMainKeyID returns an AccessKeyId shaped like Alibaba's (LTAI + 20 characters).
func (e *Emulator) newAccessKeyID() string { return "LTAI" + e.randString(20, alnum) }

func (e *Emulator) newAccessKeySecret() string { return e.randString(30, alnum) }

func (e *Emulator) log(format string, args ...any) {
	if e.logf != nil {
		e.logf(format, args...)
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
