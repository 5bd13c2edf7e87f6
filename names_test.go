package alicloud

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/sdk/helper/template"
	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func TestNames_ManagedPolicyName(t *testing.T) {
	b := newBackend(backendEnv{})
	b.backendUUID = testBackendUUID
	tests := []struct {
		role, want string
	}{
		{"web", "vault-5f0c1a2b-web-3"},
		{"web-app", "vault-5f0c1a2b-web-app-3"},
		// Characters RAM refuses in policy names are replaced, and a hash
		// keeps "web_app" and "web.app" apart.
		{"web_app", "vault-5f0c1a2b-web-app-"},
		{"web.app", "vault-5f0c1a2b-web-app-"},
		{strings.Repeat("r", 100), "vault-5f0c1a2b-" + strings.Repeat("r", 80) + "-"},
	}
	seen := map[string]string{}
	for _, tc := range tests {
		got := b.managedPolicyName(tc.role, 3)
		if !strings.HasPrefix(got, tc.want) || !policyNameRegex.MatchString(got) || len(got) > 128 {
			t.Errorf("managedPolicyName(%q) = %q, want %s... within RAM's rules", tc.role, got, tc.want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("roles %q and %q share the policy name %q", tc.role, other, got)
		}
		seen[got] = tc.role
	}
	if got := newBackend(backendEnv{}).managedPolicyName("web", 0); got != "vault-mount-web-0" {
		t.Errorf("without a backend UUID: %q", got)
	}
}

func TestNames_Templates(t *testing.T) {
	b := newBackend(backendEnv{})
	tests := []struct {
		name, display, role string
		tmpl                string
		rule                *regexp.Regexp
		want                *regexp.Regexp
		wantErr             string
	}{
		{"default user", "token-alice", "dev", defaultUsernameTemplate, ramUserNameRegex, regexp.MustCompile(`^vault-token-alice-dev-[0-9]{10}-[A-Za-z0-9]{8}$`), ""},
		{"default user, long names", strings.Repeat("d", 40), strings.Repeat("r", 60), defaultUsernameTemplate, ramUserNameRegex, regexp.MustCompile(`^vault-d{16}-r{16}-[0-9]{10}-[A-Za-z0-9]{8}$`), ""},
		{"default session", "token-alice", "reader", defaultSessionNameTemplate, sessionNameRegex, regexp.MustCompile(`^vault-token-alice-reader-[0-9]{10}$`), ""},
		{"empty display name", "", "dev", "{{ .DisplayName }}-{{ .RoleName }}", ramUserNameRegex, regexp.MustCompile(`^none-dev$`), ""},
		{"unsafe display name", "ldap-Bob Smith/ops", "dev", "{{ .DisplayName }}", ramUserNameRegex, regexp.MustCompile(`^ldap-Bob-Smith-ops$`), ""},
		{"too long", "x", "y", `{{ printf "%s" (random 70) }}`, ramUserNameRegex, nil, "which is not a valid RAM user name"},
		{"unknown function", "x", "y", "{{ nope }}", ramUserNameRegex, nil, "unable to parse template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.renderName("f", tc.tmpl, newNameTemplateData(tc.display, tc.role), tc.rule, "a valid RAM user name")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.want.MatchString(got) {
				t.Fatalf("renderName = %q, %v; want %s", got, err, tc.want)
			}
		})
	}
	// Parsed templates are cached.
	if _, err := b.template(defaultUsernameTemplate); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.templates.Load(defaultUsernameTemplate); !ok {
		t.Error("template not cached")
	}
}

func TestClient_TransportSettings(t *testing.T) {
	b := newBackend(backendEnv{})
	retries := 4
	tests := []struct {
		name           string
		cfg            configEntry
		sts, ram       string
		credRetries    int
		wantBuildError string
	}{
		{"defaults", configEntry{AccessKey: "id", SecretKey: "s"}, "https://sts.aliyuncs.com/", "https://ram.aliyuncs.com/", 0, ""},
		{"region", configEntry{AccessKey: "id", SecretKey: "s", Region: "cn-hangzhou"}, "https://sts.cn-hangzhou.aliyuncs.com/", "https://ram.aliyuncs.com/", 0, ""},
		{"vpc", configEntry{AccessKey: "id", SecretKey: "s", Region: "cn-shanghai", UseVPCEndpoint: true}, "https://sts-vpc.cn-shanghai.aliyuncs.com/", "https://ram.aliyuncs.com/", 0, ""},
		{"explicit endpoints", configEntry{AccessKey: "id", SecretKey: "s", Region: "cn-shanghai", STSEndpoint: "sts.example.internal", RAMEndpoint: "http://127.0.0.1:9/ram"},
			"https://sts.example.internal/", "http://127.0.0.1:9/ram", 0, ""},
		{"retries", configEntry{AccessKey: "id", SecretKey: "s", MaxRetries: &retries}, "https://sts.aliyuncs.com/", "https://ram.aliyuncs.com/", 4, ""},
		{"no retries", configEntry{AccessKey: "id", SecretKey: "s", MaxRetries: new(int)}, "https://sts.aliyuncs.com/", "https://ram.aliyuncs.com/", -1, ""},
		{"bad credential type", configEntry{CredentialType: "magic"}, "", "", 0, `unknown credential_type "magic"`},
		{"missing secret", configEntry{AccessKey: "id"}, "", "", 0, "secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := b.newEngineClient(&tc.cfg)
			if tc.wantBuildError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantBuildError) {
					t.Fatalf("error %v, want %q", err, tc.wantBuildError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			if got := c.api.Endpoint(aliyun.STS); got != tc.sts {
				t.Errorf("STS endpoint = %s, want %s", got, tc.sts)
			}
			if got := c.api.Endpoint(aliyun.RAM); got != tc.ram {
				t.Errorf("RAM endpoint = %s, want %s", got, tc.ram)
			}
			if got := clientMaxRetries(&tc.cfg); got != tc.credRetries {
				t.Errorf("client retries = %d, want %d", got, tc.credRetries)
			}
		})
	}
}

func TestBackend_FactoryAndSleep(t *testing.T) {
	conf := logical.TestBackendConfig()
	conf.StorageView = &logical.InmemStorage{}
	lb, err := Factory(context.Background(), conf)
	if err != nil {
		t.Fatal(err)
	}
	b := lb.(httpStatusBackend).backend
	if _, ok := lb.(logical.PluginVersioner); !ok {
		t.Error("the Factory's backend does not report its running version")
	}
	if b.env.Getenv == nil || b.env.Sleep == nil || b.env.RotateConfirmTimeout != 15*time.Second {
		t.Errorf("Factory env = %+v", b.env)
	}
	if b.Type() != logical.TypeLogical {
		t.Errorf("type = %v", b.Type())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := aliyun.SleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on a cancelled context = %v", err)
	}
	if err := aliyun.SleepContext(context.Background(), time.Millisecond); err != nil {
		t.Errorf("short sleep = %v", err)
	}
}

// The default templates are rendered in plain Go; they must give exactly
// what text/template gives for the same data.
func TestNames_BuiltinMatchesTemplate(t *testing.T) {
	parts := []string{"token", "token-alice", "", "ldap-Bob Smith/ops", "-x-", "a", strings.Repeat("d", 17),
		strings.Repeat("r", 21), strings.Repeat("long.name_", 9), "oidc-alice@example.com", "日本"}
	for _, tmpl := range []string{defaultSessionNameTemplate, defaultUsernameTemplate} {
		parsed, err := template.NewTemplate(template.Template(tmpl))
		if err != nil {
			t.Fatal(err)
		}
		for _, display := range parts {
			for _, role := range parts {
				data := newNameTemplateData(display, role)
				var got, want string
				// unix_time reads the clock: retry when a second boundary fell
				// between the two renderings.
				for attempt := 0; attempt < 3; attempt++ {
					if got, err = builtinNames[tmpl](data); err != nil {
						t.Fatal(err)
					}
					if want, err = parsed.Generate(data); err != nil {
						t.Fatal(err)
					}
					if tmpl == defaultUsernameTemplate {
						// The random suffix differs; it must have the template's form.
						if !regexp.MustCompile(`-[A-Za-z0-9]{8}$`).MatchString(got) {
							t.Fatalf("builtin user name %q has no random suffix", got)
						}
						got, want = got[:len(got)-8], want[:len(want)-8]
					}
					if got == want {
						break
					}
				}
				if got != want {
					t.Errorf("display %q role %q: builtin %q, template %q", display, role, got, want)
				}
			}
		}
	}
}

func TestNames_SafeNamePartFastPath(t *testing.T) {
	inputs := []string{"", "-", "a", "a-", "-a", "a-b", "a b", "a..b", "A_Z.0-9", "x@y", "日本", "ok_name.1", "--x--"}
	for _, s := range inputs {
		slow := strings.Trim(unsafeNameChars.ReplaceAllString(s, "-"), "-")
		if slow == "" {
			slow = "none"
		}
		if got := safeNamePart(s); got != slow {
			t.Errorf("safeNamePart(%q) = %q, want %q", s, got, slow)
		}
	}
}
