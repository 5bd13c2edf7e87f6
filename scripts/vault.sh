#!/usr/bin/env bash
# Builds the Vault server pinned in tools/vault/go.mod once, keeps it in a per-user cache keyed by the Vault and Go
# versions, and links it as bin/vault. A second checkout on the same machine (CI clones into a fresh folder) reuses
# the cached binary instead of spending another eight minutes compiling Vault.
#
# Environment:
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

# usable reports whether $1 runs and reports the pinned version; a truncated or foreign binary is rebuilt.
usable() {
	[[ -x "$1" ]] && "$1" version 2>/dev/null | grep -Eq "^${want//./\\.}([ ,(]|\$)"
}

mkdir -p "$dir" "$root/bin"
# Two checkouts building at once would each spend the full build; the second waits and then reuses the first's.
exec 9>"$cache_root/.lock"
flock 9

if [[ "${VAULT_REBUILD:-}" != 1 ]] && usable "$bin"; then
	echo "vault.sh: using cached $bin ($("$bin" version | head -n1))" >&2
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

ln -sfn "$bin" "$root/bin/vault"
echo "vault.sh: $root/bin/vault -> $bin" >&2
