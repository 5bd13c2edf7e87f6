package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/sdk/logical"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/credentials"
)

// engineClient is the engine's aliyun client for one stored config: one
// signer, one HTTP transport, and the engine's identity behind one
// credentials.Cache, so that issuing credentials costs no metadata or STS
// call for the engine's own identity until its session nears expiry.
type engineClient struct {
	api   *aliyun.Client
	cache *credentials.Cache
	cfg   configEntry

	// sign is this client's own identity; successor, once set, is the
	// client that replaced it in a root rotation. Requests still running on
	// this client then sign with the successor's key (on their next attempt,
	// or on the one resend after Alibaba refuses the deleted old key), so
	// the old key's deletion does not fail them.
	sign      aliyun.CredentialsFunc
	successor atomic.Pointer[engineClient]
}

// credentials is the identity a request on c signs with now.
func (c *engineClient) credentials(ctx context.Context) (aliyun.Credentials, error) {
	if next := c.successor.Load(); next != nil {
		return next.credentials(ctx)
	}
	return c.sign(ctx)
}

func (c *engineClient) close() {
	if c != nil && c.cache != nil {
		_ = c.cache.Close()
	}
}

// defaultEngineSessionName names the engine's own STS session when it assumes
// a role and the config names none.
const defaultEngineSessionName = "vault-alicloud-engine"

// newEngineClient builds the client for cfg. It makes no network call: the
// identity is resolved on first use.
//
// A config the operator settings do not allow (settings.go) is refused with
// an *inputError naming the field and the setting: at a config write, and
// for a config stored before the operator tightened the settings.
func (b *backend) newEngineClient(cfg *configEntry) (*engineClient, error) {
	if err := b.env.Settings.checkConfig(cfg, b.env.Getenv); err != nil {
		return nil, err
	}
	p, err := b.identityProvider(cfg)
	if err != nil {
		return nil, err
	}
	p = b.guardTokenFile(cfg, p)
	cache := credentials.NewCache(p, credentials.CacheOptions{Clock: b.env.Clock})
	// An identity Alibaba refuses before the cache expected (an STS session
	// revoked or rotated early, or a clock behind Alibaba's) is dropped and
	// fetched again, and the call is sent once more; an AccessKey that is
	// refused stays refused.
	rejected := func(c aliyun.Credentials) {
		if cache.Reject(c.AccessKeyID, c.SecurityToken) {
			b.Logger().Debug("Alibaba Cloud refused the engine's cached identity; fetching it again", "access_key_id", c.AccessKeyID)
		}
	}
	ec := &engineClient{cache: cache, cfg: *cfg, sign: credentials.SigningFunc(cache)}
	api, err := b.newAPIClient(cfg, ec.credentials, rejected)
	if err != nil {
		_ = cache.Close()
		return nil, err
	}
	ec.api = api
	return ec, nil
}

// newAPIClient builds an aliyun client with cfg's transport settings and the
// given signing credentials; rejected, when not nil, hears of credentials
// the service refused (aliyun.Options.CredentialsRejected).
func (b *backend) newAPIClient(cfg *configEntry, creds aliyun.CredentialsFunc, rejected func(aliyun.Credentials)) (*aliyun.Client, error) {
	endpoints := map[aliyun.Product]string{}
	if cfg.STSEndpoint != "" {
		endpoints[aliyun.STS] = cfg.STSEndpoint
	}
	if cfg.RAMEndpoint != "" {
		endpoints[aliyun.RAM] = cfg.RAMEndpoint
	}
	return aliyun.NewClient(aliyun.Options{
		Credentials:    creds,
		Region:         cfg.Region,
		UseVPCEndpoint: cfg.UseVPCEndpoint,
		Endpoints:      endpoints,
		HTTPClient:     b.env.HTTPClient,
		RequestTimeout: time.Duration(cfg.RequestTimeout) * time.Second,
		MaxRetries:     clientMaxRetries(cfg),
		RetryBaseDelay: b.env.RetryBaseDelay,
		UserAgent:      "vault-secrets-engine/" + Version,
		Clock:          b.env.Clock,
		Sleep:          b.env.Sleep,

		CredentialsRejected: rejected,
	})
}

// clientMaxRetries converts the config's max_retries (-1: default, 0: none,
// Vault's convention) to that of the aliyun and credentials packages (0:
// default, negative: none).
func clientMaxRetries(cfg *configEntry) int {
	switch n := cfg.maxRetries(); {
	case n < 0:
		return 0
	case n == 0:
		return -1
	default:
		return n
	}
}

// identityProvider maps the config's credential_type to a credentials
// provider. Only credential_type "default" gets the environment.
func (b *backend) identityProvider(cfg *configEntry) (credentials.Provider, error) {
	sessionName := cfg.RoleSessionName
	if sessionName == "" {
		sessionName = defaultEngineSessionName
	}
	duration := time.Duration(cfg.RoleSessionExpiration) * time.Second
	switch t := cfg.effectiveType(); t {
	case credTypeAccessKey:
		return credentials.NewAccessKey(credentials.AccessKeyOptions{AccessKeyID: cfg.AccessKey, AccessKeySecret: cfg.SecretKey})
	case credTypeSTS:
		return credentials.NewSTS(credentials.STSOptions{AccessKeyID: cfg.AccessKey, AccessKeySecret: cfg.SecretKey, SecurityToken: cfg.SecurityToken})
	case credTypeRAMRoleARN:
		var src credentials.Provider
		var err error
		if cfg.SecurityToken != "" {
			src, err = credentials.NewSTS(credentials.STSOptions{AccessKeyID: cfg.AccessKey, AccessKeySecret: cfg.SecretKey, SecurityToken: cfg.SecurityToken})
		} else {
			src, err = credentials.NewAccessKey(credentials.AccessKeyOptions{AccessKeyID: cfg.AccessKey, AccessKeySecret: cfg.SecretKey})
		}
		if err != nil {
			return nil, err
		}
		return credentials.NewRAMRoleARN(credentials.RAMRoleARNOptions{
			Source:          src,
			RoleARN:         cfg.RoleARN,
			RoleSessionName: sessionName,
			Policy:          cfg.Policy,
			ExternalID:      cfg.ExternalID,
			Duration:        duration,
			STSEndpoint:     cfg.STSEndpoint,
			STSRegion:       cfg.Region,
			UseVPCEndpoint:  cfg.UseVPCEndpoint,
			HTTPClient:      b.env.HTTPClient,
			MaxRetries:      clientMaxRetries(cfg),
			Clock:           b.env.Clock,
		})
	case credTypeECSRAMRole:
		return credentials.NewECSRAMRole(credentials.ECSRAMRoleOptions{
			RoleName:         cfg.RoleName,
			DisableIMDSv1:    cfg.DisableIMDSv1,
			MetadataEndpoint: cfg.MetadataEndpoint,
			HTTPClient:       b.env.HTTPClient,
		})
	case credTypeOIDCRoleARN:
		return credentials.NewOIDCRoleARN(credentials.OIDCRoleARNOptions{
			RoleARN:         cfg.RoleARN,
			OIDCProviderARN: cfg.OIDCProviderARN,
			OIDCTokenFile:   cfg.OIDCTokenFile,
			RoleSessionName: sessionName,
			Policy:          cfg.Policy,
			Duration:        duration,
			STSEndpoint:     cfg.STSEndpoint,
			STSRegion:       cfg.Region,
			UseVPCEndpoint:  cfg.UseVPCEndpoint,
			HTTPClient:      b.env.HTTPClient,
			MaxRetries:      clientMaxRetries(cfg),
			Clock:           b.env.Clock,
		})
	case credTypeCredentialsURI:
		return credentials.NewCredentialsURI(credentials.CredentialsURIOptions{URL: cfg.CredentialsURI, HTTPClient: b.env.HTTPClient})
	case credTypeLegacyChain:
		resolved, err := legacyChainConfig(cfg, b.env.Getenv)
		if err != nil {
			return nil, err
		}
		return b.identityProvider(resolved)
	case credTypeDefault:
		return credentials.NewDefaultChain(credentials.DefaultChainOptions{
			Getenv:           b.env.Getenv,
			HomeDir:          b.env.HomeDir,
			Profile:          cfg.Profile,
			HTTPClient:       b.env.HTTPClient,
			MetadataEndpoint: cfg.MetadataEndpoint,
			STSEndpoint:      cfg.STSEndpoint,
			Clock:            b.env.Clock,
		})
	default:
		return nil, fmt.Errorf("unknown credential_type %q", t)
	}
}

// guardTokenFile checks the OIDC token file against the token directories
// again before each identity refresh: a symlink replaced after the config
// was written must not lead the engine out of them.
func (b *backend) guardTokenFile(cfg *configEntry, p credentials.Provider) credentials.Provider {
	field, path := "", ""
	switch cfg.effectiveType() {
	case credTypeOIDCRoleARN:
		field, path = "oidc_token_file", cfg.OIDCTokenFile
	case credTypeDefault:
		field, path = credentials.EnvOIDCTokenFile, b.env.Getenv(credentials.EnvOIDCTokenFile)
	}
	if path == "" {
		return p
	}
	settings := b.env.Settings
	return &checkedProvider{Provider: p, check: func() error { return settings.checkTokenFile(field, path) }}
}

// checkedProvider runs check before each Retrieve of its provider.
type checkedProvider struct {
	credentials.Provider
	check func() error
}

// Retrieve checks, then asks the wrapped provider.
func (p *checkedProvider) Retrieve(ctx context.Context) (credentials.Credentials, error) {
	if err := p.check(); err != nil {
		return credentials.Credentials{}, err
	}
	return p.Provider.Retrieve(ctx)
}

// errNotConfigured is returned when an operation needs the engine's identity
// and no config is stored.
var errNotConfigured = errors.New(`the engine has no config: write alicloud/config first`)

// getClient returns the cached client, building it from the stored config
// on first use. The common case takes only a read lock.
func (b *backend) getClient(ctx context.Context, s logical.Storage) (*engineClient, error) {
	b.clientMu.RLock()
	c := b.client
	b.clientMu.RUnlock()
	if c != nil {
		return c, nil
	}

	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if b.client != nil {
		return b.client, nil
	}
	cfg, err := readConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errNotConfigured
	}
	c, err = b.newEngineClient(cfg)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("the stored config is refused by the plugin's operator settings (rewrite alicloud/config, or have an operator change the setting): %s", ie.msg)
		}
		return nil, fmt.Errorf("building the client from the stored config: %w", err)
	}
	b.client = c
	return c, nil
}

// setClient installs c as the cached client (after a config write that
// verified it), closing the one it replaces.
func (b *backend) setClient(c *engineClient) {
	b.clientMu.Lock()
	old := b.client
	b.client = c
	b.clientMu.Unlock()
	if old != nil && old != c {
		old.close()
	}
}

// clearClient drops the cached client; the next request rebuilds it from
// storage.
func (b *backend) clearClient() {
	b.setClient(nil)
}

// upstreamError is an Alibaba Cloud failure returned to Vault. When the
// service kept throttling through every retry it carries HTTP 502 and wraps
// logical.ErrUpstreamRateLimited; the status survives the plugin's gRPC
// boundary because the type implements logical.HTTPCodedError.
type upstreamError struct {
	code int
	msg  string
	errs []error
}

func (e *upstreamError) Error() string { return e.msg }

// Code implements logical.HTTPCodedError.
func (e *upstreamError) Code() int { return e.code }

// Unwrap lets errors.Is and errors.As see the aliyun error and, for
// throttling, logical.ErrUpstreamRateLimited.
func (e *upstreamError) Unwrap() []error { return e.errs }

// WrappedErrors implements errwrap.Wrapper, which Vault's response code
// mapping walks.
func (e *upstreamError) WrappedErrors() []error { return e.errs }

// upstreamErr wraps an error of an Alibaba Cloud call made while doing what.
// Throttling becomes a 502 with logical.ErrUpstreamRateLimited. An answer
// that says the request itself cannot succeed as asked (a parameter the
// service refuses, such as a ttl above the RAM role's maximum session
// duration, an entity that does not exist or already does, a limit, a
// conflict, or a permission the engine's identity lacks) becomes a 400: the
// operator has to change the request, the role or the cloud set-up, and
// retrying will not help. Every other failure of Alibaba Cloud or of the way
// to it (a 5xx, a lost answer, a timeout, the engine's own identity refused
// or unobtainable) is a 502: Vault itself did not fail. All keep Alibaba's
// Code and RequestId in their text. Path handlers answer these with their
// status (withUpstreamStatus); a plain error would reach Vault's clients as
// a 500.
func upstreamErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errSimulatedCrash) {
		return err
	}
	if aliyun.IsThrottling(err) {
		return &upstreamError{
			code: 502,
			msg:  fmt.Sprintf("%s: %s: %v", what, logical.ErrUpstreamRateLimited, err),
			errs: []error{logical.ErrUpstreamRateLimited, err},
		}
	}
	if isClientSideError(err) {
		return &upstreamError{code: 400, msg: fmt.Sprintf("%s: %v", what, err), errs: []error{err}}
	}
	return &upstreamError{code: 502, msg: fmt.Sprintf("%s: %v", what, err), errs: []error{err}}
}

// isClientSideError reports whether an Alibaba Cloud error is about the
// request rather than the service.
func isClientSideError(err error) bool {
	code := aliyun.ErrorCode(err)
	return strings.HasPrefix(code, "InvalidParameter") || strings.HasPrefix(code, "Missing") ||
		aliyun.IsEntityNotExist(err) || aliyun.IsConflict(err) || aliyun.IsLimitExceeded(err) || aliyun.IsAccessDenied(err)
}
