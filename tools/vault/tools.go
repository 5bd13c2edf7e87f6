//go:build tools

// Package tools pins the Vault server used by `make dev` and the end-to-end tests.
package tools

import _ "github.com/hashicorp/vault"
