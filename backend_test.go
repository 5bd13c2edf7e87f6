package alicloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator/emulatortest"
)

// testClock is a settable clock shared by the backend and the emulator.
// Sleeping (retries, the rotate-root confirmation) advances it instead of
// waiting, so no test waits for real time to pass.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingStorage counts writes, to check that the hot path writes nothing.
type countingStorage struct {
	logical.Storage
	puts, deletes atomic.Int64
}

func (s *countingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	s.puts.Add(1)
	return s.Storage.Put(ctx, e)
}

func (s *countingStorage) Delete(ctx context.Context, k string) error {
	s.deletes.Add(1)
	return s.Storage.Delete(ctx, k)
}

const (
	testBackendUUID = "5f0c1a2b-3c4d-5e6f-7a8b-9c0d1e2f3a4b"
	trustDocFmt     = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::%s:root"]}}]}`
	ecsTrustDoc     = `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`
	engineUser      = "vault-engine"
	oidcProvider    = "ack-cluster"
	oidcSubject     = "system:serviceaccount:vault:vault"
)

// testEnv is an emulated account, a backend on in-memory storage, and the
// trace-level log of the backend. Every secret the test sees is recorded and
// checked against the log when the test ends.
type testEnv struct {
	t     testing.TB
	ctx   context.Context
	emu   *emulator.Emulator
	url   string
	clock *testClock
	b     *backend
	s     *countingStorage
	logs  *syncBuffer
	env   backendEnv

	acct          string
	engineKeyID   string
	engineSecret  string
	engineRoleARN string // trusts the account; may manage RAM and assume roles
	readerARN     string // trusts the account; ECS read-only
	wideARN       string // trusts the account; ECS + RAM read-only
	partnerARN    string // trusts the account with an external id
	oidcRoleARN   string // trusts the OIDC provider
	oidcProvARN   string
	ecsRole       string // trusted by ECS
	externalID    string
	crashAt       atomic.Value // string: the step where the backend "dies"
	stepHook      func(step string)
	secretsMu     sync.Mutex
	secrets       []string
	skipLogChecks bool
}

type envOption func(*backendEnv)

func newTestEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	emu, url := emulatortest.New(t, emulator.Options{Clock: clock.Now})
	e := &testEnv{t: t, ctx: context.Background(), emu: emu, url: url, clock: clock, acct: emu.AccountID(), externalID: "partner-4711"}
	e.crashAt.Store("")

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(emu.CreateUser(engineUser))
	must(emu.AttachPolicy("user", engineUser, "System", "AliyunRAMFullAccess"))
	must(emu.AttachPolicy("user", engineUser, "System", "AliyunSTSAssumeRoleAccess"))
	var err error
	e.engineKeyID, e.engineSecret, err = emu.CreateAccessKey(engineUser)
	must(err)
	e.addSecret(e.engineSecret)

	trust := fmt.Sprintf(trustDocFmt, e.acct)
	e.engineRoleARN, err = emu.CreateRole("vault-engine-role", trust, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "vault-engine-role", "System", "AliyunRAMFullAccess"))
	must(emu.AttachPolicy("role", "vault-engine-role", "System", "AliyunSTSAssumeRoleAccess"))
	e.readerARN, err = emu.CreateRole("reader", trust, 12*time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "reader", "System", "AliyunECSReadOnlyAccess"))
	e.wideARN, err = emu.CreateRole("wide", trust, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "wide", "System", "AliyunECSReadOnlyAccess"))
	must(emu.AttachPolicy("role", "wide", "System", "AliyunRAMReadOnlyAccess"))
	trustExt := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + e.acct +
		`:root"]},"Condition":{"StringEquals":{"sts:ExternalId":"` + e.externalID + `"}}}]}`
	e.partnerARN, err = emu.CreateRole("partner", trustExt, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "partner", "System", "AliyunECSReadOnlyAccess"))

	// Engine identities other than an AccessKey: an ECS instance role and an
	// OIDC role, both allowed to manage RAM and assume roles.
	e.ecsRole = "EcsVaultRole"
	_, err = emu.CreateRole(e.ecsRole, ecsTrustDoc, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", e.ecsRole, "System", "AliyunRAMFullAccess"))
	must(emu.AttachPolicy("role", e.ecsRole, "System", "AliyunSTSAssumeRoleAccess"))
	e.oidcProvARN, err = emu.RegisterOIDCProvider(oidcProvider, []string{"sts.aliyuncs.com"})
	must(err)
	trustOIDC := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["` + e.oidcProvARN +
		`"]},"Condition":{"StringEquals":{"oidc:sub":"` + oidcSubject + `"}}}]}`
	e.oidcRoleARN, err = emu.CreateRole("vault-rrsa", trustOIDC, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "vault-rrsa", "System", "AliyunRAMFullAccess"))
	must(emu.AttachPolicy("role", "vault-rrsa", "System", "AliyunSTSAssumeRoleAccess"))

	must(emu.CreateGroup("developers"))
	must(emu.CreateGroup("auditors"))

	e.env = backendEnv{
		Clock:                 clock.Now,
		Getenv:                func(string) string { return "" },
		Sleep:                 clock.Sleep,
		RotateConfirmTimeout:  10 * time.Second,
		RotateConfirmInterval: time.Second,
		crash: func(step string) bool {
			if e.stepHook != nil {
				e.stepHook(step)
			}
			return e.crashAt.Load().(string) == step
		},
	}
	for _, o := range opts {
		o(&e.env)
	}
	e.s = &countingStorage{Storage: &logical.InmemStorage{}}
	e.logs = &syncBuffer{}
	e.b = e.newBackend()
	t.Cleanup(e.checkLogs)
	return e
}

// newBackend builds a backend on the env's storage, as a restarted process
// (or another node) would.
func (e *testEnv) newBackend() *backend {
	e.t.Helper()
	conf := logical.TestBackendConfig()
	conf.StorageView = e.s
	conf.BackendUUID = testBackendUUID
	sv := logical.TestSystemView()
	sv.PluginEnvironment = &logical.PluginEnvironment{VaultVersion: "1.20.0"}
	conf.System = sv
	conf.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: e.logs, Name: "alicloud"})
	b := newBackend(e.env)
	if err := b.Setup(e.ctx, conf); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { b.Cleanup(context.Background()) })
	return b
}

func (e *testEnv) addSecret(s ...string) {
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	for _, v := range s {
		if v != "" {
			e.secrets = append(e.secrets, v)
		}
	}
}

// checkLogs fails the test if any secret the test saw is in the backend's log.
func (e *testEnv) checkLogs() {
	if e.skipLogChecks {
		return
	}
	logs := e.logs.String()
	e.secretsMu.Lock()
	defer e.secretsMu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("a secret (%d characters, starting %q) appears in the backend's log", len(s), s[:4])
		}
	}
}

// do sends a request to the backend.
func (e *testEnv) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	e.t.Helper()
	req := &logical.Request{
		Operation:   op,
		Path:        path,
		Data:        data,
		Storage:     e.s,
		DisplayName: "token-alice",
	}
	if op == logical.CreateOperation || op == logical.UpdateOperation {
		// Choose create or update as Vault's router does.
		req.Operation = logical.UpdateOperation
		checkFound, exists, err := e.b.HandleExistenceCheck(e.ctx, req)
		if err != nil {
			e.t.Fatalf("existence check of %s: %v", path, err)
		}
		if checkFound && !exists {
			req.Operation = logical.CreateOperation
		}
	}
	resp, err := e.b.HandleRequest(e.ctx, req)
	if resp != nil && resp.Data != nil {
		for _, k := range []string{"secret_key", "security_token"} {
			if v, ok := resp.Data[k].(string); ok {
				e.addSecret(v)
			}
		}
	}
	return resp, err
}

// ok sends a request and fails on any error or error response.
func (e *testEnv) ok(op logical.Operation, path string, data map[string]interface{}) *logical.Response {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	if err != nil {
		e.t.Fatalf("%s %s: %v", op, path, err)
	}
	if resp != nil && resp.IsError() {
		e.t.Fatalf("%s %s: %v", op, path, resp.Error())
	}
	return resp
}

// fails sends a request and checks it fails with a message containing want
// (an error response for input problems, an error otherwise).
func (e *testEnv) fails(op logical.Operation, path string, data map[string]interface{}, want string) {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	var msg string
	switch {
	case err != nil:
		msg = err.Error()
	case resp != nil && resp.IsError():
		msg = resp.Error().Error()
	default:
		e.t.Fatalf("%s %s succeeded, want an error containing %q (response %v)", op, path, want, resp)
	}
	if !strings.Contains(msg, want) {
		e.t.Fatalf("%s %s: error %q, want it to contain %q", op, path, msg, want)
	}
}

// badRequest sends a request and checks it gets a 400 error response naming want.
func (e *testEnv) badRequest(op logical.Operation, path string, data map[string]interface{}, want string) {
	e.t.Helper()
	resp, err := e.do(op, path, data)
	if err != nil {
		e.t.Fatalf("%s %s: error %v, want a 400 response containing %q", op, path, err, want)
	}
	if resp == nil || !resp.IsError() {
		e.t.Fatalf("%s %s: response %v, want a 400 response containing %q", op, path, resp, want)
	}
	if got := resp.Error().Error(); !strings.Contains(got, want) {
		e.t.Fatalf("%s %s: error %q, want it to contain %q", op, path, got, want)
	}
	if code, _ := logical.RespondErrorCommon(&logical.Request{Operation: op}, resp, nil); code != 400 {
		e.t.Fatalf("%s %s: status %d, want 400", op, path, code)
	}
}

// configure writes an access_key config for the engine user against the
// emulator and returns the response.
func (e *testEnv) configure(extra map[string]interface{}) *logical.Response {
	e.t.Helper()
	data := map[string]interface{}{
		"access_key":   e.engineKeyID,
		"secret_key":   e.engineSecret,
		"sts_endpoint": e.url,
		"ram_endpoint": e.url,
	}
	for k, v := range extra {
		data[k] = v
	}
	return e.ok(logical.UpdateOperation, "config", data)
}

// client returns an aliyun client signed with the given credentials,
// pointed at the emulator for every product.
func (e *testEnv) client(ak, sk, token string) *aliyun.Client {
	e.t.Helper()
	c, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token}),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: e.url, aliyun.RAM: e.url, aliyun.ECS: e.url},
		Clock:       e.clock.Now,
		MaxRetries:  -1,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// credsClient returns a client signed with the credentials of a creds response.
func (e *testEnv) credsClient(resp *logical.Response) *aliyun.Client {
	e.t.Helper()
	token, _ := resp.Data["security_token"].(string)
	return e.client(resp.Data["access_key"].(string), resp.Data["secret_key"].(string), token)
}

// describeRegions is the sample workload: ECS DescribeRegions.
func describeRegions(ctx context.Context, c *aliyun.Client) error {
	var out struct {
		Regions struct {
			Region []struct {
				RegionID string `json:"RegionId"`
			} `json:"Region"`
		} `json:"Regions"`
	}
	if err := c.Do(ctx, &aliyun.Request{Product: aliyun.ECS, Version: aliyun.ECSVersion, Action: "DescribeRegions"}, &out); err != nil {
		return err
	}
	if len(out.Regions.Region) == 0 {
		return errors.New("DescribeRegions returned no region")
	}
	return nil
}

// assertWorks checks that credentials belong to wantARN, may call ECS
// DescribeRegions and may not call RAM ListUsers.
func (e *testEnv) assertWorks(c *aliyun.Client, wantARNPrefix string) {
	e.t.Helper()
	id, err := c.GetCallerIdentity(e.ctx)
	if err != nil {
		e.t.Fatalf("GetCallerIdentity with the issued credentials: %v", err)
	}
	if !strings.HasPrefix(id.Arn, wantARNPrefix) {
		e.t.Fatalf("issued credentials belong to %q, want %q...", id.Arn, wantARNPrefix)
	}
	if err := describeRegions(e.ctx, c); err != nil {
		e.t.Fatalf("ECS DescribeRegions (allowed by the policy) failed: %v", err)
	}
	if _, err := c.ListUsers(e.ctx); !aliyun.IsAccessDenied(err) {
		e.t.Fatalf("RAM ListUsers (not allowed by the policy): error %v, want access denied", err)
	}
}

// crashAtStep makes the backend "die" at step (empty: never).
func (e *testEnv) crashAtStep(step string) { e.crashAt.Store(step) }

// walEntries returns the kinds of the WAL entries in storage.
func (e *testEnv) walEntries() []string {
	e.t.Helper()
	ids, err := framework.ListWAL(e.ctx, e.s)
	if err != nil {
		e.t.Fatal(err)
	}
	var kinds []string
	for _, id := range ids {
		w, err := framework.GetWAL(e.ctx, e.s, id)
		if err != nil {
			e.t.Fatal(err)
		}
		kinds = append(kinds, w.Kind)
	}
	return kinds
}

// ageWALs makes every WAL entry look d older, as if the process had been
// down that long.
func (e *testEnv) ageWALs(d time.Duration) {
	e.t.Helper()
	ids, err := framework.ListWAL(e.ctx, e.s)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, id := range ids {
		entry, err := e.s.Get(e.ctx, framework.WALPrefix+id)
		if err != nil {
			e.t.Fatal(err)
		}
		var raw map[string]interface{}
		if err := json.Unmarshal(entry.Value, &raw); err != nil {
			e.t.Fatal(err)
		}
		raw["created_at"] = raw["created_at"].(float64) - d.Seconds()
		entry.Value, _ = json.Marshal(raw)
		if err := e.s.Put(e.ctx, entry); err != nil {
			e.t.Fatal(err)
		}
	}
}

// rollback runs Vault's periodic rollback operation on the backend.
func (e *testEnv) rollback() {
	e.t.Helper()
	resp, err := e.b.HandleRequest(e.ctx, &logical.Request{Operation: logical.RollbackOperation, Path: "", Storage: e.s})
	if err != nil {
		e.t.Fatalf("rollback: %v", err)
	}
	if resp != nil && resp.IsError() {
		e.t.Fatalf("rollback: %v", resp.Error())
	}
}

// userNames returns the RAM users of the account, the engine's excluded.
func (e *testEnv) userNames() []string {
	var out []string
	for _, u := range e.emu.Snapshot().Users {
		if u.Name != engineUser {
			out = append(out, u.Name)
		}
	}
	return out
}

func (e *testEnv) user(name string) *emulator.UserView {
	for _, u := range e.emu.Snapshot().Users {
		if u.Name == name {
			u := u
			return &u
		}
	}
	return nil
}

func (e *testEnv) policy(name string) *emulator.PolicyView {
	for _, p := range e.emu.Snapshot().Policies {
		if p.Name == name {
			p := p
			return &p
		}
	}
	return nil
}

func (e *testEnv) policyNames() []string {
	var out []string
	for _, p := range e.emu.Snapshot().Policies {
		out = append(out, p.Name)
	}
	return out
}

// revoke revokes the lease of a creds response.
func (e *testEnv) revoke(resp *logical.Response) error {
	e.t.Helper()
	_, err := e.b.HandleRequest(e.ctx, &logical.Request{
		Operation: logical.RevokeOperation,
		Storage:   e.s,
		Secret:    resp.Secret,
	})
	return err
}

// renew renews the lease of a creds response.
func (e *testEnv) renew(resp *logical.Response) (*logical.Response, error) {
	e.t.Helper()
	return e.b.HandleRequest(e.ctx, &logical.Request{
		Operation: logical.RenewOperation,
		Storage:   e.s,
		Secret:    resp.Secret,
	})
}

// leaseRoundTrip passes a lease through JSON, as Vault stores and returns it.
func leaseRoundTrip(t *testing.T, s *logical.Secret) *logical.Secret {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out := &logical.Secret{}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackend_PathsAndHelp(t *testing.T) {
	e := newTestEnv(t)
	b := e.b

	if got := b.SpecialPaths().SealWrapStorage; len(got) != 2 || got[0] != "config" || got[1] != staticRoleStoragePrefix {
		t.Errorf("SealWrapStorage = %v, want [config %s]", got, staticRoleStoragePrefix)
	}
	if got := b.SpecialPaths().LocalStorage; len(got) != 1 || got[0] != framework.WALPrefix {
		t.Errorf("LocalStorage = %v, want [wal/]", got)
	}
	if b.WALRollbackMinAge < 5*time.Minute {
		t.Errorf("WALRollbackMinAge = %s, want at least 5m (longer than the slowest request)", b.WALRollbackMinAge)
	}
	if b.RunningVersion != Version || b.PluginVersion().Version != Version {
		t.Errorf("RunningVersion = %q, want %q", b.RunningVersion, Version)
	}
	if b.Secret(secretType) == nil {
		t.Errorf("secret type %q is not registered", secretType)
	}

	writes := map[string]bool{"config": true, "config/rotate-root": true, "role/" + framework.GenericNameRegex("name"): true}
	for _, p := range b.Paths {
		t.Run(p.Pattern, func(t *testing.T) {
			if p.DisplayAttrs == nil || p.DisplayAttrs.OperationPrefix != operationPrefixAliCloud {
				t.Errorf("DisplayAttrs.OperationPrefix missing or not %q", operationPrefixAliCloud)
			}
			if strings.TrimSpace(p.HelpSynopsis) == "" || strings.TrimSpace(p.HelpDescription) == "" {
				t.Error("help synopsis or description is empty")
			}
			//lint:ignore SA1019 the test checks that the deprecated field stays unused
			if len(p.Callbacks) != 0 {
				t.Error("uses the deprecated Callbacks")
			}
			for name, f := range p.Fields {
				if strings.TrimSpace(f.Description) == "" {
					t.Errorf("field %q has no description", name)
				}
			}
			for op, h := range p.Operations {
				po, ok := h.(*framework.PathOperation)
				if !ok {
					t.Fatalf("operation %s is not a *framework.PathOperation", op)
				}
				isWrite := op == logical.CreateOperation || op == logical.UpdateOperation || op == logical.DeleteOperation
				if writes[p.Pattern] && isWrite && (!po.ForwardPerformanceStandby || !po.ForwardPerformanceSecondary) {
					t.Errorf("%s is not forwarded from performance standbys and secondaries", op)
				}
			}
		})
	}

	// The OpenAPI document lists every path with unique operation ids.
	resp, err := b.HandleRequest(e.ctx, &logical.Request{Operation: logical.HelpOperation, Path: "", Storage: e.s})
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := resp.Data["openapi"].(*framework.OASDocument)
	if !ok {
		t.Fatalf("help response has no OpenAPI document: %v", resp.Data)
	}
	for _, want := range []string{"/config", "/config/identity", "/config/rotate-root", "/role/", "/role/{name}", "/creds/{name}"} {
		if _, ok := doc.Paths[want]; !ok {
			t.Errorf("OpenAPI document has no path %s", want)
		}
	}
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for _, op := range []*framework.OASOperation{item.Get, item.Post, item.Delete} {
			if op == nil {
				continue
			}
			if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operation id %q used by %s and %s", op.OperationID, prev, path)
			}
			ids[op.OperationID] = path
		}
	}
	if _, ok := ids["ali-cloud-generate-credentials"]; !ok {
		t.Errorf("operation ids %v lack HashiCorp's ali-cloud-generate-credentials", ids)
	}
}

func TestBackend_UpstreamErrorMapping(t *testing.T) {
	throttled := &aliyun.Error{StatusCode: 400, Code: "Throttling.User", Message: "Request was denied due to user flow control.", RequestID: "REQ-1", Product: "sts", Action: "AssumeRole"}
	err := upstreamErr("assuming a role", throttled)
	var coded logical.HTTPCodedError
	if !errors.As(err, &coded) || coded.Code() != 502 {
		t.Fatalf("throttling: %v is not a 502 coded error", err)
	}
	if !errors.Is(err, logical.ErrUpstreamRateLimited) {
		t.Errorf("throttling: errors.Is(ErrUpstreamRateLimited) is false")
	}
	var ae *aliyun.Error
	if !errors.As(err, &ae) || ae.RequestID != "REQ-1" {
		t.Errorf("throttling: the aliyun error is not reachable: %v", err)
	}
	if code, _ := logical.RespondErrorCommon(&logical.Request{}, nil, err); code != 502 {
		t.Errorf("Vault maps the throttling error to %d, want 502", code)
	}
	if !strings.Contains(err.Error(), "REQ-1") || !strings.Contains(err.Error(), "Throttling.User") {
		t.Errorf("error text %q lacks the code or request id", err)
	}

	other := &aliyun.Error{StatusCode: 404, Code: "EntityNotExist.Role", RequestID: "REQ-2"}
	err = upstreamErr("assuming a role", other)
	if errors.Is(err, logical.ErrUpstreamRateLimited) {
		t.Error("a non-throttling error maps to ErrUpstreamRateLimited")
	}
	if !errors.As(err, &coded) || coded.Code() != 400 {
		t.Errorf("a not-found upstream error is %v, want a 400 coded error (httpStatusBackend answers with it)", err)
	}
	outage := &aliyun.Error{StatusCode: 503, Code: "ServiceUnavailable", RequestID: "REQ-3"}
	if err := upstreamErr("x", outage); !errors.As(err, &coded) || coded.Code() != 502 {
		t.Errorf("an outage is %v, want a 502 coded error", err)
	}
	lost := &aliyun.NetworkError{Product: "ram", Action: "CreateUser", Host: "h", Err: errors.New("EOF")}
	if err := upstreamErr("x", lost); !errors.As(err, &coded) || coded.Code() != 502 {
		t.Errorf("a lost answer is %v, want a 502 coded error", err)
	}
	if upstreamErr("x", nil) != nil {
		t.Error("upstreamErr(nil) is not nil")
	}
}
