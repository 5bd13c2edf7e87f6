package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func oidcSeed() *Seed {
	s := trustSeed()
	s.OIDCProviders = []SeedOIDCProvider{{Name: "cluster", ClientIDs: []string{"sts.aliyuncs.com"}}}
	s.Roles = append(s.Roles,
		SeedRole{
			Name: "pod-role",
			TrustPolicy: JSONDocument(`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",
				"Principal":{"Federated":["acs:ram::` + DefaultAccountID + `:oidc-provider/cluster"]},
				"Condition":{"StringEquals":{"oidc:aud":"sts.aliyuncs.com"},"StringLike":{"oidc:sub":"system:serviceaccount:apps:*"}}}],"Version":"1"}`),
			Policies: []SeedPolicyRef{{Name: "AliyunRAMReadOnlyAccess"}},
		})
	return s
}

// anonymousCall sends an unsigned call the way credentials-go sends
// AssumeRoleWithOIDC: Version, Action, Format and Timestamp, no key.
func anonymousCall(t testing.TB, e *Emulator, action string, kv ...string) *result {
	t.Helper()
	p := url.Values{"Version": {"2015-04-01"}, "Action": {action}, "Format": {"JSON"}, "Timestamp": {e.now().Format(timeFormat)}}
	body := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		body.Set(kv[i], kv[i+1])
	}
	req := httptest.NewRequest(http.MethodPost, "/?"+p.Encode(), strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return serve(t, e, req)
}

func oidcArgs(token, role, session string) []string {
	return []string{
		"OIDCProviderArn", "acs:ram::" + DefaultAccountID + ":oidc-provider/cluster",
		"RoleArn", "acs:ram::" + DefaultAccountID + ":role/" + role,
		"OIDCToken", token, "RoleSessionName", session,
	}
}

func TestAssumeRoleWithOIDC(t *testing.T) {
	e, clock := newTestEmulator(t, oidcSeed())
	mint := func(t *testing.T, sub, aud string, ttl time.Duration) string {
		tok, err := e.MintOIDCToken("cluster", sub, aud, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sa := "system:serviceaccount:apps:web"

	t.Run("success", func(t *testing.T) {
		res := anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(mint(t, sa, "", time.Hour), "pod-role", "web")...).ok(t)
		if res.str("OIDCTokenInfo.Subject") != sa || res.str("OIDCTokenInfo.Issuer") != DefaultOIDCIssuerURL ||
			res.str("OIDCTokenInfo.ClientIds") != "sts.aliyuncs.com" || res.str("OIDCTokenInfo.VerificationInfo") != "Success" {
			t.Fatalf("OIDCTokenInfo: %s", res.raw)
		}
		creds := res.body["Credentials"].(map[string]any)
		c := e.sessionClient(t, creds)
		c.call("ListUsers").ok(t)
		c.call("CreateUser", "UserName", "x").expect(t, 403, "NoPermission")
		if got := c.call("GetCallerIdentity").ok(t).str("Arn"); got != "acs:ram::"+DefaultAccountID+":assumed-role/pod-role/web" {
			t.Errorf("Arn %q", got)
		}
	})

	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := func() string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: otherKey},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "forged"))
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: DefaultOIDCIssuerURL, Subject: sa, Audience: jwt.Audience{"sts.aliyuncs.com"},
			Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	withClaims := func(c jwt.Claims) string {
		tok, err := e.signOIDCClaims(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := clock.Now()
	good := jwt.Claims{Issuer: DefaultOIDCIssuerURL, Subject: sa, Audience: jwt.Audience{"sts.aliyuncs.com"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	tweak := func(f func(*jwt.Claims)) string {
		c := good
		f(&c)
		return withClaims(c)
	}

	tests := []struct {
		name   string
		args   []string
		status int
		code   string
	}{
		{"not a JWT", oidcArgs("not-a-token", "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.Invalid"},
		{"too short", oidcArgs("abc", "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.Invalid"},
		{"wrong signing key", oidcArgs(forged(), "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.Invalid"},
		{"expired", oidcArgs(tweak(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Second)) }), "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.Expired"},
		{"no expiry", oidcArgs(tweak(func(c *jwt.Claims) { c.Expiry = nil }), "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.Expired"},
		{"issuer", oidcArgs(tweak(func(c *jwt.Claims) { c.Issuer = "https://elsewhere.example" }), "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.IssuerNotMatch"},
		{"audience", oidcArgs(tweak(func(c *jwt.Claims) { c.Audience = jwt.Audience{"someone-else"} }), "pod-role", "web"), 400, "AuthenticationFail.OIDCToken.AudienceNotMatch"},
		{"unknown provider", append(oidcArgs(withClaims(good), "pod-role", "web"), "OIDCProviderArn", "acs:ram::"+DefaultAccountID+":oidc-provider/nope"), 403, "AuthenticationFail.NoPermission"},
		{"trust condition on subject", oidcArgs(tweak(func(c *jwt.Claims) { c.Subject = "system:serviceaccount:other:web" }), "pod-role", "web"), 403, "AuthenticationFail.NoPermission"},
		{"role does not trust the provider", oidcArgs(withClaims(good), "app", "web"), 403, "AuthenticationFail.NoPermission"},
		{"role does not exist", oidcArgs(withClaims(good), "nope", "web"), 404, "EntityNotExist.Role"},
		{"bad session name", oidcArgs(withClaims(good), "pod-role", "w"), 400, "InvalidParameter.RoleSessionName"},
		{"duration above max", append(oidcArgs(withClaims(good), "pod-role", "web"), "DurationSeconds", "3601"), 400, "InvalidParameter.DurationSeconds"},
		{"missing token", []string{"OIDCProviderArn", "acs:ram::" + DefaultAccountID + ":oidc-provider/cluster", "RoleArn", "acs:ram::" + DefaultAccountID + ":role/pod-role", "RoleSessionName", "web"}, 400, "MissingOIDCToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := anonymousCall(t, e, "AssumeRoleWithOIDC", tt.args...).expect(t, tt.status, tt.code)
			if strings.Contains(res.raw, "eyJ") {
				t.Fatalf("error echoes the token: %s", res.raw)
			}
		})
	}

	t.Run("token expires with the clock", func(t *testing.T) {
		tok := mint(t, sa, "", 10*time.Minute)
		anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "web")...).ok(t)
		clock.Advance(11 * time.Minute)
		anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "web")...).expect(t, 400, "AuthenticationFail.OIDCToken.Expired")
	})
}

func TestOIDCDiscoveryAndAdminMint(t *testing.T) {
	e, _ := newTestEmulator(t, oidcSeed())
	e.SetOIDCIssuerURL("http://example.test/_emulator/oidc")
	res := serve(t, e, httptest.NewRequest(http.MethodGet, "/_emulator/oidc/.well-known/openid-configuration", nil))
	if res.status != 200 || res.str("issuer") != "http://example.test/_emulator/oidc" || res.str("jwks_uri") != "http://example.test/_emulator/oidc/jwks" {
		t.Fatalf("discovery: %d %s", res.status, res.raw)
	}
	jwksRes := serve(t, e, httptest.NewRequest(http.MethodGet, "/_emulator/oidc/jwks", nil))
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(jwksRes.raw), &jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0].KeyID == "" {
		t.Fatalf("jwks: %v %s", err, jwksRes.raw)
	}

	minted := adminCall(t, e, http.MethodPost, "/_emulator/oidc/token", `{"provider":"cluster","subject":"system:serviceaccount:apps:api","ttl_seconds":600}`)
	tok := minted.str("token")
	if minted.status != 200 || tok == "" {
		t.Fatalf("mint: %d %s", minted.status, minted.raw)
	}
	// The published JWKS verifies the minted token.
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := parsed.Claims(jwks, &claims); err != nil {
		t.Fatalf("JWKS does not verify the token: %v", err)
	}
	if claims.Issuer != "http://example.test/_emulator/oidc" || claims.Subject != "system:serviceaccount:apps:api" || !claims.Audience.Contains("sts.aliyuncs.com") {
		t.Fatalf("claims %+v", claims)
	}
	anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "api")...).ok(t)

	bad := adminCall(t, e, http.MethodPost, "/_emulator/oidc/token", `{"provider":"nope","subject":"s"}`)
	if bad.status != http.StatusBadRequest {
		t.Fatalf("unknown provider: %d %s", bad.status, bad.raw)
	}
}

func TestOIDCRemoteIssuer(t *testing.T) {
	// An external issuer: the emulator fetches its discovery document and JWKS.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var issuer string
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer = srv.URL

	seed := oidcSeed()
	seed.OIDCProviders[0].IssuerURL = issuer
	e, clock := newTestEmulator(t, seed)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: issuer, Subject: "system:serviceaccount:apps:x",
		Audience: jwt.Audience{"sts.aliyuncs.com"}, Expiry: jwt.NewNumericDate(clock.Now().Add(time.Hour))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "xx")...).ok(t)
	if _, err := e.MintOIDCToken("cluster", "s", "", 0); err == nil {
		t.Fatal("minted a token for a provider with an external issuer")
	}

	srv.Close()
	e.oidc.remoteMu.Lock()
	e.oidc.remote = nil
	e.oidc.remoteMu.Unlock()
	anonymousCall(t, e, "AssumeRoleWithOIDC", oidcArgs(tok, "pod-role", "xx")...).expect(t, 400, "AuthenticationFail.OIDCToken.IssuerConfigurationBroken")
}
