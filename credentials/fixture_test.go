package credentials

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator/emulatortest"
)

// account is an emulated Alibaba Cloud account set up for the providers:
// a RAM user allowed to assume roles, roles trusted by the account, by ECS
// and by an OIDC provider, all on one injected clock.
type account struct {
	emu        *emulator.Emulator
	url        string
	clock      *fakeClock
	userID     string
	userSecret string
	readerARN  string // trusts the account (AssumeRole)
	secondARN  string // trusts the account, for role chaining
	externalID string
	extARN     string // trusts the account only with externalID
	ecsRole    string // trusted by ecs.aliyuncs.com
	oidcARN    string // role trusted by the OIDC provider for subject system:serviceaccount:ns:app
	providerAR string // OIDC provider ARN
}

const (
	oidcProviderName = "ack-cluster"
	oidcAudience     = "sts.aliyuncs.com"
	oidcSubject      = "system:serviceaccount:ns:app"
)

func newAccount(t testing.TB) *account {
	t.Helper()
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	emu, base := emulatortest.New(t, emulator.Options{Clock: clock.Now})
	a := &account{emu: emu, url: base, clock: clock, externalID: "ext-7f3a"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	acct := emu.AccountID()
	must(emu.CreateUser("vault"))
	must(emu.AttachPolicy("user", "vault", "System", "AliyunSTSAssumeRoleAccess"))
	var err error
	a.userID, a.userSecret, err = emu.CreateAccessKey("vault")
	must(err)

	trustRAM := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + acct + `:root"]}}]}`
	a.readerARN, err = emu.CreateRole("reader", trustRAM, 12*time.Hour)
	must(err)
	must(emu.AttachPolicy("role", "reader", "System", "AliyunSTSAssumeRoleAccess"))
	a.secondARN, err = emu.CreateRole("second", trustRAM, time.Hour)
	must(err)
	trustExt := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::` + acct +
		`:root"]},"Condition":{"StringEquals":{"sts:ExternalId":"` + a.externalID + `"}}}]}`
	a.extARN, err = emu.CreateRole("partner", trustExt, time.Hour)
	must(err)

	a.ecsRole = "EcsInstanceRole"
	_, err = emu.CreateRole(a.ecsRole, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", a.ecsRole, "System", "AliyunSTSAssumeRoleAccess"))

	a.providerAR, err = emu.RegisterOIDCProvider(oidcProviderName, []string{oidcAudience})
	must(err)
	trustOIDC := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["` + a.providerAR +
		`"]},"Condition":{"StringEquals":{"oidc:aud":"` + oidcAudience + `","oidc:sub":"` + oidcSubject + `"}}}]}`
	a.oidcARN, err = emu.CreateRole("app", trustOIDC, time.Hour)
	must(err)
	return a
}

// userKey is the RAM user's AccessKey as a provider.
func (a *account) userKey(t testing.TB) Provider {
	t.Helper()
	p, err := NewAccessKey(AccessKeyOptions{AccessKeyID: a.userID, AccessKeySecret: a.userSecret})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mintToken writes a fresh OIDC token for subject into a file and returns it.
func (a *account) mintToken(t testing.TB, path, subject string, ttl time.Duration) string {
	t.Helper()
	tok, err := a.emu.MintOIDCToken(oidcProviderName, subject, "", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tok
}

// callerARN signs GetCallerIdentity with c and returns the caller's ARN,
// proving the credentials work.
func (a *account) callerARN(t testing.TB, c Credentials) string {
	t.Helper()
	cl, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: a.url},
		Clock:       a.clock.Now,
		MaxRetries:  -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := cl.GetCallerIdentity(context.Background())
	if err != nil {
		t.Fatalf("GetCallerIdentity with %v: %v", c, err)
	}
	return id.Arn
}

func (a *account) count(name string) int64 { return a.emu.Counters()[name] }

// hitRecorder is a metadata endpoint that must not be called.
type hitRecorder struct {
	hits atomic.Int64
	srv  *httptest.Server
}

func newHitRecorder(t testing.TB) *hitRecorder {
	h := &hitRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func tokenFile(t testing.TB) string { return filepath.Join(t.TempDir(), "oidc-token") }

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }
