package alicloud

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// Operator settings come from the plugin process's environment, which only
// a writer of sys/plugins/catalog can set (`vault plugin register -env
// NAME=value`). A writer of config or of a role cannot change them, so they
// decide what the plugin may reach whatever those writers ask for.
const (
	// envWALRollbackMinAge overrides how old a WAL entry must be before the
	// rollback acts on it (a Go duration, at least 1s). Tests and the soak
	// shorten it so that a crash's leftovers are removed within a minute or
	// two; production keeps the default (walRollbackMinAge).
	envWALRollbackMinAge = "ALICLOUD_PLUGIN_WAL_ROLLBACK_MIN_AGE"

	// envAllowedEndpoints lists the URLs the engine may send requests to,
	// as comma-separated patterns scheme://host[:port]: host may start
	// with "*." (any subdomain) and port may be "*"; a pattern without a
	// port means the scheme's default port. "*" alone allows any URL.
	// Default: https://*.aliyuncs.com. The ECS metadata service
	// (http://100.100.100.200) is allowed whenever ambient identities are. It
	// applies to sts_endpoint, ram_endpoint, credentials_uri,
	// metadata_endpoint and the endpoints derived from region.
	envAllowedEndpoints = "ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS"
	// envTokenDirs lists, comma-separated, the directories whose files
	// oidc_token_file (and the default chain's
	// ALIBABA_CLOUD_OIDC_TOKEN_FILE) may name, symlinks resolved. Default:
	// ACK's RRSA token directory (defaultTokenDir).
	envTokenDirs = "ALICLOUD_PLUGIN_TOKEN_DIRS"
	// envAllowAmbientIdentity ("true" or "false", default false) allows the
	// identities the Vault server's surroundings provide rather than the
	// config: credential_type "default" (environment, profile files, ...)
	// and "ecs_ram_role" (the instance's RAM role).
	envAllowAmbientIdentity = "ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY"
)

// Defaults of the operator settings.
const (
	// defaultAllowedEndpoint is Alibaba Cloud's own endpoints over https.
	defaultAllowedEndpoint = "https://*.aliyuncs.com"
	// defaultTokenDir is where ACK mounts the RRSA OIDC token.
	defaultTokenDir = "/var/run/secrets/ack.alibabacloud.com/rrsa-tokens"
)

// pluginSettings are the operator settings of one plugin process.
type pluginSettings struct {
	// WALRollbackMinAge is how old a WAL entry must be before the rollback
	// acts on it.
	WALRollbackMinAge time.Duration
	// AllowedEndpoints are the URLs the engine may call (nil: the default,
	// see allowedEndpoints).
	AllowedEndpoints []endpointPattern
	// TokenDirs are the directories an OIDC token file may be in (nil:
	// defaultTokenDir).
	TokenDirs []string
	// AllowAmbientIdentity allows credential_type "default" and
	// "ecs_ram_role".
	AllowAmbientIdentity bool
}

// defaultPluginSettings are the settings of a plugin started with no
// operator setting.
func defaultPluginSettings() pluginSettings {
	return pluginSettings{WALRollbackMinAge: walRollbackMinAge}
}

// allowedEndpoints returns the endpoint patterns in force.
func (s *pluginSettings) allowedEndpoints() []endpointPattern {
	list := s.AllowedEndpoints
	if list == nil {
		list = []endpointPattern{mustEndpointPattern(defaultAllowedEndpoint)}
	}
	if s.AllowAmbientIdentity {
		// The instance's own identity lives there; a config that uses the
		// default metadata service redirects nothing.
		list = append(list[:len(list):len(list)], mustEndpointPattern(credentials.DefaultMetadataEndpoint))
	}
	return list
}

// tokenDirs returns the token directories in force.
func (s *pluginSettings) tokenDirs() []string {
	if s.TokenDirs != nil {
		return s.TokenDirs
	}
	return []string{defaultTokenDir}
}

// endpointPattern is one entry of ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS.
type endpointPattern struct {
	any    bool   // "*": every URL
	scheme string // http or https
	host   string // lower case; "*.example.com" matches its subdomains
	port   string // "*" or a number
	text   string // as the operator wrote it
}

// parseEndpointPattern reads scheme://host[:port].
func parseEndpointPattern(raw string) (endpointPattern, error) {
	raw = strings.TrimSpace(raw)
	if raw == "*" {
		return endpointPattern{any: true, text: raw}, nil
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return endpointPattern{}, fmt.Errorf("%q: must be http://host[:port] or https://host[:port], or * alone", raw)
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@") {
		return endpointPattern{}, fmt.Errorf("%q: must be scheme://host[:port], without a path, query or user", raw)
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
		if port != "*" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return endpointPattern{}, fmt.Errorf("%q: port must be a number from 1 to 65535 or *", raw)
			}
		}
	} else if strings.HasPrefix(rest, "[") {
		host = strings.TrimSuffix(strings.TrimPrefix(rest, "["), "]")
	}
	host = strings.ToLower(host)
	name := strings.TrimPrefix(host, "*.")
	if name == "" || strings.Contains(name, "*") || strings.ContainsAny(name, " :[]") && net.ParseIP(name) == nil {
		return endpointPattern{}, fmt.Errorf("%q: host must be a name, an IP address or *.<domain>", raw)
	}
	if port == "" {
		port = defaultPort(scheme)
	}
	return endpointPattern{scheme: scheme, host: host, port: port, text: raw}, nil
}

func mustEndpointPattern(raw string) endpointPattern {
	p, err := parseEndpointPattern(raw)
	if err != nil {
		panic(err)
	}
	return p
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// matches reports whether the parsed URL u is allowed by p.
func (p endpointPattern) matches(u *url.URL) bool {
	if p.any {
		return true
	}
	if u.Scheme != p.scheme {
		return false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if p.port != "*" && p.port != port {
		return false
	}
	if suffix, ok := strings.CutPrefix(p.host, "*"); ok {
		return strings.HasSuffix(host, suffix) && len(host) > len(suffix)
	}
	return host == p.host
}

// parseEndpointPatterns reads a comma-separated list of patterns.
func parseEndpointPatterns(raw string) ([]endpointPattern, error) {
	var out []endpointPattern
	for _, part := range strings.Split(raw, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		p, err := parseEndpointPattern(part)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no pattern given")
	}
	return out, nil
}

// patternsText lists the patterns as the operator wrote them.
func patternsText(list []endpointPattern) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.text
	}
	return strings.Join(parts, ",")
}

// loadPluginSettings reads the operator settings from getenv. A malformed
// value is an error naming the variable: the mount then fails to start
// rather than run with a setting the operator did not mean.
func loadPluginSettings(getenv func(string) string) (pluginSettings, error) {
	s := defaultPluginSettings()
	if raw := strings.TrimSpace(getenv(envWALRollbackMinAge)); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < time.Second {
			return s, fmt.Errorf("%s: must be a duration of at least 1s, such as 30s or 10m; got %q", envWALRollbackMinAge, raw)
		}
		s.WALRollbackMinAge = d
	}
	if raw := strings.TrimSpace(getenv(envAllowAmbientIdentity)); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return s, fmt.Errorf("%s: must be true or false; got %q", envAllowAmbientIdentity, raw)
		}
		s.AllowAmbientIdentity = v
	}
	if raw := strings.TrimSpace(getenv(envAllowedEndpoints)); raw != "" {
		list, err := parseEndpointPatterns(raw)
		if err != nil {
			return s, fmt.Errorf("%s: %v", envAllowedEndpoints, err)
		}
		s.AllowedEndpoints = list
	}
	if raw := strings.TrimSpace(getenv(envTokenDirs)); raw != "" {
		var dirs []string
		for _, d := range strings.Split(raw, ",") {
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			if !filepath.IsAbs(d) || filepath.Clean(d) != strings.TrimRight(d, "/") {
				return s, fmt.Errorf("%s: %q must be an absolute, clean directory path", envTokenDirs, d)
			}
			dirs = append(dirs, filepath.Clean(d))
		}
		if len(dirs) == 0 {
			return s, fmt.Errorf("%s: no directory given", envTokenDirs)
		}
		s.TokenDirs = dirs
	}
	return s, nil
}

// processSettings loads the settings of this process from its environment.
func processSettings() (pluginSettings, error) { return loadPluginSettings(os.Getenv) }

// ambientTypes are the credential types whose identity the Vault server's
// surroundings provide, not the config.
var ambientTypes = map[string]string{
	credTypeDefault:     "the default chain: the plugin's environment, profile files, the instance role",
	credTypeECSRAMRole:  "the ECS instance's RAM role",
	credTypeLegacyChain: "HashiCorp's plugin's chain: the plugin's environment variables, then the ECS instance role",
}

// checkConfig applies the operator settings to a config: the credential
// type, every URL the engine would send requests to, and the OIDC token
// file. The error is an *inputError naming the field, the rule and the
// setting that would allow it. getenv is the default chain's environment.
func (s *pluginSettings) checkConfig(cfg *configEntry, getenv func(string) string) error {
	t := cfg.effectiveType()
	if what, ok := ambientTypes[t]; ok && !s.AllowAmbientIdentity {
		return inputErrorf("credential_type: %q uses an ambient identity (%s), which this plugin does not allow; "+
			"an operator allows it by registering the plugin with the environment variable %s=true", t, what, envAllowAmbientIdentity)
	}
	for _, ep := range configEndpoints(cfg, getenv) {
		if err := s.checkEndpoint(ep.field, ep.url, ep.rpc); err != nil {
			return err
		}
	}
	switch t {
	case credTypeOIDCRoleARN:
		return s.checkTokenFile("oidc_token_file", cfg.OIDCTokenFile)
	case credTypeDefault:
		if f := getenv(credentials.EnvOIDCTokenFile); f != "" {
			return s.checkTokenFile(credentials.EnvOIDCTokenFile, f)
		}
	}
	return nil
}

// namedEndpoint is a URL the engine may call and the field that chose it;
// rpc marks Alibaba Cloud OpenAPI endpoints (STS, RAM).
type namedEndpoint struct {
	field, url string
	rpc        bool
}

// configEndpoints lists the URLs a client built from cfg may call, each
// with the field that chose it.
func configEndpoints(cfg *configEntry, getenv func(string) string) []namedEndpoint {
	var out []namedEndpoint
	derived := func(field, explicit string, p aliyun.Product) {
		if explicit != "" {
			out = append(out, namedEndpoint{field, explicit, true})
			return
		}
		out = append(out, namedEndpoint{field + " (derived from region)", aliyun.DefaultEndpoint(p, cfg.Region, cfg.UseVPCEndpoint), true})
	}
	derived("sts_endpoint", cfg.STSEndpoint, aliyun.STS)
	derived("ram_endpoint", cfg.RAMEndpoint, aliyun.RAM)
	switch cfg.effectiveType() {
	case credTypeCredentialsURI:
		out = append(out, namedEndpoint{"credentials_uri", cfg.CredentialsURI, false})
	case credTypeECSRAMRole, credTypeDefault, credTypeLegacyChain:
		if cfg.MetadataEndpoint != "" {
			out = append(out, namedEndpoint{"metadata_endpoint", cfg.MetadataEndpoint, false})
		} else {
			out = append(out, namedEndpoint{"metadata_endpoint (default)", credentials.DefaultMetadataEndpoint, false})
		}
		if cfg.effectiveType() == credTypeDefault {
			if u := getenv(credentials.EnvCredentialsURI); u != "" {
				out = append(out, namedEndpoint{credentials.EnvCredentialsURI, u, false})
			}
		}
	}
	return out
}

// checkEndpoint refuses a URL no allowed pattern matches. The message shows
// only the URL's scheme, host and port: its path or query may hold a token.
//
// An RPC endpoint with a path is allowed only by a pattern that names its
// host: Alibaba's OpenAPI endpoints answer at /, and a path is how a
// customer's own function under the same domain (a Function Compute HTTP
// trigger under *.fc.aliyuncs.com) would be reached.
func (s *pluginSettings) checkEndpoint(field, raw string, rpc bool) error {
	v := raw
	if !strings.Contains(v, "://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return inputErrorf("%s: must be a valid http:// or https:// URL", field)
	}
	allowed := s.allowedEndpoints()
	pathRefused := false
	for _, p := range allowed {
		if !p.matches(u) {
			continue
		}
		if rpc && strings.HasPrefix(p.host, "*.") && u.Path != "" && u.Path != "/" {
			pathRefused = true
			continue
		}
		return nil
	}
	if pathRefused {
		return inputErrorf("%s: %s://%s/...: a path is allowed only on an endpoint whose host %s names (not through a *. pattern): Alibaba Cloud's endpoints answer at /",
			field, u.Scheme, u.Host, envAllowedEndpoints)
	}
	return inputErrorf("%s: %s://%s is not an allowed endpoint (%s allows %s); an operator allows more by registering the plugin with the environment variable %s=<patterns>",
		field, u.Scheme, u.Host, envAllowedEndpoints, patternsText(allowed), envAllowedEndpoints)
}

// checkTokenFile refuses an OIDC token file outside the token directories,
// symlinks resolved, so that a config writer cannot make the engine send
// any other file it can read (its environment, Vault's configuration, TLS
// keys) as a token. It runs at every config write, client build and token
// read.
func (s *pluginSettings) checkTokenFile(field, path string) error {
	if !filepath.IsAbs(path) {
		return inputErrorf("%s: must be an absolute path", field)
	}
	if filepath.Clean(path) != path {
		return inputErrorf("%s: must be a clean path (no .., . or repeated /)", field)
	}
	dirs := s.tokenDirs()
	var resolvedDirs []string
	for _, d := range dirs {
		if rd, err := filepath.EvalSymlinks(d); err == nil {
			resolvedDirs = append(resolvedDirs, rd)
		}
	}
	// The path itself first, without touching the file: a refusal then
	// tells nothing about files outside the directories.
	if inDirs(path, dirs) || inDirs(path, resolvedDirs) {
		resolved, err := filepath.EvalSymlinks(path)
		if err != nil {
			if os.IsNotExist(err) {
				return inputErrorf("%s: %s does not exist", field, path)
			}
			return inputErrorf("%s: %s cannot be resolved", field, path)
		}
		if inDirs(resolved, resolvedDirs) {
			return nil
		}
	}
	return inputErrorf("%s: %s is not in a directory this plugin may read tokens from (%s allows %s, symlinks resolved); "+
		"an operator allows more by registering the plugin with the environment variable %s=<directories>",
		field, path, envTokenDirs, strings.Join(dirs, ","), envTokenDirs)
}

// inDirs reports whether path lies below one of dirs (all clean and absolute).
func inDirs(path string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, path); err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
