package credentials

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

func TestRAMRoleARN(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	newProvider := func(t *testing.T, o RAMRoleARNOptions) Provider {
		t.Helper()
		if o.Source == nil {
			o.Source = a.userKey(t)
		}
		o.STSEndpoint, o.Clock, o.MaxRetries = a.url, a.clock.Now, -1
		p, err := NewRAMRoleARN(o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("success", func(t *testing.T) {
		p := newProvider(t, RAMRoleARNOptions{RoleARN: a.readerARN, RoleSessionName: "vault-test", Duration: 2 * time.Hour,
			Policy: `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`})
		c, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !hasPrefix(c.AccessKeyID, "STS.") || c.AccessKeySecret == "" || c.SecurityToken == "" {
			t.Errorf("credentials = %v", c)
		}
		if want := a.clock.Now().Add(2 * time.Hour); !c.Expiration.Equal(want) {
			t.Errorf("Expiration = %s, want %s", c.Expiration, want)
		}
		if c.Source != "ram_role_arn/access_key" {
			t.Errorf("Source = %q", c.Source)
		}
		if arn := a.callerARN(t, c); !strings.HasSuffix(arn, ":assumed-role/reader/vault-test") {
			t.Errorf("caller ARN = %s", arn)
		}
	})

	t.Run("generated session name, default duration", func(t *testing.T) {
		p := newProvider(t, RAMRoleARNOptions{RoleARN: a.readerARN})
		c, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := a.clock.Now().Add(time.Hour); !c.Expiration.Equal(want) {
			t.Errorf("Expiration = %s, want %s (3600s default)", c.Expiration, want)
		}
		if arn := a.callerARN(t, c); !strings.Contains(arn, ":assumed-role/reader/alicloud-credentials-") {
			t.Errorf("caller ARN = %s", arn)
		}
	})

	t.Run("external id", func(t *testing.T) {
		p := newProvider(t, RAMRoleARNOptions{RoleARN: a.extARN, ExternalID: a.externalID})
		if _, err := p.Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
		p = newProvider(t, RAMRoleARNOptions{RoleARN: a.extARN, ExternalID: "wrong-id"})
		_, err := p.Retrieve(ctx)
		if !aliyun.IsAccessDenied(err) {
			t.Fatalf("wrong external id: err = %v, want NoPermission", err)
		}
	})

	t.Run("chained roles", func(t *testing.T) {
		first := newProvider(t, RAMRoleARNOptions{RoleARN: a.readerARN, RoleSessionName: "first"})
		second := newProvider(t, RAMRoleARNOptions{Source: NewCache(first, CacheOptions{Clock: a.clock.Now}), RoleARN: a.secondARN, RoleSessionName: "second"})
		c, err := second.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != "ram_role_arn/ram_role_arn/access_key" {
			t.Errorf("Source = %q", c.Source)
		}
		if arn := a.callerARN(t, c); !strings.HasSuffix(arn, ":assumed-role/second/second") {
			t.Errorf("caller ARN = %s", arn)
		}
	})

	t.Run("expiry and refresh", func(t *testing.T) {
		before := a.count("sts:AssumeRole")
		c := NewCache(newProvider(t, RAMRoleARNOptions{RoleARN: a.readerARN, Duration: 15 * time.Minute}), CacheOptions{Jitter: -1, Clock: a.clock.Now})
		first, err := c.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.clock.Advance(11 * time.Minute)
		same, _ := c.Retrieve(ctx)
		if same.AccessKeyID != first.AccessKeyID {
			t.Fatal("refreshed before the window")
		}
		a.clock.Advance(time.Minute) // 3 minutes left
		next, err := c.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if next.AccessKeyID == first.AccessKeyID || !next.Expiration.After(first.Expiration) {
			t.Errorf("no refresh: %v then %v", first, next)
		}
		if got := a.count("sts:AssumeRole") - before; got != 2 {
			t.Errorf("AssumeRole called %d times, want 2", got)
		}
		a.callerARN(t, next)
	})

	failures := []struct {
		name    string
		opts    func() RAMRoleARNOptions
		check   func(error) bool
		want    []string
		secrets []string
	}{
		{"role does not exist", func() RAMRoleARNOptions {
			return RAMRoleARNOptions{RoleARN: "acs:ram::" + a.emu.AccountID() + ":role/nope"}
		}, aliyun.IsEntityNotExist, []string{"ram_role_arn: assuming acs:ram::", "role/nope", "EntityNotExist.Role"}, nil},
		{"role does not trust the caller", func() RAMRoleARNOptions {
			return RAMRoleARNOptions{RoleARN: a.oidcARN}
		}, aliyun.IsAccessDenied, []string{"NoPermission"}, nil},
		{"duration above the role's maximum", func() RAMRoleARNOptions {
			return RAMRoleARNOptions{RoleARN: a.secondARN, Duration: 2 * time.Hour}
		}, func(err error) bool { return aliyun.ErrorCode(err) == "InvalidParameter.DurationSeconds" }, []string{"DurationSeconds"}, nil},
		{"wrong secret", func() RAMRoleARNOptions {
			bad, _ := NewAccessKey(AccessKeyOptions{AccessKeyID: a.userID, AccessKeySecret: "WrongSecretValue123"})
			return RAMRoleARNOptions{Source: bad, RoleARN: a.readerARN}
		}, aliyun.IsAuthFailure, []string{"SignatureDoesNotMatch"}, []string{"WrongSecretValue123"}},
		{"source fails", func() RAMRoleARNOptions {
			src := ProviderFunc(func(context.Context) (Credentials, error) { return Credentials{}, errors.New("source is down") })
			return RAMRoleARNOptions{Source: src, RoleARN: a.readerARN}
		}, func(err error) bool { return true }, []string{"ram_role_arn: assuming", "source credentials: source is down"}, nil},
		{"source is a bearer token", func() RAMRoleARNOptions {
			src, _ := NewBearer(BearerOptions{BearerToken: "BearerSecret99"})
			return RAMRoleARNOptions{Source: src, RoleARN: a.readerARN}
		}, func(err error) bool { return true }, []string{"source credentials from bearer have no AccessKey pair"}, []string{"BearerSecret99"}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts()
			p := newProvider(t, o)
			c, err := p.Retrieve(ctx)
			if err == nil {
				t.Fatalf("got %v, want an error", c)
			}
			if !tt.check(err) {
				t.Errorf("error %v has the wrong kind", err)
			}
			mustContain(t, err.Error(), tt.want...)
			mustNotContain(t, err.Error(), append(tt.secrets, a.userSecret)...)
		})
	}
}

func TestRAMRoleARNEndpointSelection(t *testing.T) {
	ak, _ := NewAccessKey(AccessKeyOptions{AccessKeyID: "id", AccessKeySecret: "s"})
	tests := []struct {
		name string
		o    RAMRoleARNOptions
		want string
	}{
		{"central", RAMRoleARNOptions{}, "https://sts.aliyuncs.com/"},
		{"region", RAMRoleARNOptions{STSRegion: "cn-shanghai"}, "https://sts.cn-shanghai.aliyuncs.com/"},
		{"vpc", RAMRoleARNOptions{STSRegion: "cn-shanghai", UseVPCEndpoint: true}, "https://sts-vpc.cn-shanghai.aliyuncs.com/"},
		{"explicit beats region", RAMRoleARNOptions{STSEndpoint: "http://127.0.0.1:9", STSRegion: "cn-shanghai", UseVPCEndpoint: true}, "http://127.0.0.1:9/"},
		{"bare host", RAMRoleARNOptions{STSEndpoint: "sts.example.internal"}, "https://sts.example.internal/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Source, o.RoleARN = ak, testRoleARN
			p, err := NewRAMRoleARN(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.(*ramRoleARN).client.Endpoint(aliyun.STS); got != tt.want {
				t.Errorf("endpoint = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOIDCRoleARN(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	newProvider := func(t *testing.T, o OIDCRoleARNOptions) Provider {
		t.Helper()
		if o.RoleARN == "" {
			o.RoleARN = a.oidcARN
		}
		if o.OIDCProviderARN == "" {
			o.OIDCProviderARN = a.providerAR
		}
		o.STSEndpoint, o.Clock, o.MaxRetries = a.url, a.clock.Now, -1
		p, err := NewOIDCRoleARN(o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("success", func(t *testing.T) {
		file := tokenFile(t)
		tok := a.mintToken(t, file, oidcSubject, time.Hour)
		p := newProvider(t, OIDCRoleARNOptions{OIDCTokenFile: file, RoleSessionName: "pod-1", Duration: 30 * time.Minute})
		c, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != "oidc_role_arn" || !hasPrefix(c.AccessKeyID, "STS.") || !c.Expiration.Equal(a.clock.Now().Add(30*time.Minute)) {
			t.Errorf("credentials = %v", c)
		}
		if arn := a.callerARN(t, c); !strings.HasSuffix(arn, ":assumed-role/app/pod-1") {
			t.Errorf("caller ARN = %s", arn)
		}
		mustNotContain(t, c.String(), tok)
	})

	t.Run("token file rotated between refreshes", func(t *testing.T) {
		file := tokenFile(t)
		a.mintToken(t, file, oidcSubject, 20*time.Minute)
		c := NewCache(newProvider(t, OIDCRoleARNOptions{OIDCTokenFile: file, Duration: 15 * time.Minute}), CacheOptions{Jitter: -1, Clock: a.clock.Now})
		first, err := c.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The first token expires; the kubelet has written a new one.
		a.clock.Advance(25 * time.Minute)
		a.mintToken(t, file, oidcSubject, 20*time.Minute)
		second, err := c.Retrieve(ctx)
		if err != nil {
			t.Fatalf("refresh with the rotated token: %v", err)
		}
		if second.AccessKeyID == first.AccessKeyID {
			t.Error("no new session after the refresh")
		}
		a.callerARN(t, second)
	})

	t.Run("expired token not rotated", func(t *testing.T) {
		file := tokenFile(t)
		tok := a.mintToken(t, file, oidcSubject, 10*time.Minute)
		p := newProvider(t, OIDCRoleARNOptions{OIDCTokenFile: file})
		a.clock.Advance(11 * time.Minute)
		_, err := p.Retrieve(ctx)
		if aliyun.ErrorCode(err) != "AuthenticationFail.OIDCToken.Expired" {
			t.Fatalf("err = %v, want AuthenticationFail.OIDCToken.Expired", err)
		}
		mustContain(t, err.Error(), "oidc_role_arn: assuming "+a.oidcARN)
		mustNotContain(t, err.Error(), tok)
	})

	failures := []struct {
		name  string
		setup func(t *testing.T) OIDCRoleARNOptions
		code  string
		want  []string
	}{
		{"missing token file", func(t *testing.T) OIDCRoleARNOptions {
			return OIDCRoleARNOptions{OIDCTokenFile: "/nonexistent/oidc-token"}
		}, "", []string{"oidc_role_arn: reading oidc_token_file", "/nonexistent/oidc-token", "no such file"}},
		{"empty token file", func(t *testing.T) OIDCRoleARNOptions {
			f := tokenFile(t)
			os.WriteFile(f, []byte("\n"), 0o600)
			return OIDCRoleARNOptions{OIDCTokenFile: f}
		}, "", []string{"oidc_token_file", "is empty"}},
		{"garbage token", func(t *testing.T) OIDCRoleARNOptions {
			f := tokenFile(t)
			os.WriteFile(f, []byte("not-a-jwt-GarbageToken"), 0o600)
			return OIDCRoleARNOptions{OIDCTokenFile: f}
		}, "AuthenticationFail.OIDCToken.Invalid", nil},
		{"subject not trusted", func(t *testing.T) OIDCRoleARNOptions {
			f := tokenFile(t)
			a.mintToken(t, f, "system:serviceaccount:ns:other", time.Hour)
			return OIDCRoleARNOptions{OIDCTokenFile: f}
		}, "AuthenticationFail.NoPermission", nil},
		{"unknown provider", func(t *testing.T) OIDCRoleARNOptions {
			f := tokenFile(t)
			a.mintToken(t, f, oidcSubject, time.Hour)
			return OIDCRoleARNOptions{OIDCTokenFile: f, OIDCProviderARN: "acs:ram::" + a.emu.AccountID() + ":oidc-provider/nope"}
		}, "AuthenticationFail.NoPermission", nil},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.setup(t)
			p := newProvider(t, o)
			tok, _ := os.ReadFile(o.OIDCTokenFile)
			_, err := p.Retrieve(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			if aliyun.ErrorCode(err) != tt.code {
				t.Errorf("code = %q, want %q (%v)", aliyun.ErrorCode(err), tt.code, err)
			}
			mustContain(t, err.Error(), tt.want...)
			if s := strings.TrimSpace(string(tok)); len(s) > 4 {
				mustNotContain(t, err.Error(), s)
			}
		})
	}
}

func TestECSRAMRole(t *testing.T) {
	ctx := context.Background()
	metadataFault := func(a *account) {
		// The next metadata request (the token PUT) fails.
		a.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "ECSMetadata", Kind: emulator.Fault5xx, Count: 1}}})
	}
	tests := []struct {
		name       string
		ecs        emulator.ECSSettings
		opts       ECSRAMRoleOptions
		fault      bool
		wantErr    []string
		wantCounts map[string]int64
	}{
		{name: "named role, token", ecs: emulator.ECSSettings{RequireToken: true}, opts: ECSRAMRoleOptions{RoleName: "EcsInstanceRole"},
			wantCounts: map[string]int64{"ecs:GetToken": 1, "ecs:ListRoles": 0, "ecs:GetCredentials": 1}},
		{name: "discovered role", ecs: emulator.ECSSettings{RequireToken: true},
			wantCounts: map[string]int64{"ecs:GetToken": 1, "ecs:ListRoles": 1, "ecs:GetCredentials": 1}},
		{name: "token refused, fallback to plain requests", fault: true, opts: ECSRAMRoleOptions{RoleName: "EcsInstanceRole"},
			wantCounts: map[string]int64{"ecs:GetToken": 1, "ecs:GetCredentials": 1}},
		{name: "token refused, fallback disabled", fault: true, opts: ECSRAMRoleOptions{RoleName: "EcsInstanceRole", DisableIMDSv1: true},
			wantErr:    []string{"ecs_ram_role: getting a metadata token: HTTP 503"},
			wantCounts: map[string]int64{"ecs:GetToken": 1, "ecs:GetCredentials": 0}},
		{name: "token refused, hardened mode required", fault: true, ecs: emulator.ECSSettings{RequireToken: true},
			opts:    ECSRAMRoleOptions{RoleName: "EcsInstanceRole"},
			wantErr: []string{`ecs_ram_role: credentials of role "EcsInstanceRole": HTTP 401`, "no metadata token could be obtained"}},
		{name: "no role attached", ecs: emulator.ECSSettings{RoleName: "-"},
			wantErr: []string{"ecs_ram_role: discovering the instance's role: HTTP 404"}},
		{name: "wrong role name", opts: ECSRAMRoleOptions{RoleName: "OtherRole"},
			wantErr: []string{`ecs_ram_role: credentials of role "OtherRole": HTTP 404`}},
		{name: "metadata service down", ecs: emulator.ECSSettings{Disabled: true}, opts: ECSRAMRoleOptions{RoleName: "EcsInstanceRole"},
			wantErr: []string{"ecs_ram_role: credentials of role \"EcsInstanceRole\": metadata service at 127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAccount(t)
			s := tt.ecs
			switch s.RoleName {
			case "":
				s.RoleName = a.ecsRole
			case "-":
				s.RoleName = ""
			}
			a.emu.SetECS(s)
			if tt.fault {
				metadataFault(a)
			}
			o := tt.opts
			o.MetadataEndpoint = a.url
			p, err := NewECSRAMRole(o)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(ctx)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", c)
				}
				mustContain(t, err.Error(), tt.wantErr...)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if c.Source != "ecs_ram_role" || !hasPrefix(c.AccessKeyID, "STS.") || c.SecurityToken == "" ||
					!c.Expiration.After(a.clock.Now().Add(30*time.Minute)) {
					t.Errorf("credentials = %v", c)
				}
				if arn := a.callerARN(t, c); !strings.Contains(arn, ":assumed-role/EcsInstanceRole/") {
					t.Errorf("caller ARN = %s", arn)
				}
			}
			for k, want := range tt.wantCounts {
				if got := a.count(k); got != want {
					t.Errorf("%s = %d, want %d", k, got, want)
				}
			}
		})
	}
}

func TestECSRAMRoleUnreachableDoesNotRetryWithoutToken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused
	p, err := NewECSRAMRole(ECSRAMRoleOptions{RoleName: "r", MetadataEndpoint: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	mustContain(t, err.Error(), "ecs_ram_role: getting a metadata token: metadata service at "+addr+" unreachable")
}

func TestECSRAMRoleRefresh(t *testing.T) {
	a := newAccount(t)
	a.emu.SetECS(emulator.ECSSettings{RoleName: a.ecsRole, RequireToken: true})
	p, err := NewECSRAMRole(ECSRAMRoleOptions{RoleName: a.ecsRole, MetadataEndpoint: a.url})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, CacheOptions{Jitter: -1, Clock: a.clock.Now})
	ctx := context.Background()
	first, err := c.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lifetime := first.Expiration.Sub(a.clock.Now())
	a.clock.Advance(lifetime - 3*time.Minute - time.Second)
	if again, _ := c.Retrieve(ctx); again.AccessKeyID != first.AccessKeyID {
		t.Fatal("refreshed before the window")
	}
	a.clock.Advance(2 * time.Second)
	next, err := c.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessKeyID == first.AccessKeyID || !next.Expiration.After(first.Expiration) {
		t.Errorf("no refresh: %v then %v", first, next)
	}
	if got := a.count("ecs:GetCredentials"); got != 2 {
		t.Errorf("ecs:GetCredentials = %d, want 2", got)
	}
	a.callerARN(t, next)
}

func TestCredentialsURI(t *testing.T) {
	a := newAccount(t)
	ctx := context.Background()
	a.emu.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: a.ecsRole})

	p, err := NewCredentialsURI(CredentialsURIOptions{URL: a.url + "/credentials-uri"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(p, CacheOptions{Jitter: -1, Clock: a.clock.Now})
	first, err := c.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Source != "credentials_uri" || !hasPrefix(first.AccessKeyID, "STS.") || first.SecurityToken == "" {
		t.Errorf("credentials = %v", first)
	}
	a.callerARN(t, first)
	a.clock.Advance(first.Expiration.Sub(a.clock.Now()) - time.Minute)
	next, err := c.Retrieve(ctx)
	if err != nil || next.AccessKeyID == first.AccessKeyID {
		t.Fatalf("refresh: %v, %v", next, err)
	}
	if got := a.count("credentialsuri:GetCredentials"); got != 2 {
		t.Errorf("credentialsuri:GetCredentials = %d, want 2", got)
	}

	t.Run("not configured", func(t *testing.T) {
		p, _ := NewCredentialsURI(CredentialsURIOptions{URL: a.url + "/credentials-uri/NoSuchRole?token=UrlSecret42"})
		_, err := p.Retrieve(ctx)
		if err == nil {
			t.Fatal("no error")
		}
		mustContain(t, err.Error(), "credentials_uri: HTTP ", "from 127.0.0.1")
		mustNotContain(t, err.Error(), "UrlSecret42")
	})
	t.Run("throttled", func(t *testing.T) {
		a.emu.SetFaults(emulator.FaultConfig{Rules: []emulator.FaultRule{{Action: "CredentialsURI", Kind: emulator.FaultThrottle, Count: 1}}})
		p, _ := NewCredentialsURI(CredentialsURIOptions{URL: a.url + "/credentials-uri"})
		_, err := p.Retrieve(ctx)
		if err == nil {
			t.Fatal("no error")
		}
		mustContain(t, err.Error(), "credentials_uri: HTTP 429", "Throttling")
	})
}

// TestCachedProviderRace is the refresh-storm test: 100 goroutines on one
// cached provider whose credentials are about to expire cause exactly one
// upstream refresh, and none of them gets expired credentials.
func TestCachedProviderRace(t *testing.T) {
	tests := []struct {
		name    string
		counter string
		build   func(a *account) Provider
	}{
		{"ram_role_arn", "sts:AssumeRole", func(a *account) Provider {
			p, err := NewRAMRoleARN(RAMRoleARNOptions{Source: a.userKey(t), RoleARN: a.readerARN, Duration: 15 * time.Minute,
				STSEndpoint: a.url, Clock: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"ecs_ram_role", "ecs:GetCredentials", func(a *account) Provider {
			a.emu.SetECS(emulator.ECSSettings{RoleName: a.ecsRole, RequireToken: true})
			p, err := NewECSRAMRole(ECSRAMRoleOptions{RoleName: a.ecsRole, MetadataEndpoint: a.url})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAccount(t)
			c := NewCache(tt.build(a), CacheOptions{Clock: a.clock.Now})
			ctx := context.Background()
			first, err := c.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Ten seconds before expiry: inside any refresh window.
			a.clock.Set(first.Expiration.Add(-10 * time.Second))
			before := a.count(tt.counter)

			const n = 100
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make([]Credentials, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = c.Retrieve(ctx)
				}()
			}
			close(start)
			wg.Wait()
			if got := a.count(tt.counter) - before; got != 1 {
				t.Errorf("%s called %d times by 100 goroutines, want 1", tt.counter, got)
			}
			now := a.clock.Now()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("goroutine %d: %v", i, errs[i])
				}
				if results[i].Expired(now) || results[i].AccessKeyID == first.AccessKeyID || results[i] != results[0] {
					t.Fatalf("goroutine %d got %v; want the one refreshed session %v", i, results[i], results[0])
				}
			}
			a.callerARN(t, results[0])
		})
	}
}
