package emulator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func TestPublishedVectorAccepted(t *testing.T) {
	// Reference section 1.1, vector A: a request signed by Alibaba's own
	// documentation must be accepted at its timestamp.
	clock := &fakeClock{t: time.Date(2016, 2, 23, 12, 50, 0, 0, time.UTC)}
	e, err := New(Options{Clock: clock.Now, Seed: &Seed{MainAccessKey: &SeedAccessKey{ID: "testid", Secret: "testsecret"}}})
	if err != nil {
		t.Fatal(err)
	}
	q := "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1" +
		"&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0" +
		"&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D"
	res := serve(t, e, httptest.NewRequest(http.MethodGet, "/?"+q, nil))
	if res.status != http.StatusOK || !strings.Contains(res.raw, "<DescribeRegionsResponse>") || !strings.Contains(res.raw, "<RegionId>cn-hangzhou</RegionId>") {
		t.Fatalf("vector A refused: %d %s", res.status, res.raw)
	}
	// The same request again is a replay.
	res = serve(t, e, httptest.NewRequest(http.MethodGet, "/?"+q, nil))
	if res.status != http.StatusBadRequest || !strings.Contains(res.raw, "<Code>SignatureNonceUsed</Code>") {
		t.Fatalf("replay: %d %s", res.status, res.raw)
	}
}

func TestSignatureChecks(t *testing.T) {
	e, clock := newTestEmulator(t, nil)
	id, secret := e.MainAccessKey()
	good := func() *client { return e.keyClient(t, id, secret) }

	tests := []struct {
		name   string
		client func() *client
		status int
		code   string
	}{
		{"valid POST", good, 200, ""},
		{"valid GET", func() *client { c := good(); c.method = http.MethodGet; return c }, 200, ""},
		{"wrong secret", func() *client { c := good(); c.secret = secret + "x"; return c }, 400, "SignatureDoesNotMatch"},
		{"one changed byte", func() *client {
			c := good()
			c.mutateAfterSigning = func(p url.Values) {
				n := []byte(p.Get("SignatureNonce"))
				n[0] ^= 1
				p.Set("SignatureNonce", string(n))
			}
			return c
		}, 400, "SignatureDoesNotMatch"},
		{"added parameter", func() *client {
			c := good()
			c.mutateAfterSigning = func(p url.Values) { p.Set("RegionId", "cn-hangzhou") }
			return c
		}, 400, "SignatureDoesNotMatch"},
		{"signed as GET sent as POST", func() *client {
			c := good()
			c.mutateAfterSigning = func(p url.Values) {
				p.Del("Signature")
				p.Set("Signature", aliyun.Sign(secret, aliyun.StringToSign("GET", p)))
			}
			return c
		}, 400, "SignatureDoesNotMatch"},
		{"missing signature", func() *client {
			c := good()
			c.mutateAfterSigning = func(p url.Values) { p.Del("Signature") }
			return c
		}, 400, "MissingSignature"},
		{"missing nonce", func() *client {
			c := good()
			c.mutate = func(p url.Values) { p.Del("SignatureNonce") }
			return c
		}, 400, "MissingSignatureNonce"},
		{"signature method", func() *client {
			c := good()
			c.mutate = func(p url.Values) { p.Set("SignatureMethod", "HMAC-SHA256") }
			return c
		}, 400, "InvalidSignatureMethod"},
		{"signature version", func() *client {
			c := good()
			c.mutate = func(p url.Values) { p.Set("SignatureVersion", "2.0") }
			return c
		}, 400, "InvalidSignatureVersion"},
		{"timestamp 14 minutes old", func() *client {
			c := good()
			c.clock = func() time.Time { return clock.Now().Add(-14 * time.Minute) }
			return c
		}, 200, ""},
		{"timestamp 16 minutes old", func() *client {
			c := good()
			c.clock = func() time.Time { return clock.Now().Add(-16 * time.Minute) }
			return c
		}, 400, "InvalidTimeStamp.Expired"},
		{"timestamp 16 minutes ahead", func() *client {
			c := good()
			c.clock = func() time.Time { return clock.Now().Add(16 * time.Minute) }
			return c
		}, 400, "InvalidTimeStamp.Expired"},
		{"timestamp format", func() *client {
			c := good()
			c.mutate = func(p url.Values) { p.Set("Timestamp", "2025-03-04 05:06:07") }
			return c
		}, 400, "InvalidTimeStamp.Format"},
		{"unknown key", func() *client { return e.keyClient(t, "LTAInotakeyatall0000", secret) }, 404, "InvalidAccessKeyId.NotFound"},
		{"security token with a long-term key", func() *client { c := good(); c.token = "CAISabc"; return c }, 400, "InvalidSecurityToken.MismatchWithAccessKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client()
			c.t = t
			res := c.call("GetCallerIdentity")
			if tt.status == 200 {
				res.ok(t)
				if got := res.str("IdentityType"); got != "Account" {
					t.Fatalf("IdentityType = %q", got)
				}
				return
			}
			res.expect(t, tt.status, tt.code)
			for _, k := range []string{"RequestId", "HostId", "Message", "Recommend"} {
				if res.str(k) == "" {
					t.Errorf("error body lacks %s: %s", k, res.raw)
				}
			}
			if res.str("HostId") != "sts.aliyuncs.com" {
				t.Errorf("HostId = %q", res.str("HostId"))
			}
		})
	}
}

func TestSignatureMismatchReportsStringToSign(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	c.secret = "wrong"
	var sent url.Values
	c.mutateAfterSigning = func(p url.Values) { sent = p }
	res := c.call("GetCallerIdentity").expect(t, 400, "SignatureDoesNotMatch")
	want := "server string to sign is:" + aliyun.StringToSign(http.MethodPost, sent)
	if !strings.HasSuffix(res.str("Message"), want) {
		t.Fatalf("message %q does not end with %q", res.str("Message"), want)
	}
}

func TestSignatureMismatchRedactsSecurityToken(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	creds := assumeAppRole(t, e)
	c := e.sessionClient(t, creds)
	c.secret = "wrong"
	res := c.call("GetCallerIdentity").expect(t, 400, "SignatureDoesNotMatch")
	token := creds["SecurityToken"].(string)
	if strings.Contains(res.raw, aliyun.PercentEncode(aliyun.PercentEncode(token))) || strings.Contains(res.raw, token) {
		t.Fatalf("security token leaked into the error: %s", res.raw)
	}
	if !strings.Contains(res.str("Message"), "SecurityToken%3DREDACTED") {
		t.Fatalf("message lacks the redacted token: %s", res.str("Message"))
	}
}

func TestQueryAndBodyMergedBodyWins(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	p := c.params("CreateUser", "UserName", "from-body")
	req := httptest.NewRequest(http.MethodPost, "/?UserName=from-query", strings.NewReader(p.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := serve(t, e, req).ok(t)
	if got := res.str("User.UserName"); got != "from-body" {
		t.Fatalf("UserName = %q, want the body's value", got)
	}

	// Common parameters in the query, API parameters in the body (the
	// credentials-go layout).
	p = c.params("CreateUser", "UserName", "split")
	body := url.Values{"UserName": p["UserName"]}
	p.Del("UserName")
	req = httptest.NewRequest(http.MethodPost, "/?"+p.Encode(), strings.NewReader(body.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	serve(t, e, req).ok(t)
	if _, ok := e.Snapshot().userByName("split"); !ok {
		t.Fatal("user from the split request was not created")
	}
}

func TestNonceReplay(t *testing.T) {
	e, clock := newTestEmulator(t, nil)
	c := e.rootClient(t)
	c.nonce = "fixed-nonce-1"
	c.call("GetCallerIdentity").ok(t)
	c.call("GetCallerIdentity").expect(t, 400, "SignatureNonceUsed")

	// Another key may use the same nonce.
	u := e.userClient(t, "alice")
	u.nonce = "fixed-nonce-1"
	u.call("GetCallerIdentity").ok(t)

	// A request with a bad signature does not burn the nonce.
	bad := e.rootClient(t)
	bad.nonce = "fixed-nonce-2"
	bad.secret = "wrong"
	bad.call("GetCallerIdentity").expect(t, 400, "SignatureDoesNotMatch")
	good := e.rootClient(t)
	good.nonce = "fixed-nonce-2"
	good.call("GetCallerIdentity").ok(t)

	// Once the window is over the nonce is forgotten: the request is refused as
	// expired, and a fresh timestamp may reuse it.
	before := e.nonces.len()
	clock.Advance(16 * time.Minute)
	c.call("GetCallerIdentity").ok(t)
	if after := e.nonces.len(); after >= before {
		t.Fatalf("expired nonces were not pruned: %d -> %d", before, after)
	}
}

func TestNonceCacheBounded(t *testing.T) {
	c := newNonceCache(100)
	now := time.Unix(1000, 0)
	exp := now.Add(time.Hour)
	for i := 0; i < 1000; i++ {
		if !c.use("k", "n"+string(rune('a'+i%26))+time.Duration(i).String(), exp, now) {
			t.Fatalf("fresh nonce %d refused", i)
		}
	}
	if n := c.len(); n > 100 {
		t.Fatalf("cache holds %d nonces, capacity 100", n)
	}
	if c.use("k", "n"+string(rune('a'+999%26))+time.Duration(999).String(), exp, now) {
		t.Fatal("most recent nonce accepted twice")
	}
}

func TestInactiveKey(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	u := e.userClient(t, "alice", "ReadOnlyAccess")
	u.call("GetCallerIdentity").ok(t)
	if err := e.SetAccessKeyStatus("alice", u.id, "Inactive"); err != nil {
		t.Fatal(err)
	}
	u.call("GetCallerIdentity").expect(t, 400, "InvalidAccessKeyId.Inactive")
}

func TestSecurityTokenChecks(t *testing.T) {
	e, clock := newTestEmulator(t, trustSeed())
	creds := assumeAppRole(t, e)
	other := assumeAppRole(t, e)

	tests := []struct {
		name   string
		mod    func(c *client)
		status int
		code   string
	}{
		{"valid", func(c *client) {}, 200, ""},
		{"missing token", func(c *client) { c.token = "" }, 400, "MissingSecurityToken"},
		{"malformed token", func(c *client) { c.token = "CAISnot-a-token" }, 400, "InvalidSecurityToken.Malformed"},
		{"tampered token", func(c *client) { c.token = c.token[:len(c.token)-6] + "AAAAA=" }, 400, "InvalidSecurityToken.Malformed"},
		{"token of another session", func(c *client) { c.token = other["SecurityToken"].(string) }, 400, "InvalidSecurityToken.MismatchWithAccessKey"},
		{"unknown STS key", func(c *client) { c.id = "STS.doesnotexist" }, 400, "InvalidSecurityToken.MismatchWithAccessKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.sessionClient(t, creds)
			tt.mod(c)
			res := c.call("GetCallerIdentity")
			if tt.status == 200 {
				res.ok(t)
				return
			}
			res.expect(t, tt.status, tt.code)
		})
	}

	t.Run("expired", func(t *testing.T) {
		c := e.sessionClient(t, creds)
		clock.Advance(time.Hour)
		c.call("GetCallerIdentity").expect(t, 403, "InvalidSecurityToken.Expired")
	})
}

func TestRouting(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	c := e.rootClient(t)
	t.Run("unknown action", func(t *testing.T) {
		c.call("NoSuchAction").expect(t, 404, "InvalidAction.NotFound")
	})
	t.Run("unknown version", func(t *testing.T) {
		c.mutate = func(p url.Values) { p.Set("Version", "2099-01-01") }
		defer func() { c.mutate = nil }()
		c.call("GetCallerIdentity").expect(t, 400, "InvalidVersion")
	})
	t.Run("missing parameter", func(t *testing.T) {
		res := c.call("AssumeRole", "RoleSessionName", "s1").expect(t, 400, "MissingRoleArn")
		if res.str("Message") != "RoleArn is mandatory for this action." {
			t.Fatalf("message %q", res.str("Message"))
		}
	})
	t.Run("method", func(t *testing.T) {
		res := serve(t, e, httptest.NewRequest(http.MethodDelete, "/?Version=2015-04-01&Action=GetCallerIdentity", nil))
		if res.status != http.StatusMethodNotAllowed {
			t.Fatalf("DELETE: %d %s", res.status, res.raw)
		}
	})
	t.Run("xml by default", func(t *testing.T) {
		c.mutate = func(p url.Values) { p.Del("Format") }
		defer func() { c.mutate = nil }()
		res := c.call("ListUsers").ok(t)
		if !strings.HasPrefix(res.raw, "<?xml") || !strings.Contains(res.raw, "<ListUsersResponse>") {
			t.Fatalf("not XML: %s", res.raw)
		}
	})
	t.Run("request id header", func(t *testing.T) {
		res := c.call("GetCallerIdentity").ok(t)
		if h := res.header.Get("x-acs-request-id"); h == "" || h != res.str("RequestId") {
			t.Fatalf("x-acs-request-id %q vs RequestId %q", h, res.str("RequestId"))
		}
	})
}

func TestGetCallerIdentity(t *testing.T) {
	e, _ := newTestEmulator(t, trustSeed())
	acct := e.AccountID()
	root := e.rootClient(t).call("GetCallerIdentity").ok(t)
	user := e.userClient(t, "bob").call("GetCallerIdentity").ok(t)
	sess := e.sessionClient(t, assumeAppRole(t, e)).call("GetCallerIdentity").ok(t)

	checks := []struct {
		res                            *result
		typ, arn, principalPrefix      string
		wantUserID, wantRoleID, wantID bool
	}{
		{root, "Account", "acs:ram::" + acct + ":root", acct, true, false, true},
		{user, "RAMUser", "acs:ram::" + acct + ":user/bob", "", true, false, true},
		{sess, "AssumedRoleUser", "acs:ram::" + acct + ":assumed-role/app/app-session", "", false, true, true},
	}
	for _, c := range checks {
		if got := c.res.str("IdentityType"); got != c.typ {
			t.Errorf("IdentityType %q, want %q", got, c.typ)
		}
		if got := c.res.str("Arn"); got != c.arn {
			t.Errorf("Arn %q, want %q", got, c.arn)
		}
		if got := c.res.str("AccountId"); got != acct {
			t.Errorf("AccountId %q", got)
		}
		if (c.res.str("UserId") != "") != c.wantUserID || (c.res.str("RoleId") != "") != c.wantRoleID {
			t.Errorf("%s: UserId %q RoleId %q", c.typ, c.res.str("UserId"), c.res.str("RoleId"))
		}
		if c.res.str("PrincipalId") == "" {
			t.Errorf("%s: no PrincipalId", c.typ)
		}
	}
	if got, want := sess.str("PrincipalId"), sess.str("RoleId")+":app-session"; got != want {
		t.Errorf("assumed PrincipalId %q, want %q", got, want)
	}
}

// userByName finds a user in a snapshot.
func (v StateView) userByName(name string) (UserView, bool) {
	for _, u := range v.Users {
		if u.Name == name {
			return u, true
		}
	}
	return UserView{}, false
}

func TestSignatureMismatchRedactsPassword(t *testing.T) {
	e, _ := newTestEmulator(t, nil)
	if err := e.CreateUser("human"); err != nil {
		t.Fatal(err)
	}
	c := e.rootClient(t)
	c.secret = "wrong"
	res := c.call("CreateLoginProfile", "UserName", "human", "Password", "Sup3r-Secret-pw").expect(t, 400, "SignatureDoesNotMatch")
	if strings.Contains(res.raw, "Sup3r") || !strings.Contains(res.str("Message"), "Password%3DREDACTED") {
		t.Fatalf("password not redacted: %s", res.str("Message"))
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	var lines []string
	clock := newFakeClock()
	e, err := New(Options{Seed: trustSeed(), Clock: clock.Now, Logger: func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	if err != nil {
		t.Fatal(err)
	}
	creds := assumeAppRole(t, e)
	s := e.sessionClient(t, creds)
	s.call("ListUsers").ok(t)
	s.secret = "wrong"
	s.call("ListUsers").expect(t, 400, "SignatureDoesNotMatch")
	if len(lines) != 3 {
		t.Fatalf("%d log lines: %q", len(lines), lines)
	}
	if !strings.Contains(lines[0], "sts:AssumeRole") || !strings.Contains(lines[0], "user/caller") || !strings.Contains(lines[2], "code=SignatureDoesNotMatch") {
		t.Fatalf("log lines %q", lines)
	}
	for _, l := range lines {
		for _, secret := range []string{callerSecret, creds["AccessKeySecret"].(string), creds["SecurityToken"].(string)} {
			if strings.Contains(l, secret) {
				t.Fatalf("log line leaks a secret: %q", l)
			}
		}
	}
}
