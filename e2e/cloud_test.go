package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	rampolicies "github.com/alicloud-vault/vault-plugin-secrets-alicloud/docs/ram-policies"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator/emulatortest"
)

const (
	// engineUser is the RAM user whose AccessKey the engine is configured with, as in scripts/dev-seed.json.
	engineUser = "vault-root"
	// readonlyRole is a RAM role that trusts the account and holds ReadOnlyAccess.
	readonlyRole = "readonly"
	// enginePolicy holds the engine's permissions: docs/ram-policies/all.json. Its name is outside the "vault-"
	// prefix of the policies the engine manages.
	enginePolicy = "engine-all"
)

// cloud is an in-process emulator set up the way an operator prepares an Alibaba Cloud account for Vault.
type cloud struct {
	t   testing.TB
	Emu *emulator.Emulator
	URL string

	AccountID   string
	EngineKey   aliyun.Credentials // the AccessKey of engineUser
	ReadonlyARN string
	// preexisting lists the RAM users that existed before Vault did anything, so tests can tell Vault-made users apart.
	preexisting map[string]bool
}

// newCloud starts an emulator on 127.0.0.1 with the RAM user the engine runs as (holding the documented policy of
// every feature) and a read-only role that trusts the account.
func newCloud(t testing.TB, opts emulator.Options) *cloud {
	t.Helper()
	emu, url := emulatortest.New(t, opts)
	c := &cloud{t: t, Emu: emu, URL: url, AccountID: emu.AccountID()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("emulator set-up: %v", err)
		}
	}
	must(emu.CreateUser(engineUser))
	id, secret, err := emu.CreateAccessKey(engineUser)
	must(err)
	c.EngineKey = aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret}
	// The engine runs with exactly the union of the policies README "RAM permissions" documents, as an operator
	// following it would set it up, not with full RAM access.
	doc, err := rampolicies.Render(rampolicies.All, engineUser)
	must(err)
	must(emu.CreatePolicy(enginePolicy, doc))
	must(emu.AttachPolicy("user", engineUser, "Custom", enginePolicy))
	trust := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::%s:root"]}}]}`, c.AccountID)
	c.ReadonlyARN, err = emu.CreateRole(readonlyRole, trust, time.Hour)
	must(err)
	must(emu.AttachPolicy("role", readonlyRole, "System", "ReadOnlyAccess"))
	c.preexisting = map[string]bool{}
	for _, u := range c.Users() {
		c.preexisting[u] = true
	}
	return c
}

// Client returns an Alibaba Cloud client signing with creds and pointed at the emulator, the way an application
// would use the credentials Vault handed out.
func (c *cloud) Client(creds aliyun.Credentials) *aliyun.Client {
	c.t.Helper()
	cl, err := aliyun.NewClient(aliyun.Options{
		Credentials: aliyun.StaticCredentials(creds),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: c.URL, aliyun.RAM: c.URL},
		MaxRetries:  2,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// Identity calls GetCallerIdentity with creds.
func (c *cloud) Identity(creds aliyun.Credentials) (*aliyun.CallerIdentity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Client(creds).GetCallerIdentity(ctx)
}

// admin is a client with the account's main key, which sees everything in the account.
func (c *cloud) admin() *aliyun.Client {
	id, secret := c.Emu.MainAccessKey()
	return c.Client(aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret})
}

// Users lists the account's RAM user names, sorted.
func (c *cloud) Users() []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users, err := c.admin().ListUsers(ctx)
	if err != nil {
		c.t.Fatalf("ListUsers: %v", err)
	}
	names := make([]string, 0, len(users))
	for _, u := range users {
		names = append(names, u.UserName)
	}
	sort.Strings(names)
	return names
}

// VaultUsers lists the RAM users created since the cloud was set up, which only Vault does in these tests.
func (c *cloud) VaultUsers() []string {
	c.t.Helper()
	var out []string
	for _, u := range c.Users() {
		if !c.preexisting[u] {
			out = append(out, u)
		}
	}
	return out
}

// AccessKeys lists the AccessKey IDs of a RAM user.
func (c *cloud) AccessKeys(user string) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := c.admin().ListAccessKeys(ctx, user)
	if err != nil {
		c.t.Fatalf("ListAccessKeys(%s): %v", user, err)
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.AccessKeyID)
	}
	sort.Strings(ids)
	return ids
}
