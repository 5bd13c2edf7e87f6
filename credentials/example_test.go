package credentials_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// cloud is an emulated account for the examples: a RAM user "app" with an
// AccessKey, a role "reader" it may assume, an ECS instance role
// "EcsInstanceRole" and an OIDC provider "ack" trusted by role "pod".
type cloud struct {
	emu            *emulator.Emulator
	url            string
	keyID, secret  string
	readerARN      string
	podARN, oidcPr string
	close          func()
}

func startCloud() *cloud {
	emu, err := emulator.New(emulator.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	emu.SetOIDCIssuerURL(srv.URL + "/_emulator/oidc")
	c := &cloud{emu: emu, url: srv.URL, close: srv.Close}
	check := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	acct := emu.AccountID()
	check(emu.CreateUser("app"))
	check(emu.AttachPolicy("user", "app", "System", "AliyunSTSAssumeRoleAccess"))
	c.keyID, c.secret, err = emu.CreateAccessKey("app")
	check(err)
	c.readerARN, err = emu.CreateRole("reader",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::`+acct+`:root"]}}]}`, time.Hour)
	check(err)
	_, err = emu.CreateRole("EcsInstanceRole",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`, time.Hour)
	check(err)
	emu.SetECS(emulator.ECSSettings{RoleName: "EcsInstanceRole", RequireToken: true})
	emu.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: "EcsInstanceRole"})
	c.oidcPr, err = emu.RegisterOIDCProvider("ack", []string{"sts.aliyuncs.com"})
	check(err)
	c.podARN, err = emu.CreateRole("pod",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Federated":["`+c.oidcPr+`"]}}]}`, time.Hour)
	check(err)
	return c
}

func ExampleNewAccessKey() {
	p, err := credentials.NewAccessKey(credentials.AccessKeyOptions{
		AccessKeyID:     "LTAI5tExampleKeyId",
		AccessKeySecret: "example-secret",
	})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := p.Retrieve(context.Background())
	fmt.Println(c) // secrets are never printed
	fmt.Println(c.CanExpire())
	// Output:
	// Credentials{AccessKeyID: LTAI5tExampleKeyId, AccessKeySecret: [redacted], Source: access_key}
	// false
}

func ExampleNewSTS() {
	p, err := credentials.NewSTS(credentials.STSOptions{
		AccessKeyID:     "STS.NTExampleKeyId",
		AccessKeySecret: "example-secret",
		SecurityToken:   "CAISexample",
		Expiration:      time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := p.Retrieve(context.Background())
	fmt.Printf("%+v\n", c)
	// Output:
	// Credentials{AccessKeyID: STS.NTExampleKeyId, AccessKeySecret: [redacted], SecurityToken: [redacted], Expiration: 2030-01-01T00:00:00Z, Source: sts}
}

func ExampleNewBearer() {
	p, err := credentials.NewBearer(credentials.BearerOptions{BearerToken: "example-bearer-token"})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := p.Retrieve(context.Background())
	fmt.Println(c.Source, c.BearerToken != "", c.HasKeys())
	// Output: bearer true false
}

func ExampleNewRAMRoleARN() {
	cl := startCloud()
	defer cl.close()

	user, _ := credentials.NewAccessKey(credentials.AccessKeyOptions{AccessKeyID: cl.keyID, AccessKeySecret: cl.secret})
	p, err := credentials.NewRAMRoleARN(credentials.RAMRoleARNOptions{
		Source:          user,
		RoleARN:         cl.readerARN,
		RoleSessionName: "example",
		Duration:        15 * time.Minute,
		STSEndpoint:     cl.url, // omit for sts.aliyuncs.com, or set STSRegion
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Source, strings.HasPrefix(c.AccessKeyID, "STS."), time.Until(c.Expiration).Round(time.Minute))
	// Output: ram_role_arn/access_key true 15m0s
}

func ExampleNewECSRAMRole() {
	cl := startCloud()
	defer cl.close()

	p, err := credentials.NewECSRAMRole(credentials.ECSRAMRoleOptions{
		RoleName:         "EcsInstanceRole", // empty: discovered from the metadata service
		DisableIMDSv1:    true,              // hardened mode only
		MetadataEndpoint: cl.url,            // omit on ECS: http://100.100.100.200
	})
	if err != nil {
		log.Fatal(err)
	}
	cache := credentials.NewCache(p, credentials.CacheOptions{})
	for range 3 {
		if _, err := cache.Retrieve(context.Background()); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("metadata token requests:", cl.emu.Counters()["ecs:GetToken"])
	fmt.Println("credential requests:", cl.emu.Counters()["ecs:GetCredentials"])
	// Output:
	// metadata token requests: 1
	// credential requests: 1
}

func ExampleNewOIDCRoleARN() {
	cl := startCloud()
	defer cl.close()

	// On ACK with RRSA the kubelet writes and rotates this file.
	dir, _ := os.MkdirTemp("", "rrsa")
	defer os.RemoveAll(dir)
	tokenFile := filepath.Join(dir, "token")
	tok, _ := cl.emu.MintOIDCToken("ack", "system:serviceaccount:default:app", "", time.Hour)
	os.WriteFile(tokenFile, []byte(tok), 0o600)

	p, err := credentials.NewOIDCRoleARN(credentials.OIDCRoleARNOptions{
		RoleARN:         cl.podARN,
		OIDCProviderARN: cl.oidcPr,
		OIDCTokenFile:   tokenFile,
		RoleSessionName: "app",
		STSEndpoint:     cl.url,
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Source, strings.HasPrefix(c.AccessKeyID, "STS."))
	// Output: oidc_role_arn true
}

func ExampleNewCredentialsURI() {
	cl := startCloud()
	defer cl.close()

	p, err := credentials.NewCredentialsURI(credentials.CredentialsURIOptions{URL: cl.url + "/credentials-uri"})
	if err != nil {
		log.Fatal(err)
	}
	c, err := p.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Source, c.CanExpire())
	// Output: credentials_uri true
}

func ExampleNewCache() {
	cl := startCloud()
	defer cl.close()

	user, _ := credentials.NewAccessKey(credentials.AccessKeyOptions{AccessKeyID: cl.keyID, AccessKeySecret: cl.secret})
	role, _ := credentials.NewRAMRoleARN(credentials.RAMRoleARNOptions{Source: user, RoleARN: cl.readerARN, STSEndpoint: cl.url})

	// One Cache per identity: it refreshes 3 minutes (plus jitter) before
	// expiry, one refresh at a time, and Prefetch does it in the background.
	cache := credentials.NewCache(role, credentials.CacheOptions{Prefetch: true})
	defer cache.Close()

	a, _ := cache.Retrieve(context.Background())
	b, _ := cache.Retrieve(context.Background())
	fmt.Println(a.AccessKeyID == b.AccessKeyID, cl.emu.Counters()["sts:AssumeRole"])
	// Output: true 1
}

func ExampleNewDefaultChain() {
	env := map[string]string{
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "LTAI5tExampleKeyId",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "example-secret",
	}
	chain, err := credentials.NewDefaultChain(credentials.DefaultChainOptions{
		Getenv:  func(k string) string { return env[k] }, // default: os.Getenv
		HomeDir: os.TempDir(),
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := credentials.NewCache(chain, credentials.CacheOptions{}).Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Source, c.AccessKeyID)

	// With nothing configured, the error says why each link was skipped.
	empty, _ := credentials.NewDefaultChain(credentials.DefaultChainOptions{
		Getenv: func(string) string { return "" }, HomeDir: "/nonexistent"})
	_, err = empty.Retrieve(context.Background())
	fmt.Println(strings.ReplaceAll(err.Error(), "; ", ";\n  "))
	// Output:
	// default/env/access_key LTAI5tExampleKeyId
	// default: no credentials configured: env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set;
	//   oidc_role_arn: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE not set;
	//   profile: no file /nonexistent/.alibabacloud/credentials.ini;
	//   cli_profile: no file /nonexistent/.aliyun/config.json;
	//   ecs_ram_role: ALIBABA_CLOUD_ECS_METADATA is not set;
	//   credentials_uri: ALIBABA_CLOUD_CREDENTIALS_URI is not set
}

func ExampleNewProfile() {
	dir, _ := os.MkdirTemp("", "profile")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "credentials.ini")
	os.WriteFile(file, []byte(`
[default]
type = access_key
access_key_id = LTAI5tExampleKeyId
access_key_secret = example-secret

[old]
enable = false
type = access_key
access_key_id = LTAI5tOldKeyId
access_key_secret = old-secret
`), 0o600)

	p, err := credentials.NewProfile(credentials.ProfileOptions{File: file}) // profile "default"
	if err != nil {
		log.Fatal(err)
	}
	c, _ := p.Retrieve(context.Background())
	fmt.Println(c.Source, c.AccessKeyID)

	_, err = credentials.NewProfile(credentials.ProfileOptions{File: file, Profile: "old"})
	fmt.Println(strings.ReplaceAll(err.Error(), dir, "DIR"))
	// Output:
	// profile/access_key LTAI5tExampleKeyId
	// profile: no credentials configured: DIR/credentials.ini: profile disabled: [old] has enable = false
}

func ExampleNewCLIProfile() {
	dir, _ := os.MkdirTemp("", "cli")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "config.json")
	os.WriteFile(file, []byte(`{
  "current": "admin",
  "profiles": [
    {"name": "base", "mode": "AK", "access_key_id": "LTAI5tExampleKeyId", "access_key_secret": "example-secret"},
    {"name": "admin", "mode": "ChainableRamRoleArn", "source_profile": "base",
     "ram_role_arn": "acs:ram::1234567890123456:role/admin", "sts_region": "cn-hangzhou"},
    {"name": "loop", "mode": "ChainableRamRoleArn", "source_profile": "loop",
     "ram_role_arn": "acs:ram::1234567890123456:role/admin"}
  ]
}`), 0o600)

	p, err := credentials.NewCLIProfile(credentials.ProfileOptions{File: file}) // the "current" profile
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p)
	_, err = credentials.NewCLIProfile(credentials.ProfileOptions{File: file, Profile: "loop"})
	fmt.Println(strings.ReplaceAll(err.Error(), dir, "DIR"))
	// Output:
	// cli_profile: ram_role_arn provider (acs:ram::1234567890123456:role/admin)
	// cli_profile: DIR/config.json: profile "loop": source_profile cycle: loop -> loop
}

func ExampleSigningFunc() {
	cl := startCloud()
	defer cl.close()

	user, _ := credentials.NewAccessKey(credentials.AccessKeyOptions{AccessKeyID: cl.keyID, AccessKeySecret: cl.secret})
	role, _ := credentials.NewRAMRoleARN(credentials.RAMRoleARNOptions{
		Source: user, RoleARN: cl.readerARN, RoleSessionName: "signer", STSEndpoint: cl.url})
	cache := credentials.NewCache(role, credentials.CacheOptions{})

	client, err := aliyun.NewClient(aliyun.Options{
		Credentials: credentials.SigningFunc(cache),
		Endpoints:   map[aliyun.Product]string{aliyun.STS: cl.url},
	})
	if err != nil {
		log.Fatal(err)
	}
	id, err := client.GetCallerIdentity(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.IdentityType, strings.TrimPrefix(id.Arn, "acs:ram::"+cl.emu.AccountID()+":"))
	// Output: AssumedRoleUser assumed-role/reader/signer
}
