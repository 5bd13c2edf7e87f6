package credentials

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// OIDCRoleARNOptions configure NewOIDCRoleARN.
type OIDCRoleARNOptions struct {
	// RoleARN is the role to assume: acs:ram::<account>:role/<name>.
	RoleARN string
	// OIDCProviderARN is the RAM OIDC identity provider that trusts the
	// token's issuer: acs:ram::<account>:oidc-provider/<name>.
	OIDCProviderARN string
	// OIDCTokenFile holds the OIDC token (on ACK with RRSA, the projected
	// service account token). It is read again for every session, so a
	// rotated token is picked up.
	OIDCTokenFile string
	// RoleSessionName names the session; empty: generated per session.
	RoleSessionName string
	// Policy is an optional session policy (JSON, at most 2048 characters).
	Policy string
	// Duration of the session, 900s to 43200s; default 3600s.
	Duration time.Duration
	// STSEndpoint, STSRegion and UseVPCEndpoint choose the STS endpoint as
	// in RAMRoleARNOptions.
	STSEndpoint    string
	STSRegion      string
	UseVPCEndpoint bool
	// HTTPClient is used as is; nil means 5s connect and 10s request timeouts.
	HTTPClient *http.Client
	// MaxRetries of a throttled or failed call: 0 means the default (3), a
	// negative value disables retries.
	MaxRetries int
	// Clock is used for request timestamps and generated session names.
	Clock func() time.Time
}

// maxOIDCTokenFileSize bounds the token file read; STS accepts at most 20000
// characters.
const maxOIDCTokenFileSize = 64 << 10

type oidcRoleARN struct {
	client      *aliyun.Client
	roleARN     string
	providerARN string
	tokenFile   string
	session     string
	policy      string
	duration    time.Duration
	clock       func() time.Time
}

// NewOIDCRoleARN returns a provider that exchanges an OIDC token for a RAM
// role session with STS AssumeRoleWithOIDC (ACK RRSA and any other OIDC
// issuer registered in RAM). The call is not signed: the token is the proof.
func NewOIDCRoleARN(o OIDCRoleARNOptions) (Provider, error) {
	const name = SourceOIDCRoleARN
	var errs []error
	errs = append(errs,
		validateRoleARN(name, "role_arn", o.RoleARN),
		validateOIDCProviderARN(name, "oidc_provider_arn", o.OIDCProviderARN),
		validateSessionName(name, "role_session_name", o.RoleSessionName),
		validatePolicy(name, "policy", o.Policy),
		validateSTSEndpoint(name, o.STSEndpoint, o.STSRegion, o.UseVPCEndpoint),
	)
	if o.OIDCTokenFile == "" {
		errs = append(errs, fieldError(name, "oidc_token_file", "is required"))
	}
	d, err := sessionDuration(name, "duration", o.Duration)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &oidcRoleARN{
		roleARN:     o.RoleARN,
		providerARN: o.OIDCProviderARN,
		tokenFile:   o.OIDCTokenFile,
		session:     o.RoleSessionName,
		policy:      o.Policy,
		duration:    d,
		clock:       clockOrNow(o.Clock),
	}
	client, err := newSTSClient(name, nil, o.STSEndpoint, o.STSRegion, o.UseVPCEndpoint, o.HTTPClient, o.MaxRetries, p.clock)
	if err != nil {
		return nil, err
	}
	p.client = client
	return p, nil
}

// Retrieve reads the token file and assumes the role once.
func (p *oidcRoleARN) Retrieve(ctx context.Context) (Credentials, error) {
	token, err := readTokenFile(p.tokenFile)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", SourceOIDCRoleARN, err)
	}
	session := p.session
	if session == "" {
		session = defaultSessionName(p.clock())
	}
	out, err := p.client.AssumeRoleWithOIDC(ctx, aliyun.AssumeRoleWithOIDCInput{
		RoleArn:         p.roleARN,
		OIDCProviderArn: p.providerARN,
		OIDCToken:       token,
		RoleSessionName: session,
		DurationSeconds: int64(p.duration / time.Second),
		Policy:          p.policy,
	})
	if err != nil {
		// The aliyun client already scrubs the token from service messages;
		// scrub once more in case a transport error echoed the request.
		msg := strings.ReplaceAll(err.Error(), token, redacted)
		if msg != err.Error() {
			return Credentials{}, fmt.Errorf("%s: assuming %s: %s", SourceOIDCRoleARN, p.roleARN, msg)
		}
		return Credentials{}, fmt.Errorf("%s: assuming %s: %w", SourceOIDCRoleARN, p.roleARN, err)
	}
	return Credentials{
		AccessKeyID:     out.Credentials.AccessKeyID,
		AccessKeySecret: out.Credentials.AccessKeySecret,
		SecurityToken:   out.Credentials.SecurityToken,
		Expiration:      out.Credentials.Expiration,
		Source:          SourceOIDCRoleARN,
	}, nil
}

// String names the provider and its role.
func (p *oidcRoleARN) String() string { return SourceOIDCRoleARN + " provider (" + p.roleARN + ")" }

// readTokenFile reads an OIDC token. Errors name the file, never its content.
func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading oidc_token_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOIDCTokenFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading oidc_token_file %q: %w", path, err)
	}
	if len(b) > maxOIDCTokenFileSize {
		return "", fmt.Errorf("oidc_token_file %q is larger than %d bytes", path, maxOIDCTokenFileSize)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("oidc_token_file %q is empty", path)
	}
	return token, nil
}
