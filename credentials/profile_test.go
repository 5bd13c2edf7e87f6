package credentials

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testRoleARN = "acs:ram::1234567890123456:role/reader"

func TestParseINI(t *testing.T) {
	tests := []struct {
		name    string
		ini     string
		profile string
		check   func(t *testing.T, s *profileSpec)
		wantErr string
		errIs   error
	}{
		{name: "access_key with comments", ini: `
# comment
[default]
type = access_key                  # inline comment
access_key_id = LTAIid
access_key_secret = Secret#WithHash
`, profile: "default", check: func(t *testing.T, s *profileSpec) {
			if s.kind != "access_key" || s.accessKeyID != "LTAIid" || s.accessKeySecret != "Secret#WithHash" {
				t.Errorf("spec = %+v", s)
			}
		}},
		{name: "sts", ini: "[p]\ntype=sts\naccess_key_id=STS.a\naccess_key_secret=b\nsecurity_token=c\n", profile: "p",
			check: func(t *testing.T, s *profileSpec) {
				if s.kind != "sts" || s.securityToken != "c" {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "ram_role_arn full", ini: `[r]
type = ram_role_arn
access_key_id = LTAIid
access_key_secret = sec
role_arn = ` + testRoleARN + `
role_session_name = vault
policy = {"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:Get*","Resource":"*"}]}
role_session_expiration = 1800
external_id = ext-1
sts_region = cn-shanghai
enable_vpc = true
`, profile: "r", check: func(t *testing.T, s *profileSpec) {
			if s.kind != "ram_role_arn" || s.roleARN != testRoleARN || s.sessionName != "vault" || s.duration != 30*time.Minute ||
				!strings.HasPrefix(s.policy, `{"Version"`) || s.externalID != "ext-1" || s.stsRegion != "cn-shanghai" || !s.useVPC {
				t.Errorf("spec = %+v", s)
			}
		}},
		{name: "ecs_ram_role", ini: "[e]\ntype=ecs_ram_role\nrole_name=EcsRole\ndisable_imdsv1=true\n", profile: "e",
			check: func(t *testing.T, s *profileSpec) {
				if s.kind != "ecs_ram_role" || s.roleName != "EcsRole" || !s.disableIMDSv1 {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "oidc_role_arn", ini: "[o]\ntype=oidc_role_arn\nrole_arn=" + testRoleARN +
			"\noidc_provider_arn=acs:ram::1:oidc-provider/ack\noidc_token_file_path=/var/token\nrole_session_name=s1\n", profile: "o",
			check: func(t *testing.T, s *profileSpec) {
				if s.kind != "oidc_role_arn" || s.oidcProviderARN != "acs:ram::1:oidc-provider/ack" || s.oidcTokenFile != "/var/token" {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "credentials_uri", ini: "[u]\ntype=credentials_uri\ncredentials_uri=http://127.0.0.1:9/creds\n", profile: "u",
			check: func(t *testing.T, s *profileSpec) {
				if s.credentialsURI != "http://127.0.0.1:9/creds" {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "bearer", ini: "[b]\ntype=bearer\nbearer_token=bt\n", profile: "b",
			check: func(t *testing.T, s *profileSpec) {
				if s.kind != "bearer" || s.bearerToken != "bt" {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "enable true", ini: "[d]\nenable=true\ntype=bearer\nbearer_token=bt\n", profile: "d",
			check: func(t *testing.T, s *profileSpec) {
				if s.kind != "bearer" {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "enable false", ini: "[d]\nenable = false\ntype=access_key\naccess_key_id=a\naccess_key_secret=b\n", profile: "d",
			wantErr: "[d] has enable = false", errIs: errProfileDisabled},
		{name: "enable bad", ini: "[d]\nenable = maybe\n", profile: "d", wantErr: "[d] enable: must be true or false"},
		{name: "missing section", ini: "[other]\ntype=bearer\n", profile: "default", wantErr: "no section [default]", errIs: errProfileMissing},
		{name: "no type", ini: "[default]\naccess_key_id=a\n", profile: "default", wantErr: "[default] type is required"},
		{name: "unknown type", ini: "[default]\ntype=rsa_key_pair\n", profile: "default", wantErr: `type "rsa_key_pair" is not supported`},
		{name: "missing keys", ini: "[default]\ntype=ram_role_arn\naccess_key_id=a\n", profile: "default",
			wantErr: "[default]: type ram_role_arn needs access_key_secret, role_arn"},
		{name: "oidc missing keys", ini: "[default]\ntype=oidc_role_arn\n", profile: "default",
			wantErr: "needs role_arn, oidc_provider_arn, oidc_token_file_path"},
		{name: "bad duration", ini: "[default]\ntype=ram_role_arn\nrole_session_expiration=soon\n", profile: "default",
			wantErr: "role_session_expiration must be a number of seconds"},
		{name: "syntax error hides the line", ini: "[default]\naccess_key_secret TopSecretValue\n", profile: "default",
			wantErr: "invalid ini syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseINI([]byte(tt.ini), tt.profile)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %+v, want error %q", s, tt.wantErr)
				}
				mustContain(t, err.Error(), tt.wantErr)
				mustNotContain(t, err.Error(), "TopSecretValue")
				if tt.errIs != nil && !errors.Is(err, tt.errIs) {
					t.Errorf("error %v is not %v", err, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestParseCLIConfig(t *testing.T) {
	const cfg = `{
  "current": "ak",
  "profiles": [
    {"name": "ak", "mode": "AK", "access_key_id": "LTAIid", "access_key_secret": "sec", "region_id": "cn-hangzhou"},
    {"name": "sts", "mode": "StsToken", "access_key_id": "STS.a", "access_key_secret": "b", "sts_token": "c"},
    {"name": "role", "mode": "RamRoleArn", "access_key_id": "LTAIid", "access_key_secret": "sec",
     "ram_role_arn": "` + testRoleARN + `", "ram_session_name": "cli", "expired_seconds": 900, "sts_region": "cn-beijing",
     "enable_vpc": true, "policy": "{}", "external_id": "ext"},
    {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "EcsRole"},
    {"name": "oidc", "mode": "OIDC", "ram_role_arn": "` + testRoleARN + `", "oidc_provider_arn": "acs:ram::1:oidc-provider/p",
     "oidc_token_file": "/var/token"},
    {"name": "chain", "mode": "ChainableRamRoleArn", "source_profile": "role", "ram_role_arn": "acs:ram::1:role/second"},
    {"name": "chain2", "mode": "ChainableRamRoleArn", "source_profile": "chain", "ram_role_arn": "acs:ram::1:role/third"},
    {"name": "loop-a", "mode": "ChainableRamRoleArn", "source_profile": "loop-b", "ram_role_arn": "acs:ram::1:role/a"},
    {"name": "loop-b", "mode": "ChainableRamRoleArn", "source_profile": "loop-a", "ram_role_arn": "acs:ram::1:role/b"},
    {"name": "self", "mode": "ChainableRamRoleArn", "source_profile": "self", "ram_role_arn": "acs:ram::1:role/a"},
    {"name": "dangling", "mode": "ChainableRamRoleArn", "source_profile": "nope", "ram_role_arn": "acs:ram::1:role/a"},
    {"name": "nosource", "mode": "ChainableRamRoleArn", "ram_role_arn": "acs:ram::1:role/a"},
    {"name": "sso", "mode": "CloudSSO"},
    {"name": "oauth", "mode": "OAuth"},
    {"name": "ext", "mode": "External", "process_command": "/usr/local/bin/alicloud-vault-credentials print -path 'alicloud/creds/my app'"},
    {"name": "extempty", "mode": "External", "process_command": "  "},
    {"name": "chainext", "mode": "ChainableRamRoleArn", "source_profile": "ext", "ram_role_arn": "acs:ram::1:role/a"},
    {"name": "nomode"},
    {"name": "akmissing", "mode": "AK", "access_key_id": "x"},
    {"name": "baddur", "mode": "RamRoleArn", "expired_seconds": 99999}
  ]
}`
	tests := []struct {
		profile string
		check   func(t *testing.T, s *profileSpec)
		wantErr string
	}{
		{"", func(t *testing.T, s *profileSpec) {
			if s.kind != "access_key" || s.accessKeyID != "LTAIid" {
				t.Errorf("current profile spec = %+v", s)
			}
		}, ""},
		{"sts", func(t *testing.T, s *profileSpec) {
			if s.kind != "sts" || s.securityToken != "c" {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"role", func(t *testing.T, s *profileSpec) {
			if s.kind != "ram_role_arn" || s.roleARN != testRoleARN || s.sessionName != "cli" || s.duration != 15*time.Minute ||
				s.stsRegion != "cn-beijing" || !s.useVPC || s.policy != "{}" || s.externalID != "ext" || s.source != nil {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"ecs", func(t *testing.T, s *profileSpec) {
			if s.kind != "ecs_ram_role" || s.roleName != "EcsRole" {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"oidc", func(t *testing.T, s *profileSpec) {
			if s.kind != "oidc_role_arn" || s.oidcTokenFile != "/var/token" {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"chain2", func(t *testing.T, s *profileSpec) {
			if s.roleARN != "acs:ram::1:role/third" || s.source == nil || s.source.roleARN != "acs:ram::1:role/second" ||
				s.source.source == nil || s.source.source.roleARN != testRoleARN || s.source.source.source != nil {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"loop-a", nil, `profile "loop-a": source_profile cycle: loop-a -> loop-b -> loop-a`},
		{"self", nil, `source_profile cycle: self -> self`},
		{"dangling", nil, `profile "dangling": source_profile "nope" does not exist`},
		{"nosource", nil, `mode ChainableRamRoleArn needs source_profile`},
		{"sso", nil, `profile "sso": mode CloudSSO is not supported: its credentials come from a CloudSSO sign-in that only the aliyun CLI performs; ` +
			`use a non-interactive mode (one of AK, StsToken, RamRoleArn, EcsRamRole, OIDC, ChainableRamRoleArn, External)`},
		{"oauth", nil, `profile "oauth": mode OAuth is not supported: its credentials come from an OAuth sign-in`},
		{"ext", func(t *testing.T, s *profileSpec) {
			if s.kind != "external" || s.processCommand != "/usr/local/bin/alicloud-vault-credentials print -path 'alicloud/creds/my app'" {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"extempty", nil, `profile "extempty": mode External needs process_command`},
		{"chainext", func(t *testing.T, s *profileSpec) {
			if s.kind != "ram_role_arn" || s.source == nil || s.source.kind != "external" {
				t.Errorf("spec = %+v", s)
			}
		}, ""},
		{"nomode", nil, `profile "nomode": mode is required`},
		{"akmissing", nil, `profile "akmissing": mode AK needs access_key_secret`},
		{"baddur", nil, `expired_seconds must be from 900 to 43200`},
		{"absent", nil, `no profile "absent"`},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			s, err := parseCLIConfig([]byte(cfg), tt.profile)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %+v, want error %q", s, tt.wantErr)
				}
				mustContain(t, err.Error(), tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
	if _, err := parseCLIConfig([]byte(`{"profiles": [{"name": "x", "access_key_secret": 5}]}`), "x"); err == nil {
		t.Error("wrong JSON type accepted")
	} else {
		mustContain(t, err.Error(), "invalid config.json: field profiles.access_key_secret has the wrong type")
	}
	if _, err := parseCLIConfig([]byte(`{"profiles": [`), "x"); err == nil || !strings.Contains(err.Error(), "invalid config.json") {
		t.Errorf("truncated JSON: err = %v", err)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewProfileFileSelection(t *testing.T) {
	ctx := context.Background()
	ak := func(id string) string {
		return "[default]\ntype=access_key\naccess_key_id=" + id + "\naccess_key_secret=s\n[work]\ntype=access_key\naccess_key_id=" + id +
			"-work\naccess_key_secret=s\n[off]\nenable=false\ntype=bearer\nbearer_token=t\n"
	}
	tests := []struct {
		name    string
		files   map[string]string // relative to home
		opts    ProfileOptions
		env     map[string]string
		wantID  string
		wantErr string
		notConf bool
	}{
		{name: "credentials.ini", files: map[string]string{".alibabacloud/credentials.ini": ak("ini")}, wantID: "ini"},
		{name: "credentials", files: map[string]string{".alibabacloud/credentials": ak("plain")}, wantID: "plain"},
		{name: "ini name wins", files: map[string]string{".alibabacloud/credentials.ini": ak("ini"), ".alibabacloud/credentials": ak("plain")}, wantID: "ini"},
		{name: "env file", files: map[string]string{"elsewhere.ini": ak("env"), ".alibabacloud/credentials.ini": ak("ini")},
			env: map[string]string{EnvCredentialsFile: "HOME/elsewhere.ini"}, wantID: "env"},
		{name: "option file beats env", files: map[string]string{"opt.ini": ak("opt"), "elsewhere.ini": ak("env")},
			opts: ProfileOptions{File: "HOME/opt.ini"}, env: map[string]string{EnvCredentialsFile: "HOME/elsewhere.ini"}, wantID: "opt"},
		{name: "env profile", files: map[string]string{".alibabacloud/credentials": ak("p")}, env: map[string]string{EnvProfile: "work"}, wantID: "p-work"},
		{name: "option profile beats env", files: map[string]string{".alibabacloud/credentials": ak("p")},
			opts: ProfileOptions{Profile: "default"}, env: map[string]string{EnvProfile: "work"}, wantID: "p"},
		{name: "no file", wantErr: "no file HOME/.alibabacloud/credentials.ini", notConf: true},
		{name: "explicit file missing", env: map[string]string{EnvCredentialsFile: "HOME/missing.ini"}, wantErr: "missing.ini: no such file"},
		{name: "disabled", files: map[string]string{".alibabacloud/credentials": ak("p")}, opts: ProfileOptions{Profile: "off"},
			wantErr: "[off] has enable = false", notConf: true},
		{name: "absent profile", files: map[string]string{".alibabacloud/credentials": ak("p")}, opts: ProfileOptions{Profile: "nope"},
			wantErr: "no section [nope]", notConf: true},
		{name: "invalid profile", files: map[string]string{".alibabacloud/credentials": "[default]\ntype=ram_role_arn\naccess_key_id=a\naccess_key_secret=b\nrole_arn=bad\n"},
			wantErr: "profile: HOME/.alibabacloud/credentials [default]: ram_role_arn: role_arn must look like acs:ram::<account>:role/<name>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for rel, content := range tt.files {
				writeFile(t, filepath.Join(home, rel), content)
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "HOME", home)
			}
			o := tt.opts
			o.File = strings.ReplaceAll(o.File, "HOME", home)
			o.HomeDir = home
			o.Getenv = envMap(env)
			p, err := NewProfile(o)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %v, want error %q", p, tt.wantErr)
				}
				mustContain(t, strings.ReplaceAll(err.Error(), home, "HOME"), tt.wantErr)
				if got := errors.Is(err, ErrNotConfigured); got != tt.notConf {
					t.Errorf("errors.Is(err, ErrNotConfigured) = %v, want %v", got, tt.notConf)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.AccessKeyID != tt.wantID || c.Source != "profile/access_key" {
				t.Errorf("got %v, want key %s from profile/access_key", c, tt.wantID)
			}
		})
	}
}

func TestNewProfileTypes(t *testing.T) {
	home := t.TempDir()
	file := writeFile(t, filepath.Join(home, "creds.ini"), `
[sts]
type = sts
access_key_id = STS.a
access_key_secret = b
security_token = c
[bearer]
type = bearer
bearer_token = bt
`)
	tests := []struct {
		profile string
		want    Credentials
	}{
		{"sts", Credentials{AccessKeyID: "STS.a", AccessKeySecret: "b", SecurityToken: "c", Source: "profile/sts"}},
		{"bearer", Credentials{BearerToken: "bt", Source: "profile/bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			p, err := NewProfile(ProfileOptions{File: file, Profile: tt.profile, Getenv: envMap(nil)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Retrieve(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestNewCLIProfileFileSelection(t *testing.T) {
	cfg := func(id string) string {
		return `{"current":"main","profiles":[{"name":"main","mode":"AK","access_key_id":"` + id +
			`","access_key_secret":"s"},{"name":"other","mode":"AK","access_key_id":"` + id + `-other","access_key_secret":"s"}]}`
	}
	tests := []struct {
		name    string
		files   map[string]string
		opts    ProfileOptions
		env     map[string]string
		wantID  string
		wantErr string
		notConf bool
	}{
		{name: "home config, current profile", files: map[string]string{".aliyun/config.json": cfg("home")}, wantID: "home"},
		{name: "env profile", files: map[string]string{".aliyun/config.json": cfg("home")}, env: map[string]string{EnvProfile: "other"}, wantID: "home-other"},
		{name: "option profile", files: map[string]string{".aliyun/config.json": cfg("home")}, opts: ProfileOptions{Profile: "other"},
			env: map[string]string{EnvProfile: "main"}, wantID: "home-other"},
		{name: "env file", files: map[string]string{"x.json": cfg("env")}, env: map[string]string{EnvConfigFile: "HOME/x.json"}, wantID: "env"},
		{name: "no file", wantErr: "no file HOME/.aliyun/config.json", notConf: true},
		{name: "absent profile", files: map[string]string{".aliyun/config.json": cfg("home")}, opts: ProfileOptions{Profile: "nope"},
			wantErr: `no profile "nope"`, notConf: true},
		{name: "broken json", files: map[string]string{".aliyun/config.json": "{"}, wantErr: "invalid config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			for rel, content := range tt.files {
				writeFile(t, filepath.Join(home, rel), content)
			}
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = strings.ReplaceAll(v, "HOME", home)
			}
			o := tt.opts
			o.HomeDir = home
			o.Getenv = envMap(env)
			p, err := NewCLIProfile(o)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %v, want error %q", p, tt.wantErr)
				}
				mustContain(t, strings.ReplaceAll(err.Error(), home, "HOME"), tt.wantErr)
				if got := errors.Is(err, ErrNotConfigured); got != tt.notConf {
					t.Errorf("errors.Is(err, ErrNotConfigured) = %v, want %v", got, tt.notConf)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if c.AccessKeyID != tt.wantID || c.Source != "cli_profile/access_key" {
				t.Errorf("got %v, want key %s from cli_profile/access_key", c, tt.wantID)
			}
		})
	}
}

// TestREADMEProfileExample keeps the README's ini example valid: every
// section parses and builds, except the disabled one.
func TestREADMEProfileExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```ini\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no ini block in README.md")
	}
	want := map[string]string{"default": "access_key", "sts": "sts", "role": "ram_role_arn", "ecs": "ecs_ram_role",
		"rrsa": "oidc_role_arn", "uri": "credentials_uri", "ccc": "bearer"}
	for profile, kind := range want {
		s, err := parseINI([]byte(block), profile)
		if err != nil {
			t.Errorf("[%s]: %v", profile, err)
			continue
		}
		if s.kind != kind {
			t.Errorf("[%s] type = %s, want %s", profile, s.kind, kind)
		}
		if _, err := s.build(buildEnv{}); err != nil {
			t.Errorf("[%s] build: %v", profile, err)
		}
	}
	if s, _ := parseINI([]byte(block), "role"); s != nil && (s.sessionName != "my-app" || s.duration != time.Hour || s.stsRegion != "cn-hangzhou") {
		t.Errorf("[role] inline comments not stripped: %+v", s)
	}
	if _, err := parseINI([]byte(block), "old"); !errors.Is(err, errProfileDisabled) {
		t.Errorf("[old]: err = %v, want disabled", err)
	}
}
