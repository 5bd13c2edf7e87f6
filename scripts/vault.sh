#!/usr/bin/env bash
# Provides the Vault server pinned in tools/vault/go.mod as bin/vault, from the first of:
#
#   1. VAULT_BINARY, or a `vault` on PATH, that reports the pinned version (no half-hour build on a machine that has
#      one);
#   2. the per-user cache, keyed by the Vault and Go versions (a second checkout, such as CI's fresh clone, reuses it);
#   3. a build from the Go module proxy into that cache.
#
# It says which it picked. Environment:
#   VAULT_BINARY     a Vault binary to use as it is (checked for the pinned version)
#   VAULT_CACHE_DIR  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-alicloud)
#   VAULT_REBUILD=1  ignore the cached binary and build again
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools/vault"

version="$(awk '$1 == "github.com/hashicorp/vault" { print $2; exit }' "$tools/go.mod")"
if [[ -z "$version" ]]; then
	echo "vault.sh: no github.com/hashicorp/vault requirement in $tools/go.mod" >&2
	exit 1
fi
goversion="$(go env GOVERSION)"
cache_root="${VAULT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-alicloud}"
dir="$cache_root/vault-$version-$goversion"
bin="$dir/vault"
want="Vault ${version}" # `vault version` prints "Vault v1.21.0 (...)"

tag=vault.sh
# shellcheck source=scripts/server-binary.sh
source "$root/scripts/server-binary.sh"

mkdir -p "$dir" "$root/bin"
if pick_existing VAULT_BINARY vault vault; then
	exit 0
fi
# Two checkouts building at once would each spend the full build; the second waits and then reuses the first's.
exec 9>"$cache_root/.lock"
flock 9

if [[ "${VAULT_REBUILD:-}" != 1 ]] && usable "$bin"; then
	link_binary "$bin" vault "picked the cached build"
	exit 0
else
	echo "vault.sh: building Vault $version with $goversion into $bin" >&2
	echo "vault.sh: this takes 8 to 30 minutes on 2 cores, depending on load, plus downloading several GB of modules on a cold module cache" >&2
	start=$SECONDS
	tmp="$dir/vault.tmp.$$"
	trap 'rm -f "$tmp"' EXIT
	# Plain `go build` (not -mod=mod): tools/vault/go.sum is committed complete, so a missing entry is a bug to fix
	# rather than something to paper over by rewriting go.sum on the user's machine.
	(cd "$tools" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags '-s -w' -o "$tmp" github.com/hashicorp/vault)
	if ! usable "$tmp"; then
		echo "vault.sh: the built binary does not report $want:" >&2
		"$tmp" version >&2 || true
		exit 1
	fi
	mv -f "$tmp" "$bin"
	trap - EXIT
	echo "vault.sh: built $bin in $((SECONDS - start))s" >&2
fi

link_binary "$bin" vault "picked the build just made"
