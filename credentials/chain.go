package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// EnvOptions configure NewEnv.
type EnvOptions struct {
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
}

type envProvider struct{ getenv func(string) string }

// NewEnv returns a provider that reads ALIBABA_CLOUD_ACCESS_KEY_ID and
// ALIBABA_CLOUD_ACCESS_KEY_SECRET, plus ALIBABA_CLOUD_SECURITY_TOKEN for STS
// credentials, on every Retrieve. Its Source is "env/access_key" or "env/sts".
func NewEnv(o EnvOptions) (Provider, error) {
	return &envProvider{getenv: getenvOrOS(o.Getenv)}, nil
}

// Retrieve reads the variables.
func (p *envProvider) Retrieve(ctx context.Context) (Credentials, error) {
	inner, err := envKeyProvider(p.getenv)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", SourceEnv, err)
	}
	c, err := inner.Retrieve(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", SourceEnv, err)
	}
	return withSource(c, SourceEnv), nil
}

// String names the provider.
func (p *envProvider) String() string { return SourceEnv + " provider" }

// envKeyProvider builds the static provider the AccessKey variables
// describe. Neither variable set wraps ErrNotConfigured; one of the two is a
// configuration error.
func envKeyProvider(getenv func(string) string) (Provider, error) {
	id, secret, token := getenv(EnvAccessKeyID), getenv(EnvAccessKeySecret), getenv(EnvSecurityToken)
	switch {
	case id == "" && secret == "":
		return nil, fmt.Errorf("%w: %s and %s are not set", ErrNotConfigured, EnvAccessKeyID, EnvAccessKeySecret)
	case id == "":
		return nil, fmt.Errorf("%s is set but %s is not", EnvAccessKeySecret, EnvAccessKeyID)
	case secret == "":
		return nil, fmt.Errorf("%s is set but %s is not", EnvAccessKeyID, EnvAccessKeySecret)
	case token != "":
		return NewSTS(STSOptions{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token})
	}
	return NewAccessKey(AccessKeyOptions{AccessKeyID: id, AccessKeySecret: secret})
}

// DefaultChainOptions configure NewDefaultChain.
type DefaultChainOptions struct {
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
	// HomeDir is the home directory for the profile files (default $HOME,
	// or %USERPROFILE%).
	HomeDir string
	// Profile selects the profile in the ini file and in the CLI config,
	// before ALIBABA_CLOUD_PROFILE.
	Profile string
	// HTTPClient is used by the providers the chain builds; nil: each
	// provider's default.
	HTTPClient *http.Client
	// MetadataEndpoint is the ECS metadata service (default
	// http://100.100.100.200).
	MetadataEndpoint string
	// STSEndpoint, when set, replaces the STS endpoint of the OIDC link and
	// of profiles that call STS (a private endpoint, or an emulator in tests).
	STSEndpoint string
	// Clock is passed to the providers the chain builds.
	Clock func() time.Time
}

// chainLink is one step of the default chain: the provider it answers
// with, or why it was skipped, or the configuration error that ends the
// chain there.
type chainLink struct {
	name     string
	provider Provider
	skipped  string
	err      error
}

type defaultChain struct {
	skipped []chainLink
	chosen  *chainLink
}

// NewDefaultChain returns the default credential chain. It looks, in this
// order, at:
//
//  1. env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET
//     (with ALIBABA_CLOUD_SECURITY_TOKEN: STS credentials);
//  2. oidc_role_arn: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN
//     and ALIBABA_CLOUD_OIDC_TOKEN_FILE all set (ALIBABA_CLOUD_ROLE_SESSION_NAME,
//     ALIBABA_CLOUD_STS_REGION, ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED optional);
//  3. profile: the ini file (see NewProfile);
//  4. cli_profile: the CLI's config.json (see NewCLIProfile), unless
//     ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true;
//  5. ecs_ram_role: when ALIBABA_CLOUD_ECS_METADATA names the role (and
//     ALIBABA_CLOUD_ECS_METADATA_DISABLED is not true;
//     ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids the tokenless fallback);
//  6. credentials_uri: ALIBABA_CLOUD_CREDENTIALS_URI.
//
// The environment and the files are read here, once. The first link that is
// configured answers every Retrieve; a link that is configured but broken (a
// half-set variable pair, a profile with a bad type) is an error rather than
// a reason to try the next one, so the identity in use never silently
// changes. Off ECS no network call is made until a link asks for one.
// Credentials carry Source "default/<link>/...". When no link is configured,
// Retrieve's error wraps ErrNotConfigured and says why each link was skipped.
func NewDefaultChain(o DefaultChainOptions) (Provider, error) {
	getenv := getenvOrOS(o.Getenv)
	home := homeDir(o.HomeDir, getenv)
	env := buildEnv{
		httpClient:       o.HTTPClient,
		metadataEndpoint: o.MetadataEndpoint,
		stsEndpoint:      o.STSEndpoint,
		clock:            o.Clock,
		disableIMDSv1:    envTrue(getenv(EnvIMDSv1Disabled)),
	}
	profileOpts := ProfileOptions{
		Profile:          o.Profile,
		Getenv:           getenv,
		HomeDir:          home,
		HTTPClient:       o.HTTPClient,
		MetadataEndpoint: o.MetadataEndpoint,
		STSEndpoint:      o.STSEndpoint,
		Clock:            o.Clock,
	}
	steps := []struct {
		name  string
		build func() (Provider, error)
	}{
		{SourceEnv, func() (Provider, error) {
			p, err := envKeyProvider(getenv)
			if err != nil {
				return nil, err
			}
			return named(SourceEnv, p), nil
		}},
		{SourceOIDCRoleARN, func() (Provider, error) { return envOIDCProvider(getenv, env) }},
		{SourceProfile, func() (Provider, error) { return loadINIProfile(profileOpts) }},
		{SourceCLIProfile, func() (Provider, error) {
			if envTrue(getenv(EnvCLIProfileDisabled)) {
				return nil, fmt.Errorf("%w: disabled by %s", ErrNotConfigured, EnvCLIProfileDisabled)
			}
			return loadCLIProfile(profileOpts)
		}},
		{SourceECSRAMRole, func() (Provider, error) { return envECSProvider(getenv, env) }},
		{SourceCredentialsURI, func() (Provider, error) {
			u := getenv(EnvCredentialsURI)
			if u == "" {
				return nil, fmt.Errorf("%w: %s is not set", ErrNotConfigured, EnvCredentialsURI)
			}
			return NewCredentialsURI(CredentialsURIOptions{URL: u, HTTPClient: o.HTTPClient})
		}},
	}
	ch := &defaultChain{}
links:
	for _, st := range steps {
		p, err := st.build()
		switch {
		case err == nil:
			ch.chosen = &chainLink{name: st.name, provider: p}
		case errors.Is(err, ErrNotConfigured):
			ch.skipped = append(ch.skipped, chainLink{name: st.name, skipped: skipReason(st.name, err)})
			continue
		default:
			ch.chosen = &chainLink{name: st.name, err: err}
		}
		break links
	}
	return ch, nil
}

// skipReason is the text of a not-configured error without the names the
// chain adds around it.
func skipReason(name string, err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, name+": ")
	s = strings.TrimPrefix(s, ErrNotConfigured.Error()+": ")
	return s
}

// envOIDCProvider builds the OIDC link from the environment.
func envOIDCProvider(getenv func(string) string, env buildEnv) (Provider, error) {
	role, prov, file := getenv(EnvRoleARN), getenv(EnvOIDCProviderARN), getenv(EnvOIDCTokenFile)
	var missing []string
	for _, kv := range [][2]string{{EnvRoleARN, role}, {EnvOIDCProviderARN, prov}, {EnvOIDCTokenFile, file}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		if prov == "" && file == "" {
			// ALIBABA_CLOUD_ROLE_ARN alone does not ask for OIDC.
			return nil, fmt.Errorf("%w: %s not set", ErrNotConfigured, strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("%s: %s not set (the others are)", SourceOIDCRoleARN, strings.Join(missing, ", "))
	}
	stsEndpoint := env.stsEndpoint
	return NewOIDCRoleARN(OIDCRoleARNOptions{
		RoleARN:         role,
		OIDCProviderARN: prov,
		OIDCTokenFile:   file,
		RoleSessionName: getenv(EnvRoleSessionName),
		STSEndpoint:     stsEndpoint,
		STSRegion:       getenv(EnvSTSRegion),
		UseVPCEndpoint:  envTrue(getenv(EnvVPCEndpointEnabled)),
		HTTPClient:      env.httpClient,
		Clock:           env.clock,
	})
}

// envECSProvider builds the ECS link from the environment.
func envECSProvider(getenv func(string) string, env buildEnv) (Provider, error) {
	if envTrue(getenv(EnvECSMetadataDisabled)) {
		return nil, fmt.Errorf("%w: disabled by %s", ErrNotConfigured, EnvECSMetadataDisabled)
	}
	role := strings.TrimSpace(getenv(EnvECSMetadata))
	if role == "" {
		return nil, fmt.Errorf("%w: %s is not set", ErrNotConfigured, EnvECSMetadata)
	}
	return NewECSRAMRole(ECSRAMRoleOptions{
		RoleName:         role,
		DisableIMDSv1:    env.disableIMDSv1,
		MetadataEndpoint: env.metadataEndpoint,
		HTTPClient:       env.httpClient,
	})
}

// Retrieve asks the chosen link.
func (ch *defaultChain) Retrieve(ctx context.Context) (Credentials, error) {
	if ch.chosen == nil {
		return Credentials{}, fmt.Errorf("%s: %w: %s", SourceDefault, ErrNotConfigured, ch.skippedText())
	}
	if ch.chosen.err != nil {
		return Credentials{}, fmt.Errorf("%s: %s: %w%s", SourceDefault, ch.chosen.name, trimName(ch.chosen.err, ch.chosen.name), ch.skippedSuffix())
	}
	c, err := ch.chosen.provider.Retrieve(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", SourceDefault, err)
	}
	return withSource(c, SourceDefault), nil
}

// String names the link the chain uses.
func (ch *defaultChain) String() string {
	if ch.chosen == nil {
		return "default chain (nothing configured)"
	}
	return "default chain using " + ch.chosen.name
}

func (ch *defaultChain) skippedText() string {
	parts := make([]string, len(ch.skipped))
	for i, l := range ch.skipped {
		parts[i] = l.name + ": " + l.skipped
	}
	return strings.Join(parts, "; ")
}

func (ch *defaultChain) skippedSuffix() string {
	if len(ch.skipped) == 0 {
		return ""
	}
	return " (skipped before it: " + ch.skippedText() + ")"
}

// trimName drops a leading "<name>: " that the link's own error carries,
// keeping the error chain for errors.Is/As.
func trimName(err error, name string) error {
	if !strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return &trimmedError{err: err, text: strings.TrimPrefix(err.Error(), name+": ")}
}

type trimmedError struct {
	err  error
	text string
}

func (e *trimmedError) Error() string { return e.text }
func (e *trimmedError) Unwrap() error { return e.err }
