package aliyun

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// AssumeRoleInput are the parameters of STS AssumeRole.
type AssumeRoleInput struct {
	RoleArn         string
	RoleSessionName string
	// DurationSeconds of the credentials; 0 leaves the service default (3600).
	DurationSeconds int64
	// Policy is an optional session policy (JSON, at most 2048 characters).
	Policy         string
	ExternalID     string
	SourceIdentity string
}

// AssumedRoleUser identifies the session an AssumeRole call created.
type AssumedRoleUser struct {
	AssumedRoleID string `json:"AssumedRoleId"`
	Arn           string `json:"Arn"`
}

// STSCredentials are temporary credentials issued by STS.
type STSCredentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	// Expiration is in UTC.
	Expiration time.Time
}

// AssumeRoleOutput is the answer of AssumeRole and AssumeRoleWithOIDC.
type AssumeRoleOutput struct {
	RequestID       string
	Credentials     STSCredentials
	AssumedRoleUser AssumedRoleUser
	SourceIdentity  string
	// OIDCTokenInfo is set by AssumeRoleWithOIDC.
	OIDCTokenInfo *OIDCTokenInfo
}

// OIDCTokenInfo describes the OIDC token an AssumeRoleWithOIDC call used.
type OIDCTokenInfo struct {
	Subject   string `json:"Subject"`
	Issuer    string `json:"Issuer"`
	ClientIDs string `json:"ClientIds"`
}

type stsCredentialsJSON struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

type assumeRoleJSON struct {
	RequestID       string             `json:"RequestId"`
	Credentials     stsCredentialsJSON `json:"Credentials"`
	AssumedRoleUser AssumedRoleUser    `json:"AssumedRoleUser"`
	SourceIdentity  string             `json:"SourceIdentity"`
	OIDCTokenInfo   *OIDCTokenInfo     `json:"OIDCTokenInfo"`
}

func (j *assumeRoleJSON) output(action string) (*AssumeRoleOutput, error) {
	exp, err := ParseTime(j.Credentials.Expiration)
	if err != nil {
		return nil, fmt.Errorf("aliyun: sts %s: credentials expiration: %w", action, err)
	}
	if j.Credentials.AccessKeyID == "" || j.Credentials.AccessKeySecret == "" || j.Credentials.SecurityToken == "" {
		return nil, fmt.Errorf("aliyun: sts %s: response has incomplete credentials (RequestId: %s)", action, j.RequestID)
	}
	return &AssumeRoleOutput{
		RequestID: j.RequestID,
		Credentials: STSCredentials{
			AccessKeyID:     j.Credentials.AccessKeyID,
			AccessKeySecret: j.Credentials.AccessKeySecret,
			SecurityToken:   j.Credentials.SecurityToken,
			Expiration:      exp,
		},
		AssumedRoleUser: j.AssumedRoleUser,
		SourceIdentity:  j.SourceIdentity,
		OIDCTokenInfo:   j.OIDCTokenInfo,
	}, nil
}

// ParseTime parses an Alibaba Cloud timestamp (yyyy-MM-ddTHH:mm:ssZ, also
// accepting fractional seconds and offsets) into UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time %q", s)
		}
	}
	return t.UTC(), nil
}

// AssumeRole calls STS AssumeRole, signed with the client's credentials.
func (c *Client) AssumeRole(ctx context.Context, in AssumeRoleInput) (*AssumeRoleOutput, error) {
	p := url.Values{}
	p.Set("RoleArn", in.RoleArn)
	p.Set("RoleSessionName", in.RoleSessionName)
	if in.DurationSeconds > 0 {
		p.Set("DurationSeconds", strconv.FormatInt(in.DurationSeconds, 10))
	}
	setIf(p, "Policy", in.Policy)
	setIf(p, "ExternalId", in.ExternalID)
	setIf(p, "SourceIdentity", in.SourceIdentity)
	var out assumeRoleJSON
	if err := c.Do(ctx, &Request{Product: STS, Version: STSVersion, Action: "AssumeRole", Params: p}, &out); err != nil {
		return nil, err
	}
	return out.output("AssumeRole")
}

// AssumeRoleWithOIDCInput are the parameters of STS AssumeRoleWithOIDC.
type AssumeRoleWithOIDCInput struct {
	RoleArn         string
	OIDCProviderArn string
	// OIDCToken is the raw JWT (for ACK RRSA, the projected token file's content).
	OIDCToken       string
	RoleSessionName string
	DurationSeconds int64
	Policy          string
}

// AssumeRoleWithOIDC calls STS AssumeRoleWithOIDC. The call is anonymous (not
// signed), as the service requires: the OIDC token is the proof.
func (c *Client) AssumeRoleWithOIDC(ctx context.Context, in AssumeRoleWithOIDCInput) (*AssumeRoleOutput, error) {
	p := url.Values{}
	p.Set("RoleArn", in.RoleArn)
	p.Set("OIDCProviderArn", in.OIDCProviderArn)
	p.Set("OIDCToken", in.OIDCToken)
	p.Set("RoleSessionName", in.RoleSessionName)
	if in.DurationSeconds > 0 {
		p.Set("DurationSeconds", strconv.FormatInt(in.DurationSeconds, 10))
	}
	setIf(p, "Policy", in.Policy)
	var out assumeRoleJSON
	req := &Request{Product: STS, Version: STSVersion, Action: "AssumeRoleWithOIDC", Params: p, Anonymous: true}
	if err := c.Do(ctx, req, &out); err != nil {
		return nil, err
	}
	return out.output("AssumeRoleWithOIDC")
}

// Identity types reported by GetCallerIdentity.
const (
	IdentityAccount         = "Account"
	IdentityRAMUser         = "RAMUser"
	IdentityAssumedRoleUser = "AssumedRoleUser"
)

// CallerIdentity is the answer of GetCallerIdentity.
type CallerIdentity struct {
	RequestID    string `json:"RequestId"`
	IdentityType string `json:"IdentityType"`
	AccountID    string `json:"AccountId"`
	PrincipalID  string `json:"PrincipalId"`
	UserID       string `json:"UserId"`
	RoleID       string `json:"RoleId"`
	Arn          string `json:"Arn"`
}

// GetCallerIdentity returns who the client's credentials belong to.
func (c *Client) GetCallerIdentity(ctx context.Context) (*CallerIdentity, error) {
	var out CallerIdentity
	if err := c.Do(ctx, &Request{Product: STS, Version: STSVersion, Action: "GetCallerIdentity"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func setIf(p url.Values, k, v string) {
	if v != "" {
		p.Set(k, v)
	}
}
