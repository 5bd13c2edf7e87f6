package credentials

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Environment variables read by the profile providers and the default chain.
const (
	EnvAccessKeyID         = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret     = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken       = "ALIBABA_CLOUD_SECURITY_TOKEN"
	EnvRoleARN             = "ALIBABA_CLOUD_ROLE_ARN"
	EnvRoleSessionName     = "ALIBABA_CLOUD_ROLE_SESSION_NAME"
	EnvOIDCProviderARN     = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	EnvOIDCTokenFile       = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
	EnvSTSRegion           = "ALIBABA_CLOUD_STS_REGION"
	EnvVPCEndpointEnabled  = "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED"
	EnvCredentialsFile     = "ALIBABA_CLOUD_CREDENTIALS_FILE"
	EnvProfile             = "ALIBABA_CLOUD_PROFILE"
	EnvConfigFile          = "ALIBABA_CLOUD_CONFIG_FILE"
	EnvCLIProfileDisabled  = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED"
	EnvECSMetadata         = "ALIBABA_CLOUD_ECS_METADATA"
	EnvECSMetadataDisabled = "ALIBABA_CLOUD_ECS_METADATA_DISABLED"
	EnvIMDSv1Disabled      = "ALIBABA_CLOUD_IMDSV1_DISABLED"
	EnvCredentialsURI      = "ALIBABA_CLOUD_CREDENTIALS_URI"
)

const (
	defaultINIProfile        = "default"
	maxProfileFileSize int64 = 1 << 20
)

// ProfileOptions configure NewProfile and NewCLIProfile.
type ProfileOptions struct {
	// File is the path of the file. Empty: for NewProfile,
	// ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials.ini,
	// else ~/.alibabacloud/credentials; for NewCLIProfile,
	// ALIBABA_CLOUD_CONFIG_FILE, else ~/.aliyun/config.json.
	File string
	// Profile is the profile to use. Empty: ALIBABA_CLOUD_PROFILE, else
	// "default" (ini) or the config's "current" profile (CLI).
	Profile string
	// Getenv reads environment variables (default os.Getenv).
	Getenv func(string) string
	// HomeDir is the home directory (default $HOME, or %USERPROFILE%).
	HomeDir string
	// HTTPClient is used for the calls of the profile's provider (STS,
	// credentials URI, metadata); nil: each provider's default.
	HTTPClient *http.Client
	// MetadataEndpoint is passed to ecs_ram_role profiles.
	MetadataEndpoint string
	// STSEndpoint, when set, replaces the STS endpoint of every profile that
	// calls STS (a private endpoint, or an emulator in tests).
	STSEndpoint string
	// Clock is passed to the providers built from the profile.
	Clock func() time.Time
}

// profileSpec is one resolved profile, from either file format.
type profileSpec struct {
	kind                           string // a Source* provider name
	accessKeyID, accessKeySecret   string
	securityToken                  string
	roleARN, sessionName, policy   string
	externalID                     string
	duration                       time.Duration
	roleName                       string
	disableIMDSv1                  bool
	oidcProviderARN, oidcTokenFile string
	credentialsURI                 string
	bearerToken                    string
	processCommand                 string
	stsRegion, stsEndpoint         string
	useVPC                         bool
	// source signs AssumeRole for ram_role_arn; nil means the key pair above.
	source *profileSpec
}

// buildEnv is what providers built from a profile share.
type buildEnv struct {
	httpClient       *http.Client
	metadataEndpoint string
	stsEndpoint      string
	clock            func() time.Time
	disableIMDSv1    bool
}

// build turns a spec into a provider. Constructors validate the values.
func (s *profileSpec) build(env buildEnv) (Provider, error) {
	stsEndpoint := s.stsEndpoint
	if env.stsEndpoint != "" {
		stsEndpoint = env.stsEndpoint
	}
	switch s.kind {
	case SourceAccessKey:
		return NewAccessKey(AccessKeyOptions{AccessKeyID: s.accessKeyID, AccessKeySecret: s.accessKeySecret})
	case SourceSTS:
		return NewSTS(STSOptions{AccessKeyID: s.accessKeyID, AccessKeySecret: s.accessKeySecret, SecurityToken: s.securityToken})
	case SourceRAMRoleARN:
		var src Provider
		var err error
		if s.source != nil {
			src, err = s.source.build(env)
			if err != nil {
				return nil, err
			}
			if s.source.kind != SourceAccessKey && s.source.kind != SourceSTS {
				// A session source is asked before every AssumeRole attempt.
				src = NewCache(src, CacheOptions{Clock: env.clock})
			}
		} else if s.securityToken != "" {
			src, err = NewSTS(STSOptions{AccessKeyID: s.accessKeyID, AccessKeySecret: s.accessKeySecret, SecurityToken: s.securityToken})
		} else {
			src, err = NewAccessKey(AccessKeyOptions{AccessKeyID: s.accessKeyID, AccessKeySecret: s.accessKeySecret})
		}
		if err != nil {
			return nil, fmt.Errorf("%s: source credentials: %w", SourceRAMRoleARN, err)
		}
		return NewRAMRoleARN(RAMRoleARNOptions{
			Source:          src,
			RoleARN:         s.roleARN,
			RoleSessionName: s.sessionName,
			Policy:          s.policy,
			ExternalID:      s.externalID,
			Duration:        s.duration,
			STSEndpoint:     stsEndpoint,
			STSRegion:       s.stsRegion,
			UseVPCEndpoint:  s.useVPC,
			HTTPClient:      env.httpClient,
			Clock:           env.clock,
		})
	case SourceECSRAMRole:
		return NewECSRAMRole(ECSRAMRoleOptions{
			RoleName:         s.roleName,
			DisableIMDSv1:    s.disableIMDSv1 || env.disableIMDSv1,
			MetadataEndpoint: env.metadataEndpoint,
			HTTPClient:       env.httpClient,
		})
	case SourceOIDCRoleARN:
		return NewOIDCRoleARN(OIDCRoleARNOptions{
			RoleARN:         s.roleARN,
			OIDCProviderARN: s.oidcProviderARN,
			OIDCTokenFile:   s.oidcTokenFile,
			RoleSessionName: s.sessionName,
			Policy:          s.policy,
			Duration:        s.duration,
			STSEndpoint:     stsEndpoint,
			STSRegion:       s.stsRegion,
			UseVPCEndpoint:  s.useVPC,
			HTTPClient:      env.httpClient,
			Clock:           env.clock,
		})
	case SourceCredentialsURI:
		return NewCredentialsURI(CredentialsURIOptions{URL: s.credentialsURI, HTTPClient: env.httpClient})
	case SourceBearer:
		return NewBearer(BearerOptions{BearerToken: s.bearerToken})
	case SourceExternal:
		return NewExternal(ExternalOptions{ProcessCommand: s.processCommand})
	}
	return nil, fmt.Errorf("unsupported credential type %q", s.kind)
}

// Sentinel causes that make a profile "not configured" rather than broken.
var (
	errProfileMissing  = errors.New("profile not found")
	errProfileDisabled = errors.New("profile disabled")
)

// iniTypes are the values of the ini "type" key.
var iniTypes = []string{SourceAccessKey, SourceSTS, SourceRAMRoleARN, SourceECSRAMRole, SourceOIDCRoleARN, SourceCredentialsURI, SourceBearer}

// parseINI reads one profile of an ini credentials file. It returns
// errProfileMissing or errProfileDisabled (wrapped) when the profile is
// absent or has enable = false. Errors never quote a value from the file
// other than the type, a boolean or a number.
func parseINI(data []byte, profile string) (*profileSpec, error) {
	f, err := ini.LoadSources(ini.LoadOptions{
		// '#' and ';' start a comment only after a space, so values that
		// contain them (policies) survive.
		SpaceBeforeInlineComment: true,
		SkipUnrecognizableLines:  false,
		// ini.v1 makes [a.b] a child of [a] that inherits a's keys; a
		// profile named prod.readonly must not pick up prod's keys. Section
		// names never contain a newline, so no section has a parent.
		ChildSectionDelimiter: "\n",
	}, data)
	if err != nil {
		return nil, iniSyntaxError(err)
	}
	sec, err := f.GetSection(profile)
	if err != nil {
		return nil, fmt.Errorf("%w: no section [%s]", errProfileMissing, profile)
	}
	get := func(k string) string { return strings.TrimSpace(sec.Key(k).String()) }
	if sec.HasKey("enable") {
		on, err := parseBool(get("enable"))
		if err != nil {
			return nil, fmt.Errorf("[%s] enable: %w", profile, err)
		}
		if !on {
			return nil, fmt.Errorf("%w: [%s] has enable = false", errProfileDisabled, profile)
		}
	}
	s := &profileSpec{
		kind:            get("type"),
		accessKeyID:     get("access_key_id"),
		accessKeySecret: get("access_key_secret"),
		securityToken:   get("security_token"),
		roleARN:         get("role_arn"),
		sessionName:     get("role_session_name"),
		policy:          get("policy"),
		externalID:      get("external_id"),
		roleName:        get("role_name"),
		oidcProviderARN: get("oidc_provider_arn"),
		oidcTokenFile:   get("oidc_token_file_path"),
		credentialsURI:  get("credentials_uri"),
		bearerToken:     get("bearer_token"),
		stsRegion:       get("sts_region"),
		stsEndpoint:     get("sts_endpoint"),
	}
	if s.kind == "" {
		return nil, fmt.Errorf("[%s] type is required (one of %s)", profile, strings.Join(iniTypes, ", "))
	}
	if !contains(iniTypes, s.kind) {
		return nil, fmt.Errorf("[%s] type %q is not supported (one of %s)", profile, truncate(s.kind, 64), strings.Join(iniTypes, ", "))
	}
	if v := get("role_session_expiration"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > int64(MaxSessionDuration/time.Second) {
			return nil, fmt.Errorf("[%s] role_session_expiration must be a number of seconds from 900 to 43200", profile)
		}
		s.duration = time.Duration(n) * time.Second
	}
	for _, k := range []string{"enable_vpc", "disable_imdsv1"} {
		if v := get(k); v != "" {
			b, err := parseBool(v)
			if err != nil {
				return nil, fmt.Errorf("[%s] %s: %w", profile, k, err)
			}
			if k == "enable_vpc" {
				s.useVPC = b
			} else {
				s.disableIMDSv1 = b
			}
		}
	}
	if err := s.checkRequired("["+profile+"]", "type "+s.kind, iniKeyNames); err != nil {
		return nil, err
	}
	return s, nil
}

// iniKeyNames and cliKeyNames name each spec field in its file format, for
// errors.
var iniKeyNames = map[string]string{
	"id": "access_key_id", "secret": "access_key_secret", "token": "security_token", "role_arn": "role_arn",
	"oidc_provider_arn": "oidc_provider_arn", "oidc_token_file": "oidc_token_file_path",
	"credentials_uri": "credentials_uri", "bearer_token": "bearer_token",
}

// checkRequired reports the keys a type needs that are missing, by their
// names in the file.
func (s *profileSpec) checkRequired(label, kind string, names map[string]string) error {
	var need []string
	req := func(v, key string) {
		if v == "" {
			need = append(need, names[key])
		}
	}
	switch s.kind {
	case SourceAccessKey:
		req(s.accessKeyID, "id")
		req(s.accessKeySecret, "secret")
	case SourceSTS:
		req(s.accessKeyID, "id")
		req(s.accessKeySecret, "secret")
		req(s.securityToken, "token")
	case SourceRAMRoleARN:
		if s.source == nil {
			req(s.accessKeyID, "id")
			req(s.accessKeySecret, "secret")
		}
		req(s.roleARN, "role_arn")
	case SourceOIDCRoleARN:
		req(s.roleARN, "role_arn")
		req(s.oidcProviderARN, "oidc_provider_arn")
		req(s.oidcTokenFile, "oidc_token_file")
	case SourceCredentialsURI:
		req(s.credentialsURI, "credentials_uri")
	case SourceBearer:
		req(s.bearerToken, "bearer_token")
	case SourceExternal:
		req(strings.TrimSpace(s.processCommand), "process_command")
	}
	if len(need) > 0 {
		return fmt.Errorf("%s: %s needs %s", label, kind, strings.Join(need, ", "))
	}
	return nil
}

// iniSyntaxError describes an ini parse error without the offending line,
// which could hold a secret.
func iniSyntaxError(err error) error {
	if ini.IsErrDelimiterNotFound(err) {
		return errors.New("invalid ini syntax: a line is neither a [section], a comment nor key = value")
	}
	return errors.New("invalid ini syntax")
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, errors.New("must be true or false")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// NewProfile returns the provider described by one profile of an ini
// credentials file (~/.alibabacloud/credentials.ini): a section per profile,
// a type key (access_key, sts, ram_role_arn, ecs_ram_role, oidc_role_arn,
// credentials_uri, bearer) and that type's keys. A section with
// enable = false is ignored. The file is read once, here; the error wraps
// ErrNotConfigured when the file, the profile or an enabled profile is
// missing. The credentials' Source is "profile/<type>...".
func NewProfile(o ProfileOptions) (Provider, error) {
	p, err := loadINIProfile(o)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// loadINIProfile finds, reads and builds the ini profile.
func loadINIProfile(o ProfileOptions) (Provider, error) {
	getenv := getenvOrOS(o.Getenv)
	path, explicit, err := iniPath(o.File, getenv, homeDir(o.HomeDir, getenv))
	if err != nil {
		return nil, err
	}
	data, err := readProfileFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w: no file %s", SourceProfile, ErrNotConfigured, path)
		}
		return nil, fmt.Errorf("%s: %w", SourceProfile, err)
	}
	profile := o.Profile
	if profile == "" {
		profile = getenv(EnvProfile)
	}
	if profile == "" {
		profile = defaultINIProfile
	}
	spec, err := parseINI(data, profile)
	if err != nil {
		if errors.Is(err, errProfileMissing) || errors.Is(err, errProfileDisabled) {
			return nil, fmt.Errorf("%s: %w: %s: %v", SourceProfile, ErrNotConfigured, path, err)
		}
		return nil, fmt.Errorf("%s: %s: %w", SourceProfile, path, err)
	}
	p, err := spec.build(buildEnv{
		httpClient:       o.HTTPClient,
		metadataEndpoint: o.MetadataEndpoint,
		stsEndpoint:      o.STSEndpoint,
		clock:            o.Clock,
		disableIMDSv1:    envTrue(getenv(EnvIMDSv1Disabled)),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %s [%s]: %w", SourceProfile, path, profile, err)
	}
	return named(SourceProfile, p), nil
}

// iniPath picks the ini file: the option, then the environment, then the
// first of ~/.alibabacloud/credentials.ini and ~/.alibabacloud/credentials
// that exists (the .ini name when neither does).
func iniPath(file string, getenv func(string) string, home string) (path string, explicit bool, err error) {
	if file != "" {
		return file, true, nil
	}
	if f := getenv(EnvCredentialsFile); f != "" {
		return f, true, nil
	}
	if home == "" {
		return "", false, fmt.Errorf("%s: %w: no home directory to find ~/.alibabacloud/credentials.ini in", SourceProfile, ErrNotConfigured)
	}
	dir := filepath.Join(home, ".alibabacloud")
	for _, name := range []string{"credentials.ini", "credentials"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, false, nil
		}
	}
	return filepath.Join(dir, "credentials.ini"), false, nil
}

// readProfileFile reads a small configuration file.
func readProfileFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	if st.Size() > maxProfileFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxProfileFileSize)
	}
	return os.ReadFile(path)
}

func getenvOrOS(f func(string) string) func(string) string {
	if f == nil {
		return os.Getenv
	}
	return f
}

func homeDir(h string, getenv func(string) string) string {
	if h != "" {
		return h
	}
	if h = getenv("HOME"); h != "" {
		return h
	}
	return getenv("USERPROFILE")
}

func envTrue(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

// namedProvider prefixes the Source of another provider's credentials and
// its errors with a name.
type namedProvider struct {
	name  string
	inner Provider
}

func named(name string, p Provider) Provider { return &namedProvider{name: name, inner: p} }

// Retrieve calls the inner provider.
func (n *namedProvider) Retrieve(ctx context.Context) (Credentials, error) {
	c, err := n.inner.Retrieve(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", n.name, err)
	}
	return withSource(c, n.name), nil
}

// String names the provider.
func (n *namedProvider) String() string { return fmt.Sprintf("%s: %v", n.name, n.inner) }
