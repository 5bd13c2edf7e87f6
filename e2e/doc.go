// Package e2e holds end-to-end tests that run the plugin the way operators do: a real Vault server process (the one
// pinned in tools/vault, built by `make vault`), the plugin registered in its catalog with a checksum and version, and
// the Alibaba Cloud emulator in place of Alibaba Cloud. The tests drive Vault through its HTTP API and its CLI, and
// check the results against the emulator's state.
//
// The tests need a Vault binary: VAULT_BINARY, or bin/vault in the repository. Without one they skip, unless
// E2E_REQUIRED=1 (set by `make test`, `make e2e` and CI), in which case they fail.
package e2e
