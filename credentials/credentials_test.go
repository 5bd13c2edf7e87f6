package credentials

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	exp := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	c := Credentials{
		AccessKeyID:     "STS.NUgYrLnoC37mZZCNnAbez2",
		AccessKeySecret: "Sec9ret8Value7xyz",
		SecurityToken:   "CAIStokenVALUE123",
		BearerToken:     "bearerVALUE456",
		Expiration:      exp,
		Source:          "default/ram_role_arn/access_key",
	}
	secrets := []string{c.AccessKeySecret, c.SecurityToken, c.BearerToken}
	want := "Credentials{AccessKeyID: STS.NUgYrLnoC37mZZCNnAbez2, AccessKeySecret: [redacted], SecurityToken: [redacted], " +
		"BearerToken: [redacted], Expiration: 2030-01-01T12:00:00Z, Source: default/ram_role_arn/access_key}"
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		t.Run(verb, func(t *testing.T) {
			out := fmt.Sprintf(verb, c)
			mustNotContain(t, out, secrets...)
			mustContain(t, out, "STS.NUgYrLnoC37mZZCNnAbez2")
			// Inside a struct and behind a pointer too.
			out = fmt.Sprintf(verb, struct{ C *Credentials }{&c})
			mustNotContain(t, out, secrets...)
		})
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("got", "creds", c)
	mustNotContain(t, buf.String(), secrets...)
	mustContain(t, buf.String(), `"access_key_id":"STS.NUgYrLnoC37mZZCNnAbez2"`, `"source":"default/ram_role_arn/access_key"`)
}

func TestCredentialsExpiry(t *testing.T) {
	exp := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		c         Credentials
		now       time.Time
		canExpire bool
		expired   bool
	}{
		{"no expiration", Credentials{AccessKeyID: "a"}, exp.Add(100 * 365 * 24 * time.Hour), false, false},
		{"before", Credentials{Expiration: exp}, exp.Add(-time.Second), true, false},
		{"at", Credentials{Expiration: exp}, exp, true, true},
		{"after", Credentials{Expiration: exp}, exp.Add(time.Nanosecond), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.CanExpire(); got != tt.canExpire {
				t.Errorf("CanExpire() = %v, want %v", got, tt.canExpire)
			}
			if got := tt.c.Expired(tt.now); got != tt.expired {
				t.Errorf("Expired() = %v, want %v", got, tt.expired)
			}
		})
	}
}

func TestSigningFunc(t *testing.T) {
	ctx := context.Background()
	sts, _ := NewSTS(STSOptions{AccessKeyID: "STS.id", AccessKeySecret: "sec", SecurityToken: "tok"})
	got, err := SigningFunc(sts)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != "STS.id" || got.AccessKeySecret != "sec" || got.SecurityToken != "tok" {
		t.Errorf("SigningFunc = %+v", got)
	}
	bearer, _ := NewBearer(BearerOptions{BearerToken: "bt-secret"})
	_, err = SigningFunc(bearer)(ctx)
	if err == nil {
		t.Fatal("SigningFunc(bearer) succeeded; want an error: a bearer token cannot sign RPC calls")
	}
	mustContain(t, err.Error(), "bearer", "no AccessKey pair")
	mustNotContain(t, err.Error(), "bt-secret")

	failing := ProviderFunc(func(context.Context) (Credentials, error) { return Credentials{}, fmt.Errorf("boom") })
	if _, err := SigningFunc(failing)(ctx); err == nil || err.Error() != "boom" {
		t.Errorf("SigningFunc(failing) error = %v, want boom", err)
	}
}

func TestStaticProviders(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(p Provider, err error) Provider {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		p    Provider
		want Credentials
	}{
		{"access_key", mk(NewAccessKey(AccessKeyOptions{AccessKeyID: "LTAIid", AccessKeySecret: "s"})),
			Credentials{AccessKeyID: "LTAIid", AccessKeySecret: "s", Source: "access_key"}},
		{"sts", mk(NewSTS(STSOptions{AccessKeyID: "STS.id", AccessKeySecret: "s", SecurityToken: "t", Expiration: exp})),
			Credentials{AccessKeyID: "STS.id", AccessKeySecret: "s", SecurityToken: "t", Expiration: exp, Source: "sts"}},
		{"bearer", mk(NewBearer(BearerOptions{BearerToken: "b"})), Credentials{BearerToken: "b", Source: "bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Retrieve = %#v, want %#v", got, tt.want)
			}
			if s := fmt.Sprint(tt.p); strings.Contains(s, "s\"") || !strings.Contains(s, tt.name) {
				t.Errorf("provider prints as %q", s)
			}
		})
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	ak, _ := NewAccessKey(AccessKeyOptions{AccessKeyID: "id", AccessKeySecret: "secret"})
	const arn = "acs:ram::1234567890123456:role/reader"
	const oidcARN = "acs:ram::1234567890123456:oidc-provider/ack"
	tests := []struct {
		name  string
		build func() (Provider, error)
		want  []string
	}{
		{"access_key id", func() (Provider, error) { return NewAccessKey(AccessKeyOptions{AccessKeySecret: "TopSecret1"}) },
			[]string{"access_key: access_key_id is required"}},
		{"access_key both", func() (Provider, error) { return NewAccessKey(AccessKeyOptions{}) },
			[]string{"access_key_id is required", "access_key_secret is required"}},
		{"sts token", func() (Provider, error) {
			return NewSTS(STSOptions{AccessKeyID: "a", AccessKeySecret: "TopSecret1"})
		}, []string{"sts: security_token is required"}},
		{"bearer", func() (Provider, error) { return NewBearer(BearerOptions{}) }, []string{"bearer: bearer_token is required"}},
		{"ram source", func() (Provider, error) { return NewRAMRoleARN(RAMRoleARNOptions{RoleARN: arn}) },
			[]string{"ram_role_arn: source is required"}},
		{"ram role_arn", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: "arn:aws:iam::1:role/x"})
		}, []string{"ram_role_arn: role_arn must look like acs:ram::<account>:role/<name>"}},
		{"ram role_arn missing", func() (Provider, error) { return NewRAMRoleARN(RAMRoleARNOptions{Source: ak}) },
			[]string{"ram_role_arn: role_arn is required"}},
		{"ram session name", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, RoleSessionName: "has space"})
		}, []string{"ram_role_arn: role_session_name must be 2 to 64"}},
		{"ram session name too long", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, RoleSessionName: strings.Repeat("a", 65)})
		}, []string{"role_session_name must be 2 to 64"}},
		{"ram duration short", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, Duration: 899 * time.Second})
		}, []string{"ram_role_arn: duration must be from 900s to 43200s, got 14m59s"}},
		{"ram duration long", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, Duration: 43201 * time.Second})
		}, []string{"duration must be from 900s to 43200s"}},
		{"ram duration fraction", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, Duration: 1000*time.Second + time.Millisecond})
		}, []string{"duration must be a whole number of seconds"}},
		{"ram policy json", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, Policy: "{not json"})
		}, []string{"ram_role_arn: policy must be a JSON policy document"}},
		{"ram policy size", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, Policy: `"` + strings.Repeat("x", 2048) + `"`})
		}, []string{"policy must be at most 2048 characters, got 2050"}},
		{"ram external id", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, ExternalID: "x"})
		}, []string{"ram_role_arn: external_id must be 2 to 1224"}},
		{"ram vpc without region", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, UseVPCEndpoint: true})
		}, []string{"ram_role_arn: use_vpc_endpoint needs sts_region"}},
		{"ram region", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, STSRegion: "CN Hangzhou"})
		}, []string{"ram_role_arn: sts_region must be a region id"}},
		{"ram endpoint", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: arn, STSEndpoint: "ftp://sts.example.com"})
		}, []string{"ram_role_arn: sts_endpoint must be an http or https URL"}},
		{"oidc all", func() (Provider, error) { return NewOIDCRoleARN(OIDCRoleARNOptions{}) },
			[]string{"oidc_role_arn: role_arn is required", "oidc_provider_arn is required", "oidc_token_file is required"}},
		{"oidc provider arn", func() (Provider, error) {
			return NewOIDCRoleARN(OIDCRoleARNOptions{RoleARN: arn, OIDCProviderARN: arn, OIDCTokenFile: "/x"})
		}, []string{"oidc_role_arn: oidc_provider_arn must look like acs:ram::<account>:oidc-provider/<name>"}},
		{"oidc duration", func() (Provider, error) {
			return NewOIDCRoleARN(OIDCRoleARNOptions{RoleARN: arn, OIDCProviderARN: oidcARN, OIDCTokenFile: "/x", Duration: time.Minute})
		}, []string{"oidc_role_arn: duration must be from 900s to 43200s"}},
		{"ecs endpoint", func() (Provider, error) { return NewECSRAMRole(ECSRAMRoleOptions{MetadataEndpoint: "100.100.100.200"}) },
			[]string{"ecs_ram_role: metadata_endpoint must be"}},
		{"ecs role name", func() (Provider, error) { return NewECSRAMRole(ECSRAMRoleOptions{RoleName: "a/b"}) },
			[]string{"ecs_ram_role: role_name must be a RAM role name"}},
		{"ecs token ttl", func() (Provider, error) { return NewECSRAMRole(ECSRAMRoleOptions{TokenTTL: 6*time.Hour + time.Second}) },
			[]string{"ecs_ram_role: token_ttl must be from 1s to 21600s"}},
		{"ecs timeout", func() (Provider, error) { return NewECSRAMRole(ECSRAMRoleOptions{Timeout: -1}) },
			[]string{"ecs_ram_role: timeout must not be negative"}},
		{"uri missing", func() (Provider, error) { return NewCredentialsURI(CredentialsURIOptions{}) },
			[]string{"credentials_uri: url is required"}},
		{"uri scheme", func() (Provider, error) { return NewCredentialsURI(CredentialsURIOptions{URL: "file:///etc/passwd"}) },
			[]string{"credentials_uri: url must be an http or https URL"}},
		{"uri relative", func() (Provider, error) { return NewCredentialsURI(CredentialsURIOptions{URL: "/creds"}) },
			[]string{"credentials_uri: url must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.build()
			if err == nil {
				t.Fatalf("got provider %v, want an error", p)
			}
			mustContain(t, err.Error(), tt.want...)
			mustNotContain(t, err.Error(), "TopSecret1")
		})
	}
}

func TestValidOptionsAccepted(t *testing.T) {
	ak, _ := NewAccessKey(AccessKeyOptions{AccessKeyID: "id", AccessKeySecret: "secret"})
	tests := []struct {
		name  string
		build func() (Provider, error)
	}{
		{"ram minimal", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: "acs:ram::1:role/r"})
		}},
		{"ram full", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: "acs:ram::1234567890123456:role/My.Role-1_x",
				RoleSessionName: "vault@host-1.x_y", Policy: `{"Version":"1","Statement":[]}`, ExternalID: "abc:def/1",
				Duration: 43200 * time.Second, STSRegion: "cn-hangzhou", UseVPCEndpoint: true})
		}},
		{"ram endpoint host", func() (Provider, error) {
			return NewRAMRoleARN(RAMRoleARNOptions{Source: ak, RoleARN: "acs:ram::1:role/r", STSEndpoint: "sts.cn-shanghai.aliyuncs.com"})
		}},
		{"oidc", func() (Provider, error) {
			return NewOIDCRoleARN(OIDCRoleARNOptions{RoleARN: "acs:ram::1:role/r", OIDCProviderARN: "acs:ram::1:oidc-provider/p",
				OIDCTokenFile: "/var/run/secrets/tokens/oidc-token", Duration: 900 * time.Second})
		}},
		{"ecs defaults", func() (Provider, error) { return NewECSRAMRole(ECSRAMRoleOptions{}) }},
		{"uri", func() (Provider, error) {
			return NewCredentialsURI(CredentialsURIOptions{URL: "http://127.0.0.1:8080/creds"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			if p == nil {
				t.Fatal("nil provider")
			}
		})
	}
}
