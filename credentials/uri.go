package credentials

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// DefaultCredentialsURITimeout bounds one request to a credentials URI.
const DefaultCredentialsURITimeout = 5 * time.Second

// CredentialsURIOptions configure NewCredentialsURI.
type CredentialsURIOptions struct {
	// URL answers GET with the credentials document
	// {"Code":"Success","AccessKeyId":...,"AccessKeySecret":...,"SecurityToken":...,"Expiration":...}.
	// As in credentials-go, an answer is a failure by its HTTP status, not by
	// its Code, which is not checked.
	URL string
	// HTTPClient is used as is; nil means a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each request (default 5s).
	Timeout time.Duration
}

type credentialsURI struct {
	url     string
	host    string
	client  *http.Client
	timeout time.Duration
}

// NewCredentialsURI returns a provider that reads STS credentials from a
// URL, as a credential-vending sidecar serves them.
func NewCredentialsURI(o CredentialsURIOptions) (Provider, error) {
	const name = SourceCredentialsURI
	if o.URL == "" {
		return nil, fieldError(name, "url", "is required")
	}
	if err := validateHTTPURL(name, "url", o.URL, false); err != nil {
		return nil, err
	}
	u, _ := url.Parse(o.URL)
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultCredentialsURITimeout
	}
	if timeout < 0 {
		return nil, fieldError(name, "timeout", "must not be negative")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = aliyun.NewHTTPClient(timeout, timeout)
	}
	cp := *hc
	cp.CheckRedirect = sameOriginRedirects(u)
	hc = &cp
	return &credentialsURI{url: o.URL, host: u.Host, client: hc, timeout: timeout}, nil
}

// maxURIRedirects bounds the redirects followed from a credentials URI.
const maxURIRedirects = 5

// sameOriginRedirects lets a credentials URI redirect only within its own
// scheme, host and port: a redirect elsewhere (https to http included) is
// not followed, and its 3xx answer becomes the error.
func sameOriginRedirects(origin *url.URL) func(*http.Request, []*http.Request) error {
	want := originOf(origin)
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > maxURIRedirects || originOf(req.URL) != want {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// originOf is scheme://host:port with the scheme's default port made explicit.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// Retrieve fetches the credentials document once.
func (p *credentialsURI) Retrieve(ctx context.Context) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: building the request: %w", SourceCredentialsURI, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		// The URL itself may carry a token in its query; name only the host.
		return Credentials{}, fmt.Errorf("%s: request to %s failed: %w", SourceCredentialsURI, p.host, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: reading the answer from %s: %w", SourceCredentialsURI, p.host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Credentials{}, fmt.Errorf("%s: HTTP %d from %s: %s", SourceCredentialsURI, resp.StatusCode, p.host, excerpt(resp, body, ""))
	}
	c, err := parseSessionDocument(body, false)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: answer from %s: %w", SourceCredentialsURI, p.host, err)
	}
	c.Source = SourceCredentialsURI
	return c, nil
}

// String names the provider and the host it reads from.
func (p *credentialsURI) String() string { return SourceCredentialsURI + " provider (" + p.host + ")" }
