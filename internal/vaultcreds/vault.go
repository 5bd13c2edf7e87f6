// Package vaultcreds is the library behind cmd/alicloud-vault-credentials:
// it reads Alibaba Cloud credentials from the secrets engine through Vault's
// API, keeps them fresh with a credentials.Cache, holds and renews the leases
// of RAM-user credentials, and serves the credentials-URI document Alibaba's
// SDKs read (ALIBABA_CLOUD_CREDENTIALS_URI) or prints the aliyun CLI's
// External-mode document.
package vaultcreds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/vault/api"
)

// TokenSource gives the Vault token to send with the next request; "" sends
// none (Vault Agent's API proxy with use_auto_auth_token adds its own).
type TokenSource interface {
	Token() (string, error)
}

// FileToken reads the token from a file, such as the sink of Vault Agent's
// auto-auth, on every request: the agent rewrites the file when it
// re-authenticates, and the next request picks the new token up.
type FileToken string

// Token reads the file.
func (f FileToken) Token() (string, error) {
	data, err := os.ReadFile(string(f))
	if err != nil {
		// The path is not a secret; the error from os names it.
		return "", fmt.Errorf("reading the Vault token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("the Vault token file %s is empty", string(f))
	}
	return tok, nil
}

// StaticToken is a token given once (VAULT_TOKEN).
type StaticToken string

// Token returns the token.
func (s StaticToken) Token() (string, error) { return string(s), nil }

// Vault is what the credentials need from Vault: read a creds path, renew
// and revoke a lease.
type Vault interface {
	Read(ctx context.Context, path string) (*api.Secret, error)
	Renew(ctx context.Context, leaseID string, increment int) (*api.Secret, error)
	Revoke(ctx context.Context, leaseID string) error
}

// APIVault is a Vault reached through Vault's API client, with the token of
// a TokenSource set before every request.
type APIVault struct {
	client *api.Client
	tokens TokenSource
}

// NewAPIVault returns a Vault over client. With a nil TokenSource the
// client's own token (VAULT_TOKEN) is used, or none.
func NewAPIVault(client *api.Client, tokens TokenSource) *APIVault {
	if tokens == nil {
		tokens = StaticToken(client.Token())
	}
	return &APIVault{client: client, tokens: tokens}
}

// prepared returns a client carrying the current token.
func (v *APIVault) prepared() (*api.Client, error) {
	tok, err := v.tokens.Token()
	if err != nil {
		return nil, err
	}
	// A clone per request: concurrent requests of different roles never
	// see each other's token change, and the namespace header comes along.
	c, err := v.client.CloneWithHeaders()
	if err != nil {
		return nil, err
	}
	if tok == "" {
		c.ClearToken()
	} else {
		c.SetToken(tok)
	}
	return c, nil
}

// Read reads path.
func (v *APIVault) Read(ctx context.Context, path string) (*api.Secret, error) {
	c, err := v.prepared()
	if err != nil {
		return nil, err
	}
	s, err := c.Logical().ReadWithContext(ctx, path)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("vault: nothing at %s", path)
	}
	return s, nil
}

// Renew renews a lease by increment seconds.
func (v *APIVault) Renew(ctx context.Context, leaseID string, increment int) (*api.Secret, error) {
	c, err := v.prepared()
	if err != nil {
		return nil, err
	}
	return c.Sys().RenewWithContext(ctx, leaseID, increment)
}

// Revoke revokes a lease.
func (v *APIVault) Revoke(ctx context.Context, leaseID string) error {
	c, err := v.prepared()
	if err != nil {
		return err
	}
	return c.Sys().RevokeWithContext(ctx, leaseID)
}

// errNoData is returned for a creds answer without the key fields.
var errNoData = errors.New("the answer has no access_key and secret_key: is this an Alibaba Cloud creds path?")
