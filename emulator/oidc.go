package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OIDC: the built-in issuer (discovery document and JWKS under
// /_emulator/oidc), OIDC providers registered in RAM, and AssumeRoleWithOIDC.
//
// Error statuses are not documented by Alibaba; the emulator answers the token
// problems (AuthenticationFail.OIDCToken.Invalid, .Expired, .IssuerNotMatch,
// .AudienceNotMatch, .IssuerConfigurationBroken) with 400, and
// AuthenticationFail.NoPermission (no such provider, or the role's trust
// policy does not allow the provider and claims) with 403.

const (
	oidcKeyBits        = 2048
	oidcRemoteTimeout  = 5 * time.Second
	oidcRemoteCacheTTL = 5 * time.Minute
	oidcClockSkew      = 5 * time.Minute
	maxOIDCTokenChars  = 20000
	defaultMintTTL     = time.Hour
)

// oidcAlgorithms are the JWS algorithms accepted in OIDC tokens.
var oidcAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256}

type oidcSigner struct {
	der  []byte
	key  *rsa.PrivateKey
	kid  string
	jwks jose.JSONWebKeySet
}

type remoteKeys struct {
	fetched time.Time
	keys    jose.JSONWebKeySet
}

type oidcState struct {
	genMu  sync.Mutex // serializes key generation
	signer atomic.Pointer[oidcSigner]

	remoteMu sync.Mutex
	remote   map[string]*remoteKeys
}

// oidcSigningKey returns the built-in issuer's key, generating it on first use
// (RSA generation is slow, and most emulators never need it).
func (e *Emulator) oidcSigningKey() (*oidcSigner, error) {
	e.mu.RLock()
	der := e.st.OIDCKey
	e.mu.RUnlock()
	if s := e.oidc.signer.Load(); s != nil && der != nil && bytes.Equal(s.der, der) {
		return s, nil
	}
	if der == nil {
		e.oidc.genMu.Lock()
		defer e.oidc.genMu.Unlock()
		e.mu.RLock()
		der = e.st.OIDCKey
		e.mu.RUnlock()
		if der == nil {
			key, err := rsa.GenerateKey(rand.Reader, oidcKeyBits)
			if err != nil {
				return nil, fmt.Errorf("emulator: generate OIDC key: %w", err)
			}
			if der, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
				return nil, fmt.Errorf("emulator: encode OIDC key: %w", err)
			}
			e.mu.Lock()
			if e.st.OIDCKey == nil {
				e.st.OIDCKey = der
			}
			der = e.st.OIDCKey
			e.mu.Unlock()
		}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("emulator: parse OIDC key: %w", err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("emulator: OIDC key is not an RSA key")
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("emulator: encode OIDC public key: %w", err)
	}
	sum := sha256.Sum256(pub)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	s := &oidcSigner{der: der, key: key, kid: kid, jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}}
	e.oidc.signer.Store(s)
	return s, nil
}

// oidcProviderARN builds acs:ram::<account>:oidc-provider/<name>.
func (e *Emulator) oidcProviderARNLocked(name string) string {
	return "acs:ram::" + e.st.AccountID + ":oidc-provider/" + name
}

// RegisterOIDCProvider registers an OIDC identity provider trusting the
// built-in issuer, with the given client ids (allowed audiences), and returns
// its ARN.
func (e *Emulator) RegisterOIDCProvider(name string, clientIDs []string) (providerARN string, err error) {
	return e.registerOIDCProvider(name, clientIDs, "")
}

func (e *Emulator) registerOIDCProvider(name string, clientIDs []string, issuerURL string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.registerOIDCProviderLocked(name, clientIDs, issuerURL, e.now()); aerr != nil {
		return "", aerr
	}
	return e.oidcProviderARNLocked(name), nil
}

func (e *Emulator) registerOIDCProviderLocked(name string, clientIDs []string, issuerURL string, now time.Time) *APIError {
	if aerr := checkName("OIDCProviderName", name, maxUserOrGroupNameChars, userNameChar); aerr != nil {
		return aerr
	}
	if len(clientIDs) == 0 {
		return errMissing("ClientIds")
	}
	for _, c := range clientIDs {
		if c == "" || len(c) > 128 {
			return errInvalid("ClientIds")
		}
	}
	if issuerURL != "" && !strings.HasPrefix(issuerURL, "https://") && !strings.HasPrefix(issuerURL, "http://") {
		return errInvalid("IssuerUrl")
	}
	if _, exists := e.st.OIDCProviders[name]; exists {
		return apiErr(http.StatusConflict, "EntityAlreadyExists.OIDCProvider", "The OIDC provider does already EXIST.")
	}
	e.st.OIDCProviders[name] = &oidcProvider{
		Name: name, ClientIDs: append([]string(nil), clientIDs...), IssuerURL: strings.TrimRight(issuerURL, "/"), CreateDate: now,
	}
	return nil
}

// MintOIDCToken returns an OIDC token (a JWT) signed by the built-in issuer for
// a registered provider: iss is the built-in issuer, sub the subject, aud the
// audience (empty: the provider's first client id), valid for ttl (0: one hour).
func (e *Emulator) MintOIDCToken(providerName, subject, audience string, ttl time.Duration) (string, error) {
	e.mu.RLock()
	p := e.st.OIDCProviders[providerName]
	issuer := e.issuerURL
	e.mu.RUnlock()
	if p == nil {
		return "", fmt.Errorf("emulator: OIDC provider %q does not exist", providerName)
	}
	if p.IssuerURL != "" {
		return "", fmt.Errorf("emulator: OIDC provider %q trusts issuer %s, not the built-in issuer", providerName, p.IssuerURL)
	}
	if audience == "" {
		audience = p.ClientIDs[0]
	}
	if subject == "" {
		return "", errors.New("emulator: OIDC subject must not be empty")
	}
	if ttl <= 0 {
		ttl = defaultMintTTL
	}
	now := e.now()
	return e.signOIDCClaims(jwt.Claims{
		Issuer: issuer, Subject: subject, Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(ttl)), ID: e.randString(16, lowerAlnum),
	})
}

// signOIDCClaims signs arbitrary claims with the built-in issuer's key.
func (e *Emulator) signOIDCClaims(claims any) (string, error) {
	s, err := e.oidcSigningKey()
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), s.kid))
	if err != nil {
		return "", fmt.Errorf("emulator: OIDC signer: %w", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("emulator: sign OIDC token: %w", err)
	}
	return tok, nil
}

// serveOIDC serves the built-in issuer's discovery document and JWKS.
func (e *Emulator) serveOIDC(w http.ResponseWriter, r *http.Request, sub string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		adminError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	issuer := e.OIDCIssuerURL()
	switch sub {
	case ".well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                issuer,
			"jwks_uri":                              issuer + "/jwks",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
			"claims_supported":                      []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti"},
		})
	case "jwks":
		s, err := e.oidcSigningKey()
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.jwks)
	default:
		adminError(w, http.StatusNotFound, "no such OIDC document")
	}
}

// remoteJWKS fetches (and caches) the keys of an external issuer through its
// discovery document.
func (e *Emulator) remoteJWKS(ctx context.Context, issuer string) (jose.JSONWebKeySet, error) {
	now := e.now()
	e.oidc.remoteMu.Lock()
	if c := e.oidc.remote[issuer]; c != nil && now.Sub(c.fetched) < oidcRemoteCacheTTL {
		e.oidc.remoteMu.Unlock()
		return c.keys, nil
	}
	e.oidc.remoteMu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, oidcRemoteTimeout)
	defer cancel()
	client := &http.Client{Timeout: oidcRemoteTimeout}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if disc.JWKSURI == "" {
		return jose.JSONWebKeySet{}, errors.New("discovery document has no jwks_uri")
	}
	var keys jose.JSONWebKeySet
	if err := getJSON(ctx, client, disc.JWKSURI, &keys); err != nil {
		return jose.JSONWebKeySet{}, err
	}
	e.oidc.remoteMu.Lock()
	if e.oidc.remote == nil {
		e.oidc.remote = map[string]*remoteKeys{}
	}
	e.oidc.remote[issuer] = &remoteKeys{fetched: now, keys: keys}
	e.oidc.remoteMu.Unlock()
	return keys, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(dst)
}

func errOIDC(code, msg string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: "AuthenticationFail.OIDCToken." + code, Message: msg}
}

// parseOIDCProviderARN splits acs:ram::<account>:oidc-provider/<name>.
func parseOIDCProviderARN(arn string) (account, name string, ok bool) {
	rest, found := strings.CutPrefix(arn, "acs:ram::")
	if !found {
		return "", "", false
	}
	account, name, found = strings.Cut(rest, ":oidc-provider/")
	return account, name, found && account != "" && name != ""
}

func (e *Emulator) stsAssumeRoleWithOIDC(q *rpcRequest) (map[string]any, *APIError) {
	if aerr := q.require("OIDCProviderArn", "RoleArn", "OIDCToken", "RoleSessionName"); aerr != nil {
		return nil, aerr
	}
	acct, providerName, ok := parseOIDCProviderARN(q.param("OIDCProviderArn"))
	if !ok {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.OIDCProviderArn", "The parameter OIDCProviderArn is wrongly formed.")
	}
	sr, aerr := readSessionRequest(q)
	if aerr != nil {
		return nil, aerr
	}
	token := q.param("OIDCToken")
	if len(token) < 4 || len(token) > maxOIDCTokenChars {
		return nil, errOIDC("Invalid", "The OIDC token is not a valid JsonWebToken.")
	}

	e.mu.RLock()
	p := e.st.OIDCProviders[providerName]
	var prov oidcProvider
	if p != nil {
		prov = *p
	}
	account, builtinIssuer := e.st.AccountID, e.issuerURL
	e.mu.RUnlock()
	if p == nil || acct != account {
		return nil, apiErr(http.StatusForbidden, "AuthenticationFail.NoPermission", "No such OIDC Provider registered.")
	}
	issuer := prov.IssuerURL
	if issuer == "" {
		issuer = builtinIssuer
	}

	claims, aerr := e.verifyOIDCToken(q, token, issuer, prov.ClientIDs)
	if aerr != nil {
		return nil, aerr
	}
	var matched []string
	for _, a := range claims.Audience {
		for _, c := range prov.ClientIDs {
			if a == c {
				matched = append(matched, a)
			}
		}
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
	providerARN := e.oidcProviderARNLocked(prov.Name)
	trusted := r.trust.trusts(trustRequest{
		principalType: "Federated",
		identities:    []string{providerARN},
		context: map[string][]string{
			"oidc:aud": matched,
			"oidc:iss": {claims.Issuer},
			"oidc:sub": {claims.Subject},
		},
	})
	if !trusted {
		return nil, apiErr(http.StatusForbidden, "AuthenticationFail.NoPermission", "There is no permission.")
	}
	s := e.issueSessionLocked(r, sr, "", "AssumeRoleWithOIDC", providerARN+"/"+claims.Subject, q.now)
	resp := e.sessionResponse(r, s)
	info := map[string]any{
		"Subject":          claims.Subject,
		"Issuer":           claims.Issuer,
		"ClientIds":        strings.Join(matched, ","),
		"VerificationInfo": "Success",
	}
	if claims.Expiry != nil {
		info["ExpirationTime"] = fmtTime(claims.Expiry.Time())
	}
	if claims.IssuedAt != nil {
		info["IssuanceTime"] = fmtTime(claims.IssuedAt.Time())
	}
	resp["OIDCTokenInfo"] = info
	return resp, nil
}

// verifyOIDCToken checks the token's signature with the issuer's keys, then iss,
// exp/nbf and aud, with STS's AuthenticationFail.OIDCToken.* codes.
func (e *Emulator) verifyOIDCToken(q *rpcRequest, token, issuer string, clientIDs []string) (*jwt.Claims, *APIError) {
	tok, err := jwt.ParseSigned(token, oidcAlgorithms)
	if err != nil {
		return nil, errOIDC("Invalid", "The OIDC token is not a valid JsonWebToken.")
	}
	var keys jose.JSONWebKeySet
	if builtin := e.OIDCIssuerURL(); issuer == builtin {
		s, err := e.oidcSigningKey()
		if err != nil {
			return nil, apiErr(http.StatusInternalServerError, "InternalError", "STS Server Internal Error happened, please send the RequestId to us.")
		}
		keys = s.jwks
	} else {
		keys, err = e.remoteJWKS(q.http.Context(), issuer)
		if err != nil {
			return nil, errOIDC("IssuerConfigurationBroken", "Get public keys from OIDC Provider failed, the issuer is "+issuer+".")
		}
	}
	claims := &jwt.Claims{}
	if err := tok.Claims(keys, claims); err != nil {
		return nil, errOIDC("Invalid", "The signature of the OIDC token is invalid.")
	}
	if claims.Issuer != issuer {
		return nil, errOIDC("IssuerNotMatch", "The issuer in the OIDC Token doesn't match the OIDC Provider registered.")
	}
	if claims.Expiry == nil || !q.now.Before(claims.Expiry.Time()) {
		return nil, errOIDC("Expired", "This JsonWebToken is expired.")
	}
	if claims.NotBefore != nil && q.now.Add(oidcClockSkew).Before(claims.NotBefore.Time()) {
		return nil, errOIDC("Invalid", "The OIDC token is not valid yet.")
	}
	if claims.Subject == "" {
		return nil, errOIDC("Invalid", "The OIDC token has no subject.")
	}
	for _, c := range clientIDs {
		if claims.Audience.Contains(c) {
			return claims, nil
		}
	}
	return nil, errOIDC("AudienceNotMatch", "Invalid audience.")
}
