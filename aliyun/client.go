// Package aliyun is a small client for Alibaba Cloud's RPC-style OpenAPI
// (signature V2, HMAC-SHA1) with the STS and RAM operations the secrets engine
// needs. It has no dependency on Vault.
//
// One Client holds one http.Client with a reused transport, resolves the
// endpoint of each product once, takes a context on every call, and retries
// throttling, 5xx and network errors with capped exponential backoff and full
// jitter, signing each attempt anew with a fresh nonce and timestamp.
package aliyun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Version is the client's version, reported in the User-Agent. Builds stamp it
// with -ldflags "-X github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun.Version=...".
var Version = "dev"

// Defaults applied by NewClient when an option is left at its zero value.
const (
	DefaultMaxRetries     = 3
	DefaultConnectTimeout = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultRetryBaseDelay = 200 * time.Millisecond
	DefaultRetryMaxDelay  = 5 * time.Second
	// maxResponseBytes bounds what is read from one response.
	maxResponseBytes = 4 << 20
)

// TimeLayout is the UTC ISO-8601 layout Alibaba Cloud uses for timestamps.
const TimeLayout = "2006-01-02T15:04:05Z"

// Credentials sign a request. SecurityToken is set for STS credentials and is
// then sent and signed as the SecurityToken parameter.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// CredentialsFunc returns the credentials to sign the next request with. It is
// called once per attempt, so a cached provider behind it may refresh between
// retries.
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// StaticCredentials returns a CredentialsFunc that always returns c.
func StaticCredentials(c Credentials) CredentialsFunc {
	return func(context.Context) (Credentials, error) { return c, nil }
}

// Product names an Alibaba Cloud product the client can call.
type Product string

// Products the client knows the endpoints and API versions of.
const (
	STS Product = "sts"
	RAM Product = "ram"
	ECS Product = "ecs"
)

// API versions.
const (
	STSVersion = "2015-04-01"
	RAMVersion = "2015-05-01"
	ECSVersion = "2014-05-26"
)

// Options configure a Client.
type Options struct {
	// Credentials sign requests. It may be nil for a client that only makes
	// anonymous calls (AssumeRoleWithOIDC).
	Credentials CredentialsFunc

	// Region selects regional endpoints (sts.<region>.aliyuncs.com). Empty means
	// the central STS endpoint sts.aliyuncs.com.
	Region string
	// UseVPCEndpoint selects VPC endpoints (sts-vpc.<region>.aliyuncs.com);
	// it needs Region.
	UseVPCEndpoint bool
	// Endpoints overrides the endpoint of a product with an explicit URL, for
	// example {"sts": "http://127.0.0.1:8100"} for the emulator or a private
	// endpoint. A value without a scheme gets https://.
	Endpoints map[Product]string

	// HTTPClient, when set, is used as is (its timeouts and transport); the
	// connect and request timeouts below are then ignored.
	HTTPClient *http.Client
	// ConnectTimeout bounds dialing and the TLS handshake (default 5s).
	ConnectTimeout time.Duration
	// RequestTimeout bounds one attempt, from sending to reading the whole
	// answer (default 10s). The context bounds the call with its retries.
	RequestTimeout time.Duration

	// MaxRetries is the number of retries after the first attempt: 0 means
	// DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay shape the backoff: the n-th retry waits
	// a random time in [0, min(RetryMaxDelay, RetryBaseDelay*2^n)).
	RetryBaseDelay, RetryMaxDelay time.Duration

	// UserAgent is appended to the client's own User-Agent.
	UserAgent string
	// Clock returns the current time for request timestamps (default time.Now).
	Clock func() time.Time
	// Sleep waits between retries; tests replace it. It must return early with
	// ctx.Err() when ctx ends. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error

	// CredentialsRejected, when set, is told the credentials a request was
	// signed with when the service refused them (IsAuthFailure: an expired or
	// unknown security token, an unknown or disabled AccessKey, a signature
	// that does not match), so that a cache behind Credentials can drop them.
	// If Credentials then returns different credentials, the call is sent once
	// more with them; if it returns the same, the refusal is final. This
	// extra attempt does not count against MaxRetries.
	CredentialsRejected func(rejected Credentials)
}

// Client calls Alibaba Cloud RPC APIs. It is safe for concurrent use.
type Client struct {
	creds      CredentialsFunc
	http       *http.Client
	endpoints  map[Product]*url.URL
	maxRetries int
	base, max  time.Duration
	userAgent  string
	clock      func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
	rejected   func(Credentials)
}

// NewClient builds a Client. It fails when an endpoint cannot be parsed or
// when UseVPCEndpoint is set without Region.
func NewClient(o Options) (*Client, error) {
	if o.UseVPCEndpoint && o.Region == "" {
		return nil, errors.New("aliyun: use_vpc_endpoint needs a region")
	}
	c := &Client{
		creds:      o.Credentials,
		rejected:   o.CredentialsRejected,
		http:       o.HTTPClient,
		endpoints:  map[Product]*url.URL{},
		maxRetries: o.MaxRetries,
		base:       o.RetryBaseDelay,
		max:        o.RetryMaxDelay,
		clock:      o.Clock,
		sleep:      o.Sleep,
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.base <= 0 {
		c.base = DefaultRetryBaseDelay
	}
	if c.max <= 0 {
		c.max = DefaultRetryMaxDelay
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.sleep == nil {
		c.sleep = SleepContext
	}
	c.userAgent = fmt.Sprintf("vault-plugin-secrets-alicloud/%s (%s; %s) Go/%s", Version, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if o.UserAgent != "" {
		c.userAgent += " " + o.UserAgent
	}
	if c.http == nil {
		c.http = NewHTTPClient(o.ConnectTimeout, o.RequestTimeout)
	} else {
		c.http = WithoutRedirects(c.http)
	}
	for _, p := range []Product{STS, RAM, ECS} {
		raw := o.Endpoints[p]
		if raw == "" {
			raw = DefaultEndpoint(p, o.Region, o.UseVPCEndpoint)
		}
		u, err := parseEndpoint(raw)
		if err != nil {
			return nil, fmt.Errorf("aliyun: %s endpoint: %w", p, err)
		}
		c.endpoints[p] = u
	}
	return c, nil
}

// NewHTTPClient returns a new http.Client with the given timeouts (defaults
// when zero) on the process's shared transport for those timeouts (proxy
// from the environment, keep-alive, HTTP/2; see sharedTransport), so that
// many clients to the same endpoints keep one pool of connections.
func NewHTTPClient(connectTimeout, requestTimeout time.Duration) *http.Client {
	if connectTimeout <= 0 {
		connectTimeout = DefaultConnectTimeout
	}
	if requestTimeout <= 0 {
		requestTimeout = DefaultRequestTimeout
	}
	return &http.Client{Transport: sharedTransport(connectTimeout, requestTimeout), Timeout: requestTimeout, CheckRedirect: refuseRedirect}
}

// WithoutRedirects returns a copy of hc that never follows a redirect: the
// 3xx response itself is returned. Alibaba Cloud's RPC API never redirects,
// and following one would re-send a signed body (AccessKeyId, Signature,
// SecurityToken, an OIDC token) to whatever host the Location names. hc
// itself is left as it is.
func WithoutRedirects(hc *http.Client) *http.Client {
	cp := *hc
	cp.CheckRedirect = refuseRedirect
	return &cp
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// DefaultEndpoint returns the public endpoint URL of a product: STS is
// regional (sts.<region>.aliyuncs.com, sts-vpc.<region>.aliyuncs.com in a
// VPC, sts.aliyuncs.com without a region); RAM is global (ram.aliyuncs.com).
func DefaultEndpoint(p Product, region string, vpc bool) string {
	switch p {
	case STS:
		if host, ok := stsEndpointMap[region]; ok {
			return "https://" + host
		}
		switch {
		case region == "":
			return "https://sts.aliyuncs.com"
		case vpc:
			return "https://sts-vpc." + region + ".aliyuncs.com"
		default:
			return "https://sts." + region + ".aliyuncs.com"
		}
	case RAM:
		return "https://ram.aliyuncs.com"
	case ECS:
		if region == "" {
			return "https://ecs.aliyuncs.com"
		}
		if vpc {
			return "https://ecs-vpc." + region + ".aliyuncs.com"
		}
		return "https://ecs." + region + ".aliyuncs.com"
	}
	return "https://" + string(p) + ".aliyuncs.com"
}

// stsEndpointMap is Alibaba's endpoint data for STS: the regions whose
// endpoint is not sts[-vpc].<region>.aliyuncs.com, as the official SDKs
// resolve them (alibaba-cloud-sdk-go services/sts/endpoint.go v1.63.107, and
// the same map in the Tea SDKs' sts-20150401 clients, which use it whatever
// the network). Mostly finance, government and internal regions served by
// the central endpoint.
var stsEndpointMap = map[string]string{
	"ap-northeast-2-pop":          "sts.aliyuncs.com",
	"cn-beijing-finance-1":        "sts.aliyuncs.com",
	"cn-beijing-finance-pop":      "sts.aliyuncs.com",
	"cn-beijing-gov-1":            "sts.aliyuncs.com",
	"cn-beijing-nu16-b01":         "sts.aliyuncs.com",
	"cn-edge-1":                   "sts.aliyuncs.com",
	"cn-fujian":                   "sts.aliyuncs.com",
	"cn-haidian-cm12-c01":         "sts.aliyuncs.com",
	"cn-hangzhou-bj-b01":          "sts.aliyuncs.com",
	"cn-hangzhou-finance":         "sts.aliyuncs.com",
	"cn-hangzhou-internal-prod-1": "sts.aliyuncs.com",
	"cn-hangzhou-internal-test-1": "sts.aliyuncs.com",
	"cn-hangzhou-internal-test-2": "sts.aliyuncs.com",
	"cn-hangzhou-internal-test-3": "sts.aliyuncs.com",
	"cn-hangzhou-test-306":        "sts.aliyuncs.com",
	"cn-hongkong-finance-pop":     "sts.aliyuncs.com",
	"cn-huhehaote-nebula-1":       "sts.aliyuncs.com",
	"cn-north-2-gov-1":            "sts-vpc.cn-north-2-gov-1.aliyuncs.com",
	"cn-qingdao-nebula":           "sts.aliyuncs.com",
	"cn-shanghai-et15-b01":        "sts.aliyuncs.com",
	"cn-shanghai-et2-b01":         "sts.aliyuncs.com",
	"cn-shanghai-inner":           "sts.aliyuncs.com",
	"cn-shanghai-internal-test-1": "sts.aliyuncs.com",
	"cn-shenzhen-finance-1":       "sts-vpc.cn-shenzhen-finance-1.aliyuncs.com",
	"cn-shenzhen-inner":           "sts.aliyuncs.com",
	"cn-shenzhen-st4-d01":         "sts.aliyuncs.com",
	"cn-shenzhen-su18-b01":        "sts.aliyuncs.com",
	"cn-wuhan":                    "sts.aliyuncs.com",
	"cn-yushanfang":               "sts.aliyuncs.com",
	"cn-zhangbei":                 "sts.aliyuncs.com",
	"cn-zhangbei-na61-b01":        "sts.aliyuncs.com",
	"cn-zhangjiakou-na62-a01":     "sts.aliyuncs.com",
	"cn-zhengzhou-nebula-1":       "sts.aliyuncs.com",
	"eu-west-1-oxs":               "sts.aliyuncs.com",
	"rus-west-1-pop":              "sts.aliyuncs.com",
}

func parseEndpoint(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid URL %q: no query or fragment allowed", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// Endpoint returns the URL the client sends a product's requests to.
func (c *Client) Endpoint(p Product) string { return c.endpoints[p].String() }

// Request is one RPC call.
type Request struct {
	Product Product
	Version string
	Action  string
	Params  url.Values
	// Anonymous calls are not signed (AssumeRoleWithOIDC, AssumeRoleWithSAML).
	Anonymous bool
	// Creates marks a call that creates something and cannot be sent twice
	// safely (CreateUser, CreateAccessKey, CreatePolicy,
	// CreatePolicyVersion): after a failure that may have been carried out
	// (MayHaveApplied) it is not retried, because a second attempt would
	// create a second key, or fail with EntityAlreadyExists and hide that
	// the first attempt succeeded. The error goes back to the caller, who
	// must treat the entity as possibly created.
	Creates bool
}

// Do sends req, retrying as configured, and decodes the JSON answer into out
// (which may be nil). Errors are *Error for service answers, *NetworkError
// for transport failures, or the context's error.
func (c *Client) Do(ctx context.Context, req *Request, out any) error {
	ep, ok := c.endpoints[req.Product]
	if !ok {
		return fmt.Errorf("aliyun: unknown product %q", req.Product)
	}
	var lastErr error
	resent := false
	for attempt := 0; ; attempt++ {
		body, signedWith, err := c.attempt(ctx, ep, req)
		if err == nil {
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return fmt.Errorf("aliyun: %s %s: decoding response: %w", req.Product, req.Action, err)
			}
			return nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return lastErr
		}
		if !resent && c.rejected != nil && signedWith.AccessKeyID != "" && IsAuthFailure(err) {
			resent = true
			if c.renewedAfterRejection(ctx, signedWith) {
				attempt-- // this extra attempt is not a retry
				continue
			}
		}
		if attempt >= c.maxRetries || !IsRetryable(err) || (req.Creates && MayHaveApplied(err)) {
			return lastErr
		}
		delay := c.backoff(attempt)
		if dl, ok := ctx.Deadline(); ok && c.clock().Add(delay).After(dl) {
			return lastErr
		}
		if err := c.sleep(ctx, delay); err != nil {
			return lastErr
		}
	}
}

// renewedAfterRejection reports the rejected credentials and whether the
// credentials source now offers different ones.
func (c *Client) renewedAfterRejection(ctx context.Context, rejected Credentials) bool {
	c.rejected(rejected)
	fresh, err := c.creds(ctx)
	return err == nil && (fresh.AccessKeyID != rejected.AccessKeyID || fresh.SecurityToken != rejected.SecurityToken)
}

// backoff returns a random delay in [0, min(max, base*2^attempt)) ("full jitter").
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.max
	if attempt < 30 {
		if d := c.base << uint(attempt); d > 0 && d < ceil {
			ceil = d
		}
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(ceil)))
	if err != nil {
		return ceil / 2
	}
	return time.Duration(n.Int64())
}

// SleepContext waits for d, or returns ctx.Err() as soon as ctx ends. It is
// the default Options.Sleep.
func SleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newNonce returns 32 random lowercase hex characters.
func newNonce() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("aliyun: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// attempt signs and sends one request. All parameters travel in the form
// body, so that no security token ever appears in a URL (and so in a
// transport error's text).
func (c *Client) attempt(ctx context.Context, ep *url.URL, req *Request) (body []byte, signedWith Credentials, err error) {
	params := url.Values{}
	for k, v := range req.Params {
		if len(v) > 0 {
			params.Set(k, v[0])
		}
	}
	params.Set("Action", req.Action)
	params.Set("Version", req.Version)
	params.Set("Format", "JSON")
	params.Set("Timestamp", c.clock().UTC().Format(TimeLayout))
	params.Set("SignatureNonce", newNonce())
	var secrets []string
	if !req.Anonymous {
		if c.creds == nil {
			return nil, signedWith, fmt.Errorf("aliyun: %s %s: no credentials configured", req.Product, req.Action)
		}
		cr, err := c.creds(ctx)
		if err != nil {
			return nil, signedWith, fmt.Errorf("aliyun: %s %s: getting credentials: %w", req.Product, req.Action, err)
		}
		if cr.AccessKeyID == "" || cr.AccessKeySecret == "" {
			return nil, signedWith, fmt.Errorf("aliyun: %s %s: credentials have no access key id or secret", req.Product, req.Action)
		}
		params.Set("AccessKeyId", cr.AccessKeyID)
		params.Set("SignatureMethod", "HMAC-SHA1")
		params.Set("SignatureVersion", "1.0")
		if cr.SecurityToken != "" {
			params.Set("SecurityToken", cr.SecurityToken)
		}
		params.Set("Signature", SignParams(http.MethodPost, params, cr.AccessKeySecret))
		secrets = []string{cr.AccessKeySecret, cr.SecurityToken}
		signedWith = cr
	}
	if tok := req.Params.Get("OIDCToken"); tok != "" {
		secrets = append(secrets, tok)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.String(), strings.NewReader(params.Encode()))
	if err != nil {
		return nil, signedWith, fmt.Errorf("aliyun: %s %s: building request: %w", req.Product, req.Action, err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, signedWith, &NetworkError{Product: string(req.Product), Action: req.Action, Host: ep.Host, Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, signedWith, &NetworkError{Product: string(req.Product), Action: req.Action, Host: ep.Host, Err: unwrapURLError(err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, signedWith, nil
	}
	return nil, signedWith, decodeError(resp, body, req, ep.Host, secrets)
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// describeNonAPIBody says what came back without quoting it: the media type
// (parsed, so that no other header content passes) and the size.
func describeNonAPIBody(resp *http.Response, body []byte) string {
	ct := "none"
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && len(mt) <= 64 {
		ct = mt
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return fmt.Sprintf("redirect refused, Alibaba Cloud APIs do not redirect (content-type %s, %d bytes)", ct, len(body))
	}
	return fmt.Sprintf("response is not an Alibaba Cloud API error (content-type %s, %d bytes)", ct, len(body))
}

func decodeError(resp *http.Response, body []byte, req *Request, host string, secrets []string) *Error {
	var eb struct {
		RequestID string `json:"RequestId"`
		HostID    string `json:"HostId"`
		Code      string `json:"Code"`
		Message   string `json:"Message"`
		Recommend string `json:"Recommend"`
	}
	e := &Error{StatusCode: resp.StatusCode, Product: string(req.Product), Action: req.Action, HostID: host}
	if err := json.Unmarshal(body, &eb); err == nil && eb.Code != "" {
		e.Code, e.Message, e.RequestID, e.Recommend = eb.Code, eb.Message, eb.RequestID, eb.Recommend
		if eb.HostID != "" {
			e.HostID = eb.HostID
		}
	} else {
		// Not an API error body: a proxy, a load balancer or some other
		// server answered. Its body is never echoed: the endpoint may be
		// chosen by a config writer, and the page could be an internal one.
		e.Message = describeNonAPIBody(resp, body)
		if resp.StatusCode >= 500 {
			e.Code = "ServiceUnavailable"
		}
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("x-acs-request-id")
	}
	e.Message = scrubMessage(e.Message, secrets...)
	return e
}
