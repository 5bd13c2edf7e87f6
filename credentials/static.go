package credentials

import (
	"context"
	"errors"
	"time"
)

// AccessKeyOptions configure NewAccessKey.
type AccessKeyOptions struct {
	AccessKeyID     string
	AccessKeySecret string
}

// NewAccessKey returns a provider of a long-term AccessKey (a RAM user's or,
// discouraged, the account's). The credentials never expire.
func NewAccessKey(o AccessKeyOptions) (Provider, error) {
	if err := requireKeyPair(SourceAccessKey, o.AccessKeyID, o.AccessKeySecret); err != nil {
		return nil, err
	}
	c := Credentials{AccessKeyID: o.AccessKeyID, AccessKeySecret: o.AccessKeySecret, Source: SourceAccessKey}
	return staticProvider{c}, nil
}

// STSOptions configure NewSTS.
type STSOptions struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	// Expiration, when known, lets a Cache refuse the credentials once they
	// have expired instead of sending requests that will fail.
	Expiration time.Time
}

// NewSTS returns a provider of fixed STS credentials, obtained elsewhere.
// They cannot be renewed: once expired, a Cache around this provider returns
// an error.
func NewSTS(o STSOptions) (Provider, error) {
	if err := requireKeyPair(SourceSTS, o.AccessKeyID, o.AccessKeySecret); err != nil {
		return nil, err
	}
	if o.SecurityToken == "" {
		return nil, fieldError(SourceSTS, "security_token", "is required")
	}
	c := Credentials{
		AccessKeyID:     o.AccessKeyID,
		AccessKeySecret: o.AccessKeySecret,
		SecurityToken:   o.SecurityToken,
		Expiration:      o.Expiration,
		Source:          SourceSTS,
	}
	return staticProvider{c}, nil
}

// BearerOptions configure NewBearer.
type BearerOptions struct {
	BearerToken string
}

// NewBearer returns a provider of a bearer token, for the few products that
// accept one (Cloud Call Center). Its credentials carry no AccessKey, so
// SigningFunc refuses them.
func NewBearer(o BearerOptions) (Provider, error) {
	if o.BearerToken == "" {
		return nil, fieldError(SourceBearer, "bearer_token", "is required")
	}
	return staticProvider{Credentials{BearerToken: o.BearerToken, Source: SourceBearer}}, nil
}

func requireKeyPair(provider, id, secret string) error {
	var errs []error
	if id == "" {
		errs = append(errs, fieldError(provider, "access_key_id", "is required"))
	}
	if secret == "" {
		errs = append(errs, fieldError(provider, "access_key_secret", "is required"))
	}
	return errors.Join(errs...)
}

// staticProvider returns the same credentials every time.
type staticProvider struct{ c Credentials }

func (p staticProvider) Retrieve(context.Context) (Credentials, error) { return p.c, nil }

// String names the provider without its secrets.
func (p staticProvider) String() string {
	if p.c.AccessKeyID == "" {
		return p.c.Source + " provider"
	}
	return p.c.Source + " provider (" + p.c.AccessKeyID + ")"
}
