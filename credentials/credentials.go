package credentials

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// Credentials are one set of Alibaba Cloud credentials. AccessKeyID and
// AccessKeySecret sign requests; SecurityToken is set when they are STS
// credentials; BearerToken is set instead of a key pair by the bearer provider.
//
// Printing a Credentials value with fmt (any verb), slog or String never shows
// the secret, the security token or the bearer token.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	BearerToken     string
	// Expiration is when the credentials stop working; the zero time means
	// they do not expire (a long-term AccessKey).
	Expiration time.Time
	// Source names the provider that produced the credentials. Providers that
	// wrap others prefix their own name, for example
	// "default/profile/ram_role_arn/access_key".
	Source string
}

// CanExpire reports whether the credentials have an expiration time.
func (c Credentials) CanExpire() bool { return !c.Expiration.IsZero() }

// Expired reports whether the credentials have expired at now. Credentials
// that cannot expire never have.
func (c Credentials) Expired(now time.Time) bool {
	return c.CanExpire() && !now.Before(c.Expiration)
}

// HasKeys reports whether the credentials carry an AccessKey pair, as
// signed API calls need.
func (c Credentials) HasKeys() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// String describes the credentials without any secret: the key id, which
// secrets are present, the expiration and the source.
func (c Credentials) String() string {
	var b strings.Builder
	b.WriteString("Credentials{")
	sep := ""
	field := func(k, v string) {
		b.WriteString(sep)
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		sep = ", "
	}
	if c.AccessKeyID != "" {
		field("AccessKeyID", c.AccessKeyID)
	}
	if c.AccessKeySecret != "" {
		field("AccessKeySecret", redacted)
	}
	if c.SecurityToken != "" {
		field("SecurityToken", redacted)
	}
	if c.BearerToken != "" {
		field("BearerToken", redacted)
	}
	if c.CanExpire() {
		field("Expiration", c.Expiration.UTC().Format(time.RFC3339))
	}
	if c.Source != "" {
		field("Source", c.Source)
	}
	b.WriteString("}")
	return b.String()
}

const redacted = "[redacted]"

// GoString is used by %#v; it is the same secret-free text as String.
func (c Credentials) GoString() string { return "credentials." + c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, ...) print the
// secret-free String form, so a stray debug print cannot leak a secret.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", c.String())
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(c.GoString()))
			return
		}
		_, _ = f.Write([]byte(c.String()))
	default:
		_, _ = f.Write([]byte(c.String()))
	}
}

// LogValue makes log/slog record the secret-free form.
func (c Credentials) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("access_key_id", c.AccessKeyID), slog.String("source", c.Source)}
	if c.CanExpire() {
		attrs = append(attrs, slog.Time("expiration", c.Expiration))
	}
	return slog.GroupValue(attrs...)
}

// Provider produces credentials. Implementations do not cache: wrap a
// provider in a Cache to reuse its credentials until they near expiry.
type Provider interface {
	// Retrieve returns credentials or an error that names the provider and
	// the cause, and never contains a secret.
	Retrieve(ctx context.Context) (Credentials, error)
}

// ProviderFunc adapts a function to the Provider interface.
type ProviderFunc func(ctx context.Context) (Credentials, error)

// Retrieve calls f.
func (f ProviderFunc) Retrieve(ctx context.Context) (Credentials, error) { return f(ctx) }

// SigningFunc adapts a provider to aliyun.Options.Credentials. The aliyun
// client calls it before each attempt, so p should be a Cache (or static):
// an uncached session provider would fetch new credentials for every request.
// Credentials without an AccessKey pair (a bearer token) are refused, as RPC
// signatures need the pair.
func SigningFunc(p Provider) aliyun.CredentialsFunc {
	return func(ctx context.Context) (aliyun.Credentials, error) {
		c, err := p.Retrieve(ctx)
		if err != nil {
			return aliyun.Credentials{}, err
		}
		if !c.HasKeys() {
			src := c.Source
			if src == "" {
				src = "provider"
			}
			return aliyun.Credentials{}, fmt.Errorf("credentials: %s returned no AccessKey pair to sign with", src)
		}
		return aliyun.Credentials{
			AccessKeyID:     c.AccessKeyID,
			AccessKeySecret: c.AccessKeySecret,
			SecurityToken:   c.SecurityToken,
		}, nil
	}
}

// ErrNotConfigured is wrapped by the errors of the profile providers and of
// the default chain when no credential source is configured at all, as
// opposed to a source that is configured but fails.
var ErrNotConfigured = errors.New("no credentials configured")

// Provider names, used as the Source of the credentials they produce.
const (
	SourceAccessKey      = "access_key"
	SourceSTS            = "sts"
	SourceRAMRoleARN     = "ram_role_arn"
	SourceECSRAMRole     = "ecs_ram_role"
	SourceOIDCRoleARN    = "oidc_role_arn"
	SourceCredentialsURI = "credentials_uri"
	SourceBearer         = "bearer"
	SourceExternal       = "external"
	SourceEnv            = "env"
	SourceProfile        = "profile"
	SourceCLIProfile     = "cli_profile"
	SourceDefault        = "default"
)

// withSource returns c with its Source prefixed by name.
func withSource(c Credentials, name string) Credentials {
	if c.Source == "" {
		c.Source = name
	} else {
		c.Source = name + "/" + c.Source
	}
	return c
}

// GoString methods make %#v print the same secret-free text as String: fmt
// cannot call the methods of unexported fields, so without them %#v would
// dump the secrets a provider holds.

// GoString implements fmt.GoStringer.
func (p staticProvider) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (p *ramRoleARN) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (p *oidcRoleARN) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (p *ecsRAMRole) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (p *credentialsURI) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (p *envProvider) GoString() string { return p.String() }

// GoString implements fmt.GoStringer.
func (n *namedProvider) GoString() string { return n.String() }

// GoString implements fmt.GoStringer.
func (ch *defaultChain) GoString() string { return ch.String() }

// GoString implements fmt.GoStringer.
func (c *Cache) GoString() string { return c.String() }
