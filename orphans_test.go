package alicloud

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// The tests in this file reproduce the ways an independent review found to
// end with a live credential that Vault has forgotten. Each failed before
// its fix.

// lostAnswers is a transport that lets the emulator apply chosen actions and
// then loses the answer, as a connection dropped after the service acted
// would: the caller sees a transport error, and the change is made.
type lostAnswers struct {
	next http.RoundTripper
	// gateway502 answers 502 Bad Gateway from "a proxy" instead of
	// dropping the connection.
	gateway502 bool
	mu         sync.Mutex
	left       map[string]int // action -> answers still to lose
	lost       []string
}

func newLostAnswers() *lostAnswers {
	return &lostAnswers{next: http.DefaultTransport, left: map[string]int{}}
}

// lose makes the next n answers to action go missing.
func (l *lostAnswers) lose(action string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.left[action] = n
}

func (l *lostAnswers) lostActions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lost...)
}

func (l *lostAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	resp, err := l.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	lose := l.left[action] > 0
	if lose {
		l.left[action]--
		l.lost = append(l.lost, action)
	}
	l.mu.Unlock()
	if lose {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if l.gateway502 {
			return &http.Response{
				Status: "502 Bad Gateway", StatusCode: http.StatusBadGateway, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header:  http.Header{"Content-Type": []string{"text/html"}},
				Body:    io.NopCloser(strings.NewReader("<html>bad gateway</html>")),
				Request: r,
			}, nil
		}
		return nil, io.ErrUnexpectedEOF
	}
	return resp, nil
}

func withTransport(rt http.RoundTripper) envOption {
	return func(env *backendEnv) { env.HTTPClient = &http.Client{Transport: rt} }
}

// engineAPI is a RAM client signed with the engine user's current key.
func (e *testEnv) engineAPI() *aliyun.Client {
	return e.client(e.engineKeyID, e.engineSecret, "")
}

// ramUserRole writes a ram_user role with a custom policy, a system policy
// and a group.
func (e *testEnv) ramUserRole(name string, extra map[string]interface{}) {
	e.t.Helper()
	data := map[string]interface{}{
		"inline_policies": "[" + ecsDescribeDoc + "]",
		"remote_policies": []string{"name:AliyunOSSReadOnlyAccess,type:System"},
		"ram_groups":      "developers",
	}
	for k, v := range extra {
		data[k] = v
	}
	e.ok(logical.CreateOperation, "role/"+name, data)
}

// TestRevoke_EngineKeyUnknown: when Alibaba does not know the engine's own
// AccessKey (deleted or rotated outside Vault), RAM answers
// InvalidAccessKeyId.NotFound. That says nothing about the user being
// revoked: the revoke must fail and keep the lease, and succeed once the
// config is fixed.
func TestRevoke_EngineKeyUnknown(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ramUserRole("dev", nil)
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	userName := resp.Secret.InternalData["username"].(string)

	// A second key for the engine user, then the configured one deleted
	// outside Vault.
	newID, newSecret, err := e.emu.CreateAccessKey(engineUser)
	if err != nil {
		t.Fatal(err)
	}
	e.addSecret(newSecret)
	if err := e.engineAPI().DeleteAccessKey(e.ctx, engineUser, e.engineKeyID); err != nil {
		t.Fatal(err)
	}

	err = e.revoke(resp)
	if err == nil {
		t.Fatalf("revoke succeeded while the engine's key is unknown to Alibaba; user %s is left: %v", userName, e.userNames())
	}
	if !strings.Contains(err.Error(), "InvalidAccessKeyId.NotFound") {
		t.Errorf("revoke error %q does not name Alibaba's code", err)
	}
	if u := e.user(userName); u == nil || len(u.AccessKeys) != 1 {
		t.Fatalf("the user or its key is gone after a failed revoke: %+v", u)
	}

	// The operator fixes the config; the same lease now revokes.
	e.engineKeyID, e.engineSecret = newID, newSecret
	e.configure(nil)
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke after the config was fixed: %v", err)
	}
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users after the revoke: %v", users)
	}
}

// switchable404 is a reverse proxy to the emulator that can be told to
// answer every request with an HTML 404 page, as a wrong ram_endpoint (a web
// server, a gateway without the route) would.
type switchable404 struct {
	broken atomic.Bool
	proxy  *httputil.ReverseProxy
}

func (s *switchable404) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.broken.Load() {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<html><body><h1>404 Not Found</h1></body></html>")
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// TestRevoke_RAMEndpointAnswers404: an HTTP 404 with no Alibaba error code
// is not "the user is gone".
func TestRevoke_RAMEndpointAnswers404(t *testing.T) {
	e := newTestEnv(t)
	target, _ := url.Parse(e.url)
	gw := &switchable404{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	e.configure(map[string]interface{}{"ram_endpoint": srv.URL})
	e.ramUserRole("dev", nil)
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	userName := resp.Secret.InternalData["username"].(string)

	gw.broken.Store(true)
	if err := e.revoke(resp); err == nil {
		t.Fatalf("revoke succeeded against a ram_endpoint answering 404 pages; user %s is left", userName)
	}
	if e.user(userName) == nil {
		t.Fatal("the user is gone although the revoke failed")
	}
	// The rollback of a half-made user must not give up either.
	gw.broken.Store(false)
	if err := e.revoke(&logical.Response{Secret: leaseRoundTrip(t, resp.Secret)}); err != nil {
		t.Fatalf("revoke once the endpoint works: %v", err)
	}
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users after the revoke: %v", users)
	}
}

// TestRotateRoot_DuringRAMUserIssue rotates the engine's key while a RAM user
// is being issued with the old one: the issue fails, and its user must stay
// under Vault's control (a WAL entry, or removed at once).
func TestRotateRoot_DuringRAMUserIssue(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ramUserRole("dev", nil)
	var once sync.Once
	e.stepHook = func(step string) {
		if step != "ram_user:create_user" {
			return
		}
		once.Do(func() { e.ok(logical.UpdateOperation, "config/rotate-root", nil) })
	}
	resp, err := e.do(logical.ReadOperation, "creds/dev", nil)
	e.stepHook = nil
	if err == nil && resp != nil && !resp.IsError() {
		// Issued after all: the lease holds the user.
		if err := e.revoke(resp); err != nil {
			t.Fatal(err)
		}
	}
	users, wal := e.userNames(), e.walEntries()
	if len(users) > 0 && len(wal) == 0 {
		t.Fatalf("user %v is left with neither a lease nor a WAL entry", users)
	}
	e.ageWALs(walRollbackMinAge + time.Minute)
	e.rollback()
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users after the rollback: %v", users)
	}
	if wal := e.walEntries(); len(wal) != 0 {
		t.Fatalf("WAL after the rollback: %v", wal)
	}
}

// TestLostAnswers loses the answer to each non-idempotent create once (the
// emulator applied it), with the client's retries on. Nothing may be left
// that neither storage nor a WAL entry knows of, and after the rollback the
// account is as before.
func TestLostAnswers(t *testing.T) {
	for _, mode := range []string{"dropped", "502"} {
		t.Run(mode, func(t *testing.T) { testLostAnswers(t, mode == "502") })
	}
}

func testLostAnswers(t *testing.T, gateway502 bool) {
	newLostAnswers := func() *lostAnswers {
		la := newLostAnswers()
		la.gateway502 = gateway502
		return la
	}
	t.Run("CreateUser", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		e.ramUserRole("dev", nil)
		la.lose("CreateUser", 1)
		resp, err := e.do(logical.ReadOperation, "creds/dev", nil)
		if err == nil && !resp.IsError() {
			if err := e.revoke(resp); err != nil {
				t.Fatal(err)
			}
		}
		if users := e.userNames(); len(users) > 0 && len(e.walEntries()) == 0 {
			t.Fatalf("lost CreateUser answer: user %v left with no WAL entry", users)
		}
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		if users := e.userNames(); len(users) != 0 {
			t.Fatalf("users after the rollback: %v", users)
		}
		if got := la.lostActions(); !reflect.DeepEqual(got, []string{"CreateUser"}) {
			t.Fatalf("lost answers %v", got)
		}
	})

	t.Run("CreateAccessKey of a RAM user", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		e.ramUserRole("dev", nil)
		la.lose("CreateAccessKey", 1)
		resp, err := e.do(logical.ReadOperation, "creds/dev", nil)
		if err == nil && !resp.IsError() {
			if err := e.revoke(resp); err != nil {
				t.Fatal(err)
			}
		}
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		if users := e.userNames(); len(users) != 0 {
			t.Fatalf("users after the rollback: %v", users)
		}
	})

	t.Run("CreateAccessKey of rotate-root", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		la.lose("CreateAccessKey", 1)
		_, _ = e.do(logical.UpdateOperation, "config/rotate-root", nil)
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		if keys := e.engineKeys(); len(keys) != 1 {
			t.Fatalf("engine user's keys after the rollback = %v, want only the stored one", keys)
		}
		e.storedKeyWorks()
		// And rotation works again.
		e.ok(logical.UpdateOperation, "config/rotate-root", nil)
		if keys := e.engineKeys(); len(keys) != 1 {
			t.Fatalf("engine user's keys after a second rotation = %v", keys)
		}
	})

	t.Run("CreateAccessKey of a static role", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		if err := e.emu.CreateUser("app"); err != nil {
			t.Fatal(err)
		}
		e.ok(logical.CreateOperation, "static-role/app", map[string]interface{}{"username": "app", "rotation_period": "24h"})
		la.lose("CreateAccessKey", 1)
		_, _ = e.do(logical.UpdateOperation, "static-role/app/rotate", nil)
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		read := e.ok(logical.ReadOperation, "static-role/app", nil)
		want := []string{read.Data["access_key"].(string)}
		if prev, _ := read.Data["previous_access_key"].(string); prev != "" {
			want = append(want, prev)
		}
		var got []string
		for _, k := range e.user("app").AccessKeys {
			got = append(got, k.ID)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("keys of the static role's user = %v, want the role's %v", got, want)
		}
		e.ok(logical.UpdateOperation, "static-role/app/rotate", nil)
	})

	t.Run("CreatePolicy", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		la.lose("CreatePolicy", 1)
		_, _ = e.do(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"})
		e.ageWALs(walRollbackMinAge + time.Minute)
		e.rollback()
		var stored []string
		if r, _ := readRole(e.ctx, e.s, "dev"); r != nil {
			stored = r.InlinePolicyNames
		}
		if names := e.policyNames(); len(names) != len(stored) || (len(names) > 0 && names[0] != stored[0]) {
			t.Fatalf("custom policies %v, stored role uses %v", names, stored)
		}
	})
}

// TestRAMUser_PreexistingUserLeftAlone: a deterministic username_template
// can name a RAM user that exists and that Vault did not create. Neither the
// failed issue nor the rollback may delete it.
func TestRAMUser_PreexistingUserLeftAlone(t *testing.T) {
	for _, crash := range []string{"", "ram_user:wal"} {
		t.Run("crash="+crash, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			e.ramUserRole("dev", map[string]interface{}{"username_template": "svc-{{.RoleName}}"})
			if err := e.emu.CreateUser("svc-dev"); err != nil {
				t.Fatal(err)
			}
			keyID, secret, err := e.emu.CreateAccessKey("svc-dev")
			if err != nil {
				t.Fatal(err)
			}
			e.addSecret(secret)
			e.crashAtStep(crash)
			_, _ = e.do(logical.ReadOperation, "creds/dev", nil)
			e.crashAtStep("")
			e.b = e.newBackend()
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			u := e.user("svc-dev")
			if u == nil || len(u.AccessKeys) != 1 || u.AccessKeys[0].ID != keyID {
				t.Fatalf("the pre-existing user or its key was touched: %+v", u)
			}
			if wal := e.walEntries(); len(wal) != 0 {
				t.Fatalf("WAL after the rollback: %v", wal)
			}
		})
	}
}

// TestManagedPolicyNames_Injective: role "prod_db" and a role whose name is
// what "prod_db" was mapped to must not share a RAM policy.
func TestManagedPolicyNames_Injective(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	b := e.b
	a := b.managedPolicyName("prod_db", 0)
	other := strings.TrimSuffix(strings.TrimPrefix(a, "vault-"+b.mountTag()+"-"), "-0")
	if other == "prod_db" {
		t.Fatalf("no collision candidate from %q", a)
	}
	if got := b.managedPolicyName(other, 0); got == a {
		t.Fatalf("roles %q and %q both map to policy %q", "prod_db", other, a)
	}
	for _, pair := range [][2]string{{"a", "A"}, {"x.y", "x-y"}, {"x_y", "x-y"}, {strings.Repeat("r", 90), strings.Repeat("r", 91)}} {
		if b.managedPolicyName(pair[0], 0) == b.managedPolicyName(pair[1], 0) {
			t.Errorf("roles %q and %q share a policy name", pair[0], pair[1])
		}
	}

	// Writing both roles gives each its own policy with its own document.
	docA := ecsDescribeDoc
	docB := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeInstances","Resource":"*"}]}`
	e.ok(logical.CreateOperation, "role/prod_db", map[string]interface{}{"inline_policies": "[" + docA + "]"})
	e.ok(logical.CreateOperation, "role/"+other, map[string]interface{}{"inline_policies": "[" + docB + "]"})
	ra, _ := readRole(e.ctx, e.s, "prod_db")
	rb, _ := readRole(e.ctx, e.s, other)
	if ra.InlinePolicyNames[0] == rb.InlinePolicyNames[0] {
		t.Fatalf("both roles use policy %q", ra.InlinePolicyNames[0])
	}
	if p := e.policy(ra.InlinePolicyNames[0]); p == nil || !strings.Contains(p.Versions[len(p.Versions)-1].Document, "DescribeRegions") {
		t.Fatalf("role prod_db's policy was rewritten by the other role: %+v", p)
	}
}

// TestManagedPolicy_NoTakeOver: a role write refuses to take over a custom
// policy that another role or mount owns, or that Vault did not create.
func TestManagedPolicy_NoTakeOver(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	name := e.b.managedPolicyName("dev", 0)
	const foreign = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:*","Resource":"*"}]}`
	if err := e.emu.CreatePolicy(name, foreign); err != nil {
		t.Fatal(err)
	}
	e.badRequest(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"}, "inline_policies[0]")
	p := e.policy(name)
	if p == nil || len(p.Versions) != 1 || !strings.Contains(p.Versions[0].Document, "oss:*") {
		t.Fatalf("the foreign policy was changed: %+v", p)
	}
	if wal := e.walEntries(); len(wal) != 0 {
		t.Fatalf("WAL after a refused role write: %v", wal)
	}
}

// TestStaticRoles_OneRolePerUser creates static roles for one RAM user at
// once: exactly one may own it.
func TestStaticRoles_OneRolePerUser(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	if err := e.emu.CreateUser("shared"); err != nil {
		t.Fatal(err)
	}
	// Widen the window between the ownership check and the store, as a
	// slow RAM would.
	e.stepHook = func(step string) {
		if step == "static:wal" {
			time.Sleep(50 * time.Millisecond)
		}
	}
	const n = 4
	var wg sync.WaitGroup
	var created atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := e.do(logical.CreateOperation, fmt.Sprintf("static-role/r%d", i), map[string]interface{}{"username": "shared", "rotation_period": "24h"})
			if err == nil && resp != nil && !resp.IsError() {
				created.Add(1)
			}
		}(i)
	}
	wg.Wait()
	e.stepHook = nil
	if got := created.Load(); got != 1 {
		t.Fatalf("%d static roles own RAM user shared, want 1", got)
	}
}

// TestIssueFailure_NoSelfDeadlock: a failed RAM-user issue removes its user
// while holding the role's read lock; the removal must not wait for a write
// lock of the same bucket (a clean-up marker naming the same role).
func TestIssueFailure_NoSelfDeadlock(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"max_retries": 1})
	e.ramUserRole("dev", nil)
	r, _ := readRole(e.ctx, e.s, "dev")
	if err := e.b.markPolicyForGC(e.ctx, e.s, r.InlinePolicyNames[0], "dev"); err != nil {
		t.Fatal(err)
	}
	e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "CreateAccessKey", Kind: emulator.Fault5xx, Status: 500}}})
	done := make(chan error, 1)
	go func() {
		_, err := e.do(logical.ReadOperation, "creds/dev", nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the issue succeeded despite the CreateAccessKey fault")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a failed issue deadlocked on its own role lock")
	}
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("users after the failed issue: %v", users)
	}
}

// casedARN rewrites the user name in GetCallerIdentity answers to upper
// case: nothing documents that the ARN keeps the user name's case.
type casedARN struct{ next http.RoundTripper }

func (c casedARN) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	resp, err := c.next.RoundTrip(r)
	if err != nil || form.Get("Action") != "GetCallerIdentity" || resp.StatusCode != 200 {
		return resp, err
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out = bytes.Replace(out, []byte(":user/"+engineUser), []byte(":user/"+strings.ToUpper(engineUser)), 1)
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestRotateRoot_ARNCaseDoesNotMatter: rotate-root works when the ARN spells
// the user name differently from RAM.
func TestRotateRoot_ARNCaseDoesNotMatter(t *testing.T) {
	e := newTestEnv(t, withTransport(casedARN{next: http.DefaultTransport}))
	e.configure(nil)
	resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
	if got := resp.Data["access_key"]; got == e.engineKeyID || got == "" {
		t.Fatalf("rotate-root returned %v", got)
	}
	if keys := e.engineKeys(); len(keys) != 1 || keys[0] != resp.Data["access_key"] {
		t.Fatalf("engine user's keys = %v", keys)
	}
}

// TestHTTPStatus_UpstreamFailures: a request that fails because of Alibaba
// Cloud (an outage, a lost answer, throttling) reaches Vault's clients as a
// 502, one that Alibaba refuses as asked as a 400, never as a 500 (Vault maps
// a plugin's plain error to 500).
func TestHTTPStatus_UpstreamFailures(t *testing.T) {
	e := newTestEnv(t)
	e.configure(map[string]interface{}{"max_retries": 0})
	e.ok(logical.CreateOperation, "role/sts", map[string]interface{}{"role_arn": e.readerARN})
	e.ok(logical.CreateOperation, "role/nope", map[string]interface{}{"role_arn": "acs:ram::" + e.acct + ":role/missing"})
	h := httpStatusBackend{e.b}
	read := func(path string) (int, string) {
		t.Helper()
		resp, err := h.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: path, Storage: e.s, DisplayName: "token-alice"})
		if err != nil {
			t.Fatalf("read %s: error %v, want a response with a status", path, err)
		}
		code, _ := resp.Data[logical.HTTPStatusCode].(int)
		body, _ := resp.Data[logical.HTTPRawBody].(string)
		return code, body
	}
	for _, tc := range []struct {
		kind string
		want int
	}{{emulator.Fault5xx, 502}, {emulator.FaultDrop, 502}, {emulator.FaultThrottle, 502}} {
		e.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "AssumeRole", Kind: tc.kind}}})
		code, body := read("creds/sts")
		if code != tc.want || !strings.HasPrefix(body, `{"errors":["assuming`) {
			t.Errorf("%s: status %d body %s, want %d with Vault's error form", tc.kind, code, body, tc.want)
		}
	}
	e.emu.SetFaults(emulator.FaultConfig{})
	if code, body := read("creds/nope"); code != 400 || !strings.Contains(body, "EntityNotExist.Role") {
		t.Errorf("a missing RAM role: status %d body %s, want 400 naming Alibaba's code", code, body)
	}
	// Success and input errors pass through unchanged.
	resp, err := h.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/sts", Storage: e.s, DisplayName: "token-alice"})
	if err != nil || resp.Secret == nil {
		t.Fatalf("issue through the wrapper: %v %v", resp, err)
	}
	e.addSecret(resp.Data["secret_key"].(string), resp.Data["security_token"].(string))
	resp, err = h.HandleRequest(e.ctx, &logical.Request{Operation: logical.ReadOperation, Path: "creds/missing", Storage: e.s})
	if err != nil || !resp.IsError() {
		t.Fatalf("unknown role through the wrapper: %v %v", resp, err)
	}
}

// TestRoleDeleteCrash: a role delete (or a write that drops an inline
// policy) that dies after the role is stored and before its custom policies
// are retired leaves them to the rollback, not to nobody.
func TestRoleDeleteCrash(t *testing.T) {
	docB := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:DescribeInstances","Resource":"*"}]}`
	for _, tc := range []struct {
		step  string
		op    logical.Operation
		data  map[string]interface{}
		wantN int // custom policies left after the rollback
	}{
		{"role:deleted", logical.DeleteOperation, nil, 0},
		{"role:stored", logical.UpdateOperation, map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "]"}, 1},
	} {
		t.Run(tc.step, func(t *testing.T) {
			e := newTestEnv(t)
			e.configure(nil)
			e.ok(logical.CreateOperation, "role/dev", map[string]interface{}{"inline_policies": "[" + ecsDescribeDoc + "," + docB + "]"})
			if n := len(e.policyNames()); n != 2 {
				t.Fatalf("policies after the role write: %v", e.policyNames())
			}
			e.crashAtStep(tc.step)
			if _, err := e.do(tc.op, "role/dev", tc.data); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("%s role/dev: %v, want the simulated crash", tc.op, err)
			}
			e.crashAtStep("")
			e.b = e.newBackend()
			e.ageWALs(walRollbackMinAge + time.Minute)
			e.rollback()
			if names := e.policyNames(); len(names) != tc.wantN {
				t.Fatalf("custom policies after the rollback = %v, want %d", names, tc.wantN)
			}
			if wal := e.walEntries(); len(wal) != 0 {
				t.Fatalf("WAL after the rollback: %v", wal)
			}
		})
	}
}

// TestLostAnswers_ResolvedByAsking: after a lost answer to a create, the
// engine asks RAM what exists instead of giving up: the issue or rotation
// succeeds, and nothing is left besides what storage and the lease know.
func TestLostAnswers_ResolvedByAsking(t *testing.T) {
	t.Run("CreateUser", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		e.ramUserRole("dev", nil)
		la.lose("CreateUser", 1)
		resp := e.ok(logical.ReadOperation, "creds/dev", nil)
		if users := e.userNames(); len(users) != 1 || users[0] != resp.Secret.InternalData["username"] {
			t.Fatalf("users %v, lease's %v", users, resp.Secret.InternalData["username"])
		}
		e.assertWorks(e.credsClient(resp), "")
		if err := e.revoke(resp); err != nil || len(e.userNames()) != 0 {
			t.Fatalf("revoke: %v, users left %v", err, e.userNames())
		}
	})
	t.Run("CreateAccessKey of a RAM user", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		e.ramUserRole("dev", nil)
		la.lose("CreateAccessKey", 1)
		resp := e.ok(logical.ReadOperation, "creds/dev", nil)
		u := e.user(resp.Secret.InternalData["username"].(string))
		if len(u.AccessKeys) != 1 || u.AccessKeys[0].ID != resp.Data["access_key"] {
			t.Fatalf("the user's keys %+v, want only the lease's %v", u.AccessKeys, resp.Data["access_key"])
		}
	})
	t.Run("CreateAccessKey of rotate-root", func(t *testing.T) {
		la := newLostAnswers()
		e := newTestEnv(t, withTransport(la))
		e.configure(nil)
		la.lose("CreateAccessKey", 1)
		resp := e.ok(logical.UpdateOperation, "config/rotate-root", nil)
		if keys := e.engineKeys(); len(keys) != 1 || keys[0] != resp.Data["access_key"] {
			t.Fatalf("engine user's keys %v, want only the new %v", keys, resp.Data["access_key"])
		}
		if got := la.lostActions(); len(got) != 1 {
			t.Fatalf("lost answers %v", got)
		}
	})
}

// issuedRecords lists the engine's records of issued RAM users.
func (e *testEnv) issuedRecords() []string {
	var out []string
	for k := range storageDump(e.t.(*testing.T), e.s) {
		if strings.HasPrefix(k, issuedPrefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestIssued_ResponseLost: the plugin dies after a RAM user is complete and
// its WAL entry is gone, before Vault has the answer, so Vault stores no
// lease (seen in the soak under kill -9). The engine's own record takes the
// user back once its lease could no longer be alive; a revoked lease leaves
// no record, and a renewal that may last longer moves it.
func TestIssued_ResponseLost(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ramUserRole("dev", map[string]interface{}{"ttl": "1h", "max_ttl": "2h"})

	// A normal lease: its record goes with the revoke.
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	if recs := e.issuedRecords(); len(recs) != 1 || recs[0] != resp.Secret.InternalData["issued_key"] {
		t.Fatalf("records after an issue: %v, lease's %v", recs, resp.Secret.InternalData["issued_key"])
	}
	if err := e.revoke(resp); err != nil {
		t.Fatal(err)
	}
	if recs := e.issuedRecords(); len(recs) != 0 {
		t.Fatalf("records after the revoke: %v", recs)
	}

	// The answer is lost after the user is complete.
	e.crashAtStep("ram_user:issued")
	if _, err := e.do(logical.ReadOperation, "creds/dev", nil); !errors.Is(err, errSimulatedCrash) {
		t.Fatalf("issue: %v, want the simulated crash", err)
	}
	e.crashAtStep("")
	e.b = e.newBackend()
	e.ageWALs(walRollbackMinAge + time.Minute)
	e.rollback()
	lost := e.userNames()
	if len(lost) != 1 || len(e.walEntries()) != 0 {
		t.Fatalf("after the lost answer: users %v, WAL %v", lost, e.walEntries())
	}
	periodic := func() {
		t.Helper()
		if err := e.b.periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
			t.Fatal(err)
		}
	}
	// While a lease could still be alive, the user stays.
	e.clock.Advance(2 * time.Hour)
	periodic()
	if users := e.userNames(); len(users) != 1 {
		t.Fatalf("the sweep took the user back before its max TTL and grace ended: %v", users)
	}
	e.clock.Advance(time.Hour + issuedGrace + issuedSweepInterval)
	periodic()
	if users := e.userNames(); len(users) != 0 {
		t.Fatalf("the user of a lost lease is still there after its max TTL: %v", users)
	}
	if recs := e.issuedRecords(); len(recs) != 0 {
		t.Fatalf("records after the sweep: %v", recs)
	}

	// A renewal after max_ttl was raised moves the record later.
	resp = e.ok(logical.ReadOperation, "creds/dev", nil)
	before := resp.Secret.InternalData["issued_key"].(string)
	e.ok(logical.UpdateOperation, "role/dev", map[string]interface{}{"max_ttl": "48h"})
	resp.Secret.IssueTime = e.clock.Now()
	renewed, err := e.renew(resp)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := renewed.Secret.InternalData["issued_key"].(string)
	if recs := e.issuedRecords(); after <= before || len(recs) != 1 || recs[0] != after {
		t.Fatalf("after the renewal: record key %q (was %q), records %v", after, before, recs)
	}
}

// TestIssued_UnknownMountMaximum: when Vault does not tell the mount's
// maximum lease TTL (its system view answers 0 when the call fails), the
// record of a user of a role without max_ttl must not fall due early.
func TestIssued_UnknownMountMaximum(t *testing.T) {
	e := newTestEnv(t)
	e.b.System().(*replicationStateCache).SystemView.(*logical.StaticSystemView).MaxLeaseTTLVal = 0
	e.configure(nil)
	e.ramUserRole("dev", nil)
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	e.clock.Advance(90 * 24 * time.Hour)
	if err := e.b.periodicFunc(e.ctx, &logical.Request{Storage: e.s}); err != nil {
		t.Fatal(err)
	}
	if users := e.userNames(); len(users) != 1 {
		t.Fatalf("the user of a live lease was taken back: users %v", users)
	}
	if err := e.revoke(resp); err != nil {
		t.Fatal(err)
	}
}

// TestRAMUser_LongRoleName: RAM limits a user's Comments to 128 characters;
// a role name of 103 characters or more used to make every issue fail.
func TestRAMUser_LongRoleName(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	name := strings.Repeat("r", 120)
	e.ok(logical.CreateOperation, "role/"+name, map[string]interface{}{"remote_policies": []string{"name:ReadOnlyAccess,type:System"}})
	resp := e.ok(logical.ReadOperation, "creds/"+name, nil)
	u, err := e.engineAPI().GetUser(e.ctx, resp.Secret.InternalData["username"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Comments) > maxUserComments || !e.b.madeBy(u.Comments, walRAMUser{RoleName: name, IssueID: resp.Secret.InternalData["issue_id"].(string)}) {
		t.Fatalf("comments %q (%d characters)", u.Comments, len(u.Comments))
	}
	if err := e.revoke(resp); err != nil || len(e.userNames()) != 0 {
		t.Fatalf("revoke: %v, users %v", err, e.userNames())
	}
}

// TestRotateRoot_InFlightRequestsKeepWorking: a request that started before
// a root rotation goes on with the new key once the old one is deleted
// (seen in the soak as 502s and failed revokes during rotate-root).
func TestRotateRoot_InFlightRequestsKeepWorking(t *testing.T) {
	e := newTestEnv(t)
	e.configure(nil)
	e.ramUserRole("dev", nil)
	var once sync.Once
	e.stepHook = func(step string) {
		if step == "ram_user:create_user" {
			once.Do(func() { e.ok(logical.UpdateOperation, "config/rotate-root", nil) })
		}
	}
	resp := e.ok(logical.ReadOperation, "creds/dev", nil)
	e.stepHook = nil
	if keys := e.engineKeys(); len(keys) != 1 || keys[0] == e.engineKeyID {
		t.Fatalf("engine keys after the rotation: %v (old %s)", keys, e.engineKeyID)
	}
	u := e.user(resp.Secret.InternalData["username"].(string))
	if u == nil || len(u.AccessKeys) != 1 || len(u.Policies) != 2 || len(u.Groups) != 1 {
		t.Fatalf("the user issued across the rotation: %+v", u)
	}
	if err := e.revoke(resp); err != nil || len(e.userNames()) != 0 {
		t.Fatalf("revoke: %v, users %v", err, e.userNames())
	}
}
