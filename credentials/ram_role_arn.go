package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// RAMRoleARNOptions configure NewRAMRoleARN.
type RAMRoleARNOptions struct {
	// Source signs the AssumeRole call: any provider, so roles chain
	// (an AccessKey, an ECS role, another role, ...). It is called before each
	// attempt; wrap a session provider in a Cache.
	Source Provider
	// RoleARN is the role to assume: acs:ram::<account>:role/<name>.
	RoleARN string
	// RoleSessionName names the session (2 to 64 letters, digits, . @ - _).
	// Empty: a name is generated for each session.
	RoleSessionName string
	// Policy is an optional session policy (JSON, at most 2048 characters)
	// that narrows the role's permissions.
	Policy string
	// ExternalID is the external id the role's trust policy may require.
	ExternalID string
	// Duration of the session, 900s to 43200s (and at most the role's
	// maximum session duration); default 3600s.
	Duration time.Duration
	// STSEndpoint is an explicit STS URL (a bare host means https). It takes
	// precedence over STSRegion and UseVPCEndpoint.
	STSEndpoint string
	// STSRegion selects the regional endpoint sts.<region>.aliyuncs.com;
	// empty means the central sts.aliyuncs.com.
	STSRegion string
	// UseVPCEndpoint selects sts-vpc.<region>.aliyuncs.com; needs STSRegion.
	UseVPCEndpoint bool
	// HTTPClient is used as is; nil means a client with 5s connect and 10s
	// request timeouts.
	HTTPClient *http.Client
	// MaxRetries of a throttled or failed call: 0 means the default (3), a
	// negative value disables retries.
	MaxRetries int
	// Clock is used for request timestamps and generated session names
	// (default time.Now).
	Clock func() time.Time
}

type ramRoleARN struct {
	client   *aliyun.Client
	roleARN  string
	session  string
	policy   string
	external string
	duration time.Duration
	clock    func() time.Time
}

// NewRAMRoleARN returns a provider that assumes a RAM role with STS
// AssumeRole, signed with the credentials of o.Source. Its credentials'
// Source is "ram_role_arn/<source's Source>".
func NewRAMRoleARN(o RAMRoleARNOptions) (Provider, error) {
	const name = SourceRAMRoleARN
	var errs []error
	if o.Source == nil {
		errs = append(errs, fieldError(name, "source", "is required (the credentials that call AssumeRole)"))
	}
	errs = append(errs,
		validateRoleARN(name, "role_arn", o.RoleARN),
		validateSessionName(name, "role_session_name", o.RoleSessionName),
		validatePolicy(name, "policy", o.Policy),
		validateExternalID(name, "external_id", o.ExternalID),
		validateSTSEndpoint(name, o.STSEndpoint, o.STSRegion, o.UseVPCEndpoint),
	)
	d, err := sessionDuration(name, "duration", o.Duration)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p := &ramRoleARN{
		roleARN:  o.RoleARN,
		session:  o.RoleSessionName,
		policy:   o.Policy,
		external: o.ExternalID,
		duration: d,
		clock:    clockOrNow(o.Clock),
	}
	src := o.Source
	signer := aliyun.CredentialsFunc(func(ctx context.Context) (aliyun.Credentials, error) {
		c, err := src.Retrieve(ctx)
		if err != nil {
			return aliyun.Credentials{}, fmt.Errorf("source credentials: %w", err)
		}
		if !c.HasKeys() {
			return aliyun.Credentials{}, fmt.Errorf("source credentials from %s have no AccessKey pair", sourceName(c))
		}
		if rec, ok := ctx.Value(sourceRecorderKey{}).(*string); ok {
			*rec = c.Source
		}
		return aliyun.Credentials{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}, nil
	})
	client, err := newSTSClient(name, signer, o.STSEndpoint, o.STSRegion, o.UseVPCEndpoint, o.HTTPClient, o.MaxRetries, p.clock)
	if err != nil {
		return nil, err
	}
	p.client = client
	return p, nil
}

// sourceRecorderKey carries, in the context of one Retrieve, where the
// signing closure records the Source of the credentials it signed with.
type sourceRecorderKey struct{}

func sourceName(c Credentials) string {
	if c.Source == "" {
		return "the source provider"
	}
	return c.Source
}

// Retrieve assumes the role once.
func (p *ramRoleARN) Retrieve(ctx context.Context) (Credentials, error) {
	session := p.session
	if session == "" {
		session = defaultSessionName(p.clock())
	}
	var src string
	ctx = context.WithValue(ctx, sourceRecorderKey{}, &src)
	out, err := p.client.AssumeRole(ctx, aliyun.AssumeRoleInput{
		RoleArn:         p.roleARN,
		RoleSessionName: session,
		DurationSeconds: int64(p.duration / time.Second),
		Policy:          p.policy,
		ExternalID:      p.external,
	})
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: assuming %s: %w", SourceRAMRoleARN, p.roleARN, err)
	}
	c := Credentials{
		AccessKeyID:     out.Credentials.AccessKeyID,
		AccessKeySecret: out.Credentials.AccessKeySecret,
		SecurityToken:   out.Credentials.SecurityToken,
		Expiration:      out.Credentials.Expiration,
		Source:          src,
	}
	return withSource(c, SourceRAMRoleARN), nil
}

// String names the provider and its role.
func (p *ramRoleARN) String() string { return SourceRAMRoleARN + " provider (" + p.roleARN + ")" }

// newSTSClient builds the one aliyun client a provider uses for all its calls.
func newSTSClient(provider string, creds aliyun.CredentialsFunc, endpoint, region string, vpc bool,
	hc *http.Client, maxRetries int, clock func() time.Time) (*aliyun.Client, error) {
	opts := aliyun.Options{
		Credentials:    creds,
		Region:         region,
		UseVPCEndpoint: vpc && endpoint == "",
		HTTPClient:     hc,
		MaxRetries:     maxRetries,
		Clock:          clock,
		UserAgent:      "credentials/" + provider,
	}
	if endpoint != "" {
		opts.Endpoints = map[aliyun.Product]string{aliyun.STS: endpoint}
	}
	c, err := aliyun.NewClient(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", provider, err)
	}
	return c, nil
}

func clockOrNow(c func() time.Time) func() time.Time {
	if c == nil {
		return time.Now
	}
	return c
}
