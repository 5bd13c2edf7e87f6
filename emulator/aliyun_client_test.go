package emulator

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// The project's own client against the emulator over HTTP: every request it
// signs must be accepted, and the answers must decode into its types.

func newAliyunClient(t *testing.T, base string, creds aliyun.Credentials) *aliyun.Client {
	t.Helper()
	c, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(creds),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: base, aliyun.RAM: base, aliyun.ECS: base},
		MaxRetries:  -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAliyunClientAgainstEmulator(t *testing.T) {
	e, err := New(Options{Seed: oidcSeed()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	e.SetOIDCIssuerURL(srv.URL + "/_emulator/oidc")
	ctx := context.Background()
	id, secret := e.MainAccessKey()
	root := newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret})

	ident, err := root.GetCallerIdentity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ident.AccountID != DefaultAccountID || !strings.HasSuffix(ident.Arn, ":root") {
		t.Fatalf("identity %+v", ident)
	}

	// The dynamic-user sequence of the secrets engine.
	if _, err := root.CreateUser(ctx, aliyun.CreateUserInput{UserName: "vault-dyn-1", DisplayName: "vault-dyn-1"}); err != nil {
		t.Fatal(err)
	}
	pol, err := root.CreatePolicy(ctx, aliyun.CreatePolicyInput{PolicyName: "vault-dyn-1-p", Description: "Created by Vault.", PolicyDocument: simpleDoc})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.AttachPolicyToUser(ctx, pol.PolicyType, pol.PolicyName, "vault-dyn-1"); err != nil {
		t.Fatal(err)
	}
	key, err := root.CreateAccessKey(ctx, "vault-dyn-1")
	if err != nil {
		t.Fatal(err)
	}
	if key.AccessKeySecret == "" || key.Status != "Active" || key.CreateDate.IsZero() {
		t.Fatalf("key %+v", key)
	}
	userClient := newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: key.AccessKeyID, AccessKeySecret: key.AccessKeySecret})
	if ident, err := userClient.GetCallerIdentity(ctx); err != nil || ident.IdentityType != "RAMUser" {
		t.Fatalf("user identity %+v %v", ident, err)
	}
	if err := root.DeleteUser(ctx, "vault-dyn-1"); !aliyun.IsConflict(err) || aliyun.ErrorCode(err) != "DeleteConflict.User.AccessKey" {
		t.Fatalf("DeleteUser with a key: %v", err)
	}
	if err := root.DeleteAccessKey(ctx, "vault-dyn-1", key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if err := root.DetachPolicyFromUser(ctx, pol.PolicyType, pol.PolicyName, "vault-dyn-1"); err != nil {
		t.Fatal(err)
	}
	if err := root.DeletePolicy(ctx, pol.PolicyName, false); err != nil {
		t.Fatal(err)
	}
	if err := root.DeleteUser(ctx, "vault-dyn-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.GetUser(ctx, "vault-dyn-1"); !aliyun.IsEntityNotExist(err) {
		t.Fatalf("GetUser after delete: %v", err)
	}

	// STS through the client, then calls with the session.
	caller := newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: callerKeyID, AccessKeySecret: callerSecret})
	out, err := caller.AssumeRole(ctx, aliyun.AssumeRoleInput{RoleArn: appRoleARN(), RoleSessionName: "client", DurationSeconds: 900,
		Policy: `{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:ListUsers","Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(out.Credentials.Expiration); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expiration in %v", d)
	}
	sess := newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: out.Credentials.AccessKeyID,
		AccessKeySecret: out.Credentials.AccessKeySecret, SecurityToken: out.Credentials.SecurityToken})
	if users, err := sess.ListUsers(ctx); err != nil || len(users) != 1 {
		t.Fatalf("ListUsers with the session: %v %v", users, err)
	}
	if _, err := sess.CreateUser(ctx, aliyun.CreateUserInput{UserName: "nope"}); !aliyun.IsAccessDenied(err) {
		t.Fatalf("CreateUser with the scoped session: %v", err)
	}
	if _, err := caller.AssumeRole(ctx, aliyun.AssumeRoleInput{RoleArn: appRoleARN(), RoleSessionName: "x"}); aliyun.ErrorCode(err) != "InvalidParameter.RoleSessionName" {
		t.Fatalf("short session name: %v", err)
	}

	// AssumeRoleWithOIDC (anonymous).
	tok, err := e.MintOIDCToken("cluster", "system:serviceaccount:apps:web", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := aliyun.NewClient(aliyun.Options{Endpoints: map[aliyun.Product]string{aliyun.STS: srv.URL}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	oidcOut, err := anon.AssumeRoleWithOIDC(ctx, aliyun.AssumeRoleWithOIDCInput{
		RoleArn: "acs:ram::" + DefaultAccountID + ":role/pod-role", OIDCProviderArn: "acs:ram::" + DefaultAccountID + ":oidc-provider/cluster",
		OIDCToken: tok, RoleSessionName: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if oidcOut.OIDCTokenInfo == nil || oidcOut.OIDCTokenInfo.Subject != "system:serviceaccount:apps:web" {
		t.Fatalf("OIDC output %+v", oidcOut)
	}

	// Throttling is recognised by the client.
	e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "GetUser", Kind: FaultThrottle, Count: 1}}})
	if _, err := root.GetUser(ctx, "caller"); !aliyun.IsThrottling(err) {
		t.Fatalf("throttled GetUser: %v", err)
	}
	if _, err := root.GetUser(ctx, "caller"); err != nil {
		t.Fatal(err)
	}
}
