package credentials

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/emulator"
)

// TestDefaultChainNothingConfigured: with no variables, no files and no
// metadata service, the chain fails without any network call and says why
// each link was skipped.
func TestDefaultChainNothingConfigured(t *testing.T) {
	md := newHitRecorder(t)
	p, err := NewDefaultChain(DefaultChainOptions{Getenv: envMap(nil), HomeDir: t.TempDir(), MetadataEndpoint: md.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Retrieve(context.Background())
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrNotConfigured) {
		t.Errorf("error %v does not wrap ErrNotConfigured", err)
	}
	msg := err.Error()
	mustContain(t, msg,
		"default: no credentials configured: ",
		"env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set; ",
		"oidc_role_arn: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE not set; ",
		"profile: no file ", filepath.Join(".alibabacloud", "credentials.ini")+"; ",
		"cli_profile: no file ", filepath.Join(".aliyun", "config.json")+"; ",
		"ecs_ram_role: ALIBABA_CLOUD_ECS_METADATA is not set; ",
		"credentials_uri: ALIBABA_CLOUD_CREDENTIALS_URI is not set",
	)
	// The links appear in the chain's order.
	last := -1
	for _, link := range []string{"env:", "oidc_role_arn:", "profile:", "cli_profile:", "ecs_ram_role:", "credentials_uri:"} {
		i := strings.Index(msg, link)
		if i <= last {
			t.Errorf("link %s out of order in %q", link, msg)
		}
		last = i
	}
	if n := md.hits.Load(); n != 0 {
		t.Errorf("the metadata endpoint was called %d times, want 0", n)
	}
}

func TestDefaultChainLinks(t *testing.T) {
	a := newAccount(t)
	a.emu.SetECS(emulator.ECSSettings{RoleName: a.ecsRole})
	a.emu.SetCredentialsURI(emulator.CredentialsURISettings{RoleName: a.ecsRole})
	oidcFile := filepath.Join(t.TempDir(), "token")
	a.mintToken(t, oidcFile, oidcSubject, time.Hour)
	iniRole := "[default]\ntype = ram_role_arn\naccess_key_id = " + a.userID + "\naccess_key_secret = " + a.userSecret +
		"\nrole_arn = " + a.readerARN + "\nrole_session_name = from-ini\n"
	cliChain := `{"current":"top","profiles":[
 {"name":"base","mode":"AK","access_key_id":"` + a.userID + `","access_key_secret":"` + a.userSecret + `"},
 {"name":"mid","mode":"ChainableRamRoleArn","source_profile":"base","ram_role_arn":"` + a.readerARN + `","ram_session_name":"mid"},
 {"name":"top","mode":"ChainableRamRoleArn","source_profile":"mid","ram_role_arn":"` + a.secondARN + `","ram_session_name":"top"}]}`
	oidcEnv := map[string]string{EnvRoleARN: a.oidcARN, EnvOIDCProviderARN: a.providerAR, EnvOIDCTokenFile: oidcFile, EnvRoleSessionName: "from-env"}

	tests := []struct {
		name       string
		env        map[string]string
		files      map[string]string
		profile    string
		wantSource string
		wantKey    string
		wantARN    string // suffix of the caller ARN
		wantErr    []string
	}{
		{name: "env access key", env: map[string]string{EnvAccessKeyID: a.userID, EnvAccessKeySecret: a.userSecret},
			wantSource: "default/env/access_key", wantKey: a.userID, wantARN: ":user/vault"},
		{name: "env sts", env: map[string]string{EnvAccessKeyID: "STS.x", EnvAccessKeySecret: "y", EnvSecurityToken: "z"},
			wantSource: "default/env/sts", wantKey: "STS.x"},
		{name: "env half set is an error, not a skip", env: map[string]string{EnvAccessKeyID: a.userID, EnvCredentialsURI: a.url + "/credentials-uri"},
			wantErr: []string{"default: env: ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not"}},
		{name: "env beats everything", env: map[string]string{EnvAccessKeyID: a.userID, EnvAccessKeySecret: a.userSecret,
			EnvECSMetadata: a.ecsRole, EnvCredentialsURI: a.url + "/credentials-uri"},
			files:      map[string]string{".alibabacloud/credentials.ini": iniRole},
			wantSource: "default/env/access_key", wantKey: a.userID},
		{name: "oidc", env: oidcEnv, wantSource: "default/oidc_role_arn", wantARN: ":assumed-role/app/from-env"},
		{name: "oidc half set", env: map[string]string{EnvOIDCTokenFile: oidcFile},
			wantErr: []string{"default: oidc_role_arn: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN not set (the others are)",
				"skipped before it: env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set"}},
		{name: "role arn alone is not oidc", env: map[string]string{EnvRoleARN: a.oidcARN, EnvCredentialsURI: a.url + "/credentials-uri"},
			wantSource: "default/credentials_uri"},
		{name: "ini profile", files: map[string]string{".alibabacloud/credentials.ini": iniRole, ".aliyun/config.json": cliChain},
			env:        map[string]string{EnvECSMetadata: a.ecsRole},
			wantSource: "default/profile/ram_role_arn/access_key", wantARN: ":assumed-role/reader/from-ini"},
		{name: "ini profile named by env", files: map[string]string{".alibabacloud/credentials": "[other]\ntype=access_key\naccess_key_id=" + a.userID + "\naccess_key_secret=" + a.userSecret + "\n"},
			env: map[string]string{EnvProfile: "other"}, wantSource: "default/profile/access_key", wantKey: a.userID},
		{name: "ini profile named by option beats env", files: map[string]string{".alibabacloud/credentials": "[opt]\ntype=bearer\nbearer_token=b\n"},
			env: map[string]string{EnvProfile: "other"}, profile: "opt", wantSource: "default/profile/bearer"},
		{name: "disabled ini profile falls through to cli", files: map[string]string{
			".alibabacloud/credentials.ini": "[default]\nenable = false\ntype=bearer\nbearer_token=b\n", ".aliyun/config.json": cliChain},
			wantSource: "default/cli_profile/ram_role_arn/ram_role_arn/access_key", wantARN: ":assumed-role/second/top"},
		{name: "broken ini profile is an error", files: map[string]string{".alibabacloud/credentials.ini": "[default]\ntype=magic\n", ".aliyun/config.json": cliChain},
			wantErr: []string{`default: profile: `, `[default] type "magic" is not supported`}},
		{name: "cli disabled", files: map[string]string{".aliyun/config.json": cliChain},
			env:     map[string]string{EnvCLIProfileDisabled: "true"},
			wantErr: []string{"cli_profile: disabled by ALIBABA_CLOUD_CLI_PROFILE_DISABLED"}},
		{name: "ecs", env: map[string]string{EnvECSMetadata: a.ecsRole, EnvCredentialsURI: a.url + "/credentials-uri"},
			wantSource: "default/ecs_ram_role", wantARN: ":assumed-role/EcsInstanceRole/"},
		{name: "ecs disabled", env: map[string]string{EnvECSMetadata: a.ecsRole, EnvECSMetadataDisabled: "TRUE", EnvCredentialsURI: a.url + "/credentials-uri"},
			wantSource: "default/credentials_uri"},
		{name: "credentials uri", env: map[string]string{EnvCredentialsURI: a.url + "/credentials-uri"}, wantSource: "default/credentials_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for rel, content := range tt.files {
				writeFile(t, filepath.Join(home, rel), content)
			}
			p, err := NewDefaultChain(DefaultChainOptions{Getenv: envMap(tt.env), HomeDir: home, Profile: tt.profile,
				MetadataEndpoint: a.url, STSEndpoint: a.url, Clock: a.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", c)
				}
				mustContain(t, err.Error(), tt.wantErr...)
				mustNotContain(t, err.Error(), a.userSecret)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Source != tt.wantSource {
				t.Errorf("Source = %q, want %q", c.Source, tt.wantSource)
			}
			if tt.wantKey != "" && c.AccessKeyID != tt.wantKey {
				t.Errorf("AccessKeyID = %q, want %q", c.AccessKeyID, tt.wantKey)
			}
			if tt.wantARN != "" {
				if arn := a.callerARN(t, c); !strings.Contains(arn, tt.wantARN) {
					t.Errorf("caller ARN = %s, want it to contain %s", arn, tt.wantARN)
				}
			}
		})
	}
}

// BenchmarkDefaultChainNothingConfigured measures building and asking the
// chain when nothing is configured: no network, two missing files.
func BenchmarkDefaultChainNothingConfigured(b *testing.B) {
	home := b.TempDir()
	md := newHitRecorder(b)
	ctx := context.Background()
	for b.Loop() {
		p, err := NewDefaultChain(DefaultChainOptions{Getenv: envMap(nil), HomeDir: home, MetadataEndpoint: md.srv.URL})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Retrieve(ctx); !errors.Is(err, ErrNotConfigured) {
			b.Fatal(err)
		}
	}
	if md.hits.Load() != 0 {
		b.Fatal("the metadata endpoint was called")
	}
}
