package credentials

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// ECS instance metadata defaults (reference, section 5).
const (
	DefaultMetadataEndpoint = "http://100.100.100.200"
	DefaultMetadataTimeout  = time.Second
	DefaultMetadataTokenTTL = 5 * time.Minute
	maxMetadataTokenTTL     = 21600 * time.Second

	metadataTokenPath       = "/latest/api/token"
	metadataCredentialsPath = "/latest/meta-data/ram/security-credentials/"
	metadataTokenHeader     = "X-aliyun-ecs-metadata-token"
	metadataTokenTTLHeader  = "X-aliyun-ecs-metadata-token-ttl-seconds"
	maxMetadataBody         = 64 << 10
)

// ECSRAMRoleOptions configure NewECSRAMRole.
type ECSRAMRoleOptions struct {
	// RoleName is the RAM role attached to the instance. Empty: discovered
	// from the metadata service on every refresh (one more request).
	RoleName string
	// DisableIMDSv1 refuses to fall back to requests without a metadata
	// token when the token cannot be obtained, or when a request sent with
	// it fails (hardened mode only).
	DisableIMDSv1 bool
	// MetadataEndpoint is the metadata service's base URL
	// (default http://100.100.100.200).
	MetadataEndpoint string
	// HTTPClient is used for metadata requests; nil means a client without
	// proxy (the service is link-local) and the Timeout below.
	HTTPClient *http.Client
	// Timeout bounds each metadata request, connect included (default 1s):
	// the service answers in milliseconds on ECS, and off ECS a short
	// timeout keeps a misconfiguration from stalling callers.
	Timeout time.Duration
	// TokenTTL is the lifetime asked for each metadata token, 1s to 21600s
	// (default 5m). A token is used only within one refresh, so it can be short.
	TokenTTL time.Duration
}

type ecsRAMRole struct {
	base          *url.URL
	roleName      string
	disableIMDSv1 bool
	client        *http.Client
	timeout       time.Duration
	ttlSeconds    string
}

// NewECSRAMRole returns a provider of the ECS instance's RAM role
// credentials, read from the instance metadata service in hardened mode
// (a session token first) with a fallback to plain requests unless
// DisableIMDSv1 is set. It makes no request until Retrieve; wrap it in a
// Cache so a busy process asks the service once per session, not per call.
func NewECSRAMRole(o ECSRAMRoleOptions) (Provider, error) {
	const name = SourceECSRAMRole
	endpoint := o.MetadataEndpoint
	if endpoint == "" {
		endpoint = DefaultMetadataEndpoint
	}
	var errs []error
	if err := validateHTTPURL(name, "metadata_endpoint", endpoint, false); err != nil {
		errs = append(errs, err)
	}
	if o.RoleName != "" && (strings.ContainsAny(o.RoleName, "/?#%\\") || strings.TrimSpace(o.RoleName) != o.RoleName) {
		errs = append(errs, fieldError(name, "role_name", "must be a RAM role name, got %q", o.RoleName))
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultMetadataTimeout
	}
	if timeout < 0 {
		errs = append(errs, fieldError(name, "timeout", "must not be negative"))
	}
	ttl := o.TokenTTL
	if ttl == 0 {
		ttl = DefaultMetadataTokenTTL
	}
	if ttl < time.Second || ttl > maxMetadataTokenTTL {
		errs = append(errs, fieldError(name, "token_ttl", "must be from 1s to 21600s, got %s", ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	base, _ := url.Parse(strings.TrimRight(endpoint, "/"))
	hc := o.HTTPClient
	if hc == nil {
		hc = newMetadataHTTPClient(timeout)
	} else {
		// A redirect would carry the metadata token to another host.
		hc = aliyun.WithoutRedirects(hc)
	}
	return &ecsRAMRole{
		base:          base,
		roleName:      o.RoleName,
		disableIMDSv1: o.DisableIMDSv1,
		client:        hc,
		timeout:       timeout,
		ttlSeconds:    strconv.FormatInt(int64(ttl/time.Second), 10),
	}, nil
}

// ramRoleNameRe matches a RAM role name (1-64 letters, digits, . _ -).
var ramRoleNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// newMetadataHTTPClient returns a client for a link-local service: no proxy
// (a proxy must never see the metadata token), short timeouts, no redirects.
func newMetadataHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: timeout,
		},
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Retrieve reads the role's current credentials from the metadata service.
func (p *ecsRAMRole) Retrieve(ctx context.Context) (Credentials, error) {
	token, err := p.metadataToken(ctx)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", SourceECSRAMRole, err)
	}
	role := p.roleName
	if role == "" {
		body, err := p.getWithFallback(ctx, metadataCredentialsPath, token)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: discovering the instance's role: %w", SourceECSRAMRole, err)
		}
		role = firstLine(string(body))
		if role == "" {
			return Credentials{}, fmt.Errorf("%s: discovering the instance's role: no RAM role is attached to the instance", SourceECSRAMRole)
		}
		// The answer is quoted in later errors only once it is known to be
		// a role name, not some other page.
		if !ramRoleNameRe.MatchString(role) {
			return Credentials{}, fmt.Errorf("%s: discovering the instance's role: the answer is not a RAM role name (%d bytes)", SourceECSRAMRole, len(body))
		}
	}
	body, err := p.getWithFallback(ctx, metadataCredentialsPath+url.PathEscape(role), token)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: credentials of role %q: %w", SourceECSRAMRole, role, err)
	}
	c, err := parseSessionDocument(body, true)
	if err != nil {
		return Credentials{}, fmt.Errorf("%s: credentials of role %q: %w", SourceECSRAMRole, role, err)
	}
	c.Source = SourceECSRAMRole
	return c, nil
}

// String names the provider.
func (p *ecsRAMRole) String() string {
	role := p.roleName
	if role == "" {
		role = "discovered role"
	}
	return SourceECSRAMRole + " provider (" + role + " at " + p.base.Host + ")"
}

// metadataToken asks for a hardened-mode token. It returns "" (use plain
// requests) when the service does not hand one out and the fallback is
// allowed. When the service cannot even be reached, falling back would only
// repeat the connect timeout, so that error is returned as is.
func (p *ecsRAMRole) metadataToken(parent context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(parent, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.base.String()+metadataTokenPath, nil)
	if err != nil {
		return "", fmt.Errorf("building the metadata token request: %w", err)
	}
	req.Header.Set(metadataTokenTTLHeader, p.ttlSeconds)
	resp, err := p.client.Do(req)
	if err != nil {
		err = metadataTransportError(p.base.Host, unwrapURL(err))
		if p.disableIMDSv1 || isDialError(err) || parent.Err() != nil {
			return "", fmt.Errorf("getting a metadata token: %w", err)
		}
		return "", nil
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if resp.StatusCode == http.StatusOK && readErr == nil {
		token := strings.TrimSpace(string(body))
		if token != "" && validHeaderValue(token) {
			return token, nil
		}
		if p.disableIMDSv1 {
			return "", errors.New("getting a metadata token: the service returned an unusable token")
		}
		return "", nil
	}
	if p.disableIMDSv1 {
		if readErr != nil {
			return "", fmt.Errorf("getting a metadata token: reading the answer: %w", readErr)
		}
		return "", fmt.Errorf("getting a metadata token: HTTP %d: %s", resp.StatusCode, excerpt(resp, body, ""))
	}
	return "", nil
}

// getWithFallback reads one metadata path with the token and, when that
// request fails in any way (transport error or a status other than 200),
// once more without it unless IMDSv1 is disabled, as credentials-go's
// getWithFallback does: some instances hand out tokens that the credentials
// path then refuses. When the fallback fails too, its error is returned,
// with the first one's.
func (p *ecsRAMRole) getWithFallback(ctx context.Context, path, token string) ([]byte, error) {
	body, err := p.get(ctx, path, token)
	if err == nil || token == "" || p.disableIMDSv1 || ctx.Err() != nil {
		return body, err
	}
	body, err2 := p.get(ctx, path, "")
	if err2 != nil {
		return nil, fmt.Errorf("%w (and with a metadata token: %v)", err2, err)
	}
	return body, nil
}

// get reads one metadata path, with the token when there is one.
func (p *ecsRAMRole) get(ctx context.Context, path, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base.String()+path, nil)
	if err != nil {
		return nil, fmt.Errorf("building the metadata request: %w", err)
	}
	if token != "" {
		req.Header.Set(metadataTokenHeader, token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, metadataTransportError(p.base.Host, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if err != nil {
		return nil, fmt.Errorf("reading the metadata answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		hint := ""
		if token == "" && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			hint = " (the instance requires hardened mode and no metadata token could be obtained)"
		}
		return nil, fmt.Errorf("HTTP %d from the metadata service%s: %s", resp.StatusCode, hint, excerpt(resp, body, token))
	}
	return body, nil
}

// sessionDocument is the credentials document of the metadata service and of
// a credentials URI.
type sessionDocument struct {
	Code            string `json:"Code"`
	Message         string `json:"Message"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

// parseSessionDocument decodes and checks a credentials document. With
// checkCode (the metadata service, which always sends one), a Code other
// than "Success", or none, is an error. Without it (a credentials URI) Code
// is ignored, as credentials-go ignores it: the HTTP status tells a failure.
func parseSessionDocument(body []byte, checkCode bool) (Credentials, error) {
	var d sessionDocument
	if err := json.Unmarshal(body, &d); err != nil {
		return Credentials{}, fmt.Errorf("the answer is not a credentials document: %v", jsonErrorText(err))
	}
	if checkCode && d.Code != "Success" {
		code := d.Code
		if code == "" {
			code = "(none)"
		}
		msg := scrub(d.Message, d.AccessKeySecret, d.SecurityToken)
		return Credentials{}, fmt.Errorf("the answer's Code is %s, not Success: %s", code, truncate(msg, 200))
	}
	var missing []string
	if d.AccessKeyID == "" {
		missing = append(missing, "AccessKeyId")
	}
	if d.AccessKeySecret == "" {
		missing = append(missing, "AccessKeySecret")
	}
	if d.SecurityToken == "" && (checkCode || !hasField(body, "SecurityToken")) {
		// credentials-go needs a credentials URI's SecurityToken present,
		// not non-empty: "" is how a sidecar serves a RAM user's AccessKey.
		missing = append(missing, "SecurityToken")
	}
	if d.Expiration == "" {
		missing = append(missing, "Expiration")
	}
	if len(missing) > 0 {
		return Credentials{}, fmt.Errorf("the credentials document has no %s", strings.Join(missing, ", "))
	}
	exp, err := aliyun.ParseTime(d.Expiration)
	if err != nil {
		return Credentials{}, fmt.Errorf("the credentials document's Expiration: %v", err)
	}
	return Credentials{
		AccessKeyID:     d.AccessKeyID,
		AccessKeySecret: d.AccessKeySecret,
		SecurityToken:   d.SecurityToken,
		Expiration:      exp,
	}, nil
}

// hasField reports whether the JSON object in body has the key (with any
// value but null), as credentials-go's pointer fields tell.
func hasField(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	v, ok := m[key]
	return ok && string(v) != "null"
}

// jsonErrorText describes a decoding error without quoting the input
// (encoding/json syntax errors do not quote it, but type errors could name a value).
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s has the wrong type (%s)", te.Field, te.Value)
	}
	return "invalid JSON"
}

func metadataTransportError(host string, err error) error {
	return fmt.Errorf("metadata service at %s unreachable: %w", host, err)
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// isDialError reports whether err happened while connecting, so the
// service is not there at all.
func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// excerpt describes an error answer without echoing it: the Code, Message
// and RequestId of an Alibaba-style JSON error (never its other fields,
// which could hold credentials), scrubbed of secrets; for any other body only
// its media type and size. A config writer chooses the URL, so the body
// could be an internal page the writer must not get to read through Vault.
func excerpt(resp *http.Response, body []byte, secret string) string {
	var doc struct {
		sessionDocument
		RequestID string `json:"RequestId"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Code != "" {
		s := strings.Trim(strings.TrimSpace(doc.Code+": "+doc.Message), ": ")
		s = truncate(strings.Join(strings.Fields(string(bytes.ToValidUTF8([]byte(s), []byte("?")))), " "), 200)
		if doc.RequestID != "" {
			s += " (RequestId: " + truncate(doc.RequestID, 64) + ")"
		}
		return scrub(s, secret, doc.AccessKeySecret, doc.SecurityToken)
	}
	ct := "none"
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && len(mt) <= 64 {
		ct = mt
	}
	what := "response is not an Alibaba Cloud API error"
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		what = "redirect not followed"
	}
	return fmt.Sprintf("%s (content-type %s, %d bytes)", what, ct, len(body))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func scrub(s string, secrets ...string) string {
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, redacted)
		}
	}
	return s
}
