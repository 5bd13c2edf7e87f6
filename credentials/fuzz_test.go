package credentials

import (
	"strings"
	"testing"
)

// checkSpec asserts what every successfully parsed profile must satisfy, and
// builds it: construction validates and must not panic or touch the network.
func checkSpec(t *testing.T, s *profileSpec, depth int) {
	t.Helper()
	if depth > maxProfileChain+1 {
		t.Fatalf("source chain deeper than %d", maxProfileChain)
	}
	if !contains(iniTypes, s.kind) {
		t.Fatalf("parsed kind %q is not a known type", s.kind)
	}
	switch s.kind {
	case SourceAccessKey, SourceSTS:
		if s.accessKeyID == "" || s.accessKeySecret == "" {
			t.Fatalf("%s without a key pair: %+v", s.kind, s)
		}
	case SourceRAMRoleARN:
		if s.roleARN == "" || (s.source == nil && (s.accessKeyID == "" || s.accessKeySecret == "")) {
			t.Fatalf("ram_role_arn incomplete: %+v", s)
		}
	case SourceOIDCRoleARN:
		if s.roleARN == "" || s.oidcProviderARN == "" || s.oidcTokenFile == "" {
			t.Fatalf("oidc_role_arn incomplete: %+v", s)
		}
	}
	if s.source != nil {
		checkSpec(t, s.source, depth+1)
	}
	p, err := s.build(buildEnv{stsEndpoint: "http://127.0.0.1:1", metadataEndpoint: "http://127.0.0.1:1"})
	if err == nil && p == nil {
		t.Fatal("build returned neither a provider nor an error")
	}
	if err != nil {
		for _, secret := range []string{s.accessKeySecret, s.securityToken, s.bearerToken} {
			if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
				t.Fatalf("build error %q leaks a secret", err)
			}
		}
	}
}

func FuzzParseINI(f *testing.F) {
	f.Add([]byte("[default]\ntype = access_key\naccess_key_id = a\naccess_key_secret = b\n"), "default")
	f.Add([]byte("[p]\nenable=false\ntype=sts\n"), "p")
	f.Add([]byte("[r]\ntype=ram_role_arn\naccess_key_id=a\naccess_key_secret=b\nrole_arn="+testRoleARN+"\nrole_session_expiration=900\n"), "r")
	f.Add([]byte("[o]\ntype=oidc_role_arn\nrole_arn=x\noidc_provider_arn=y\noidc_token_file_path=z\n"), "o")
	f.Add([]byte("[e]\ntype=ecs_ram_role\nrole_name=\"quoted\"\n"), "e")
	f.Add([]byte("[u]\ntype=credentials_uri\ncredentials_uri=http://x\n[b]\ntype=bearer\nbearer_token=t\n"), "b")
	f.Add([]byte("[x]\nkey = \"\"\"multi\nline\"\"\"\n"), "x")
	f.Add([]byte("\xef\xbb\xbf[default]\r\ntype=access_key\r\n"), "default")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		s, err := parseINI(data, profile)
		if err != nil {
			if s != nil {
				t.Fatal("parseINI returned a spec with an error")
			}
			return
		}
		checkSpec(t, s, 0)
	})
}

func FuzzParseCLIConfig(f *testing.F) {
	f.Add([]byte(`{"current":"a","profiles":[{"name":"a","mode":"AK","access_key_id":"x","access_key_secret":"y"}]}`), "")
	f.Add([]byte(`{"profiles":[{"name":"a","mode":"ChainableRamRoleArn","source_profile":"b","ram_role_arn":"r"},`+
		`{"name":"b","mode":"ChainableRamRoleArn","source_profile":"a","ram_role_arn":"r"}]}`), "a")
	f.Add([]byte(`{"profiles":[{"name":"c","mode":"ChainableRamRoleArn","source_profile":"d","ram_role_arn":"`+testRoleARN+`"},`+
		`{"name":"d","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y","ram_role_arn":"`+testRoleARN+`","expired_seconds":900}]}`), "c")
	f.Add([]byte(`{"profiles":[{"name":"e","mode":"EcsRamRole"},{"name":"o","mode":"OIDC","ram_role_arn":"a","oidc_provider_arn":"b","oidc_token_file":"c"}]}`), "o")
	f.Add([]byte(`{"profiles":null}`), "")
	f.Add([]byte(`[]`), "x")
	f.Fuzz(func(t *testing.T, data []byte, profile string) {
		s, err := parseCLIConfig(data, profile)
		if err != nil {
			if s != nil {
				t.Fatal("parseCLIConfig returned a spec with an error")
			}
			return
		}
		checkSpec(t, s, 0)
	})
}
