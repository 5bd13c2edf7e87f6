#!/usr/bin/env bash
# Provides the OpenBao server the tests run against as bin/bao, pinned to OPENBAO_VERSION below, from the first of:
#
#   1. BAO_BINARY, or a `bao` on PATH, that reports the pinned version (a release download, a package);
#   2. the per-user cache, keyed by the OpenBao and Go versions (a second checkout reuses the first's build);
#   3. a build from OPENBAO_SOURCE: an unpacked OpenBao source folder (a git checkout of the tag) or a source tarball
#      such as the one `git archive` makes (top folder openbao-<version>/).
#
# OpenBao's server module is not installable with `go install` (its go.mod has replace directives), and the Go module
# proxy does not serve some of the KMS wrapper modules it needs, so a build needs the source. With internet access,
# either download `bao` from https://github.com/openbao/openbao/releases/tag/v$OPENBAO_VERSION and point BAO_BINARY
# at it, or `git clone --branch v$OPENBAO_VERSION https://github.com/openbao/openbao` and set OPENBAO_SOURCE to the
# clone.
#
# Environment:
#   OPENBAO_SOURCE    source folder or tarball to build from when no usable binary is found
#   BAO_BINARY        an OpenBao binary to use as it is (checked for the pinned version)
#   VAULT_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-alicloud)
#   OPENBAO_REBUILD=1 ignore the cached binary and build again
set -euo pipefail

OPENBAO_VERSION=2.6.2 # the version the e2e tests run on; README "Vault and OpenBao"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
goversion="$(go env GOVERSION)"
cache_root="${VAULT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-plugin-secrets-alicloud}"
dir="$cache_root/openbao-v$OPENBAO_VERSION-$goversion"
bin="$dir/bao"
want="OpenBao v${OPENBAO_VERSION}" # `bao version` prints "OpenBao v2.6.2 (...), built ..."

tag=openbao.sh
# shellcheck source=scripts/server-binary.sh
source "$root/scripts/server-binary.sh"

mkdir -p "$dir" "$root/bin"
if pick_existing BAO_BINARY bao bao; then
	exit 0
fi

exec 9>"$cache_root/.lock-openbao"
flock 9

if [[ "${OPENBAO_REBUILD:-}" != 1 ]] && usable "$bin"; then
	link_binary "$bin" bao "picked the cached build"
	exit 0
fi

src="${OPENBAO_SOURCE:-}"
if [[ -z "$src" ]]; then
	cat >&2 <<EOF
openbao.sh: no OpenBao $OPENBAO_VERSION binary found (BAO_BINARY, PATH, $bin) and OPENBAO_SOURCE is not set.
  Either download bao from https://github.com/openbao/openbao/releases/tag/v$OPENBAO_VERSION and run
      make openbao BAO_BINARY=/path/to/bao
  or build it from source:
      git clone --branch v$OPENBAO_VERSION https://github.com/openbao/openbao /tmp/openbao
      make openbao OPENBAO_SOURCE=/tmp/openbao
EOF
	exit 1
fi

start=$SECONDS
work="$dir/src.tmp.$$"
tmp="$dir/bao.tmp.$$"
trap 'rm -rf "$work" "$tmp"' EXIT
if [[ -d "$src" ]]; then
	srcdir="$(cd "$src" && pwd)"
elif [[ -f "$src" ]]; then
	mkdir -p "$work"
	echo "openbao.sh: unpacking $src" >&2
	tar -xzf "$src" -C "$work"
	srcdir="$(find "$work" -mindepth 1 -maxdepth 2 -name go.mod -printf '%h\n' | head -n1)"
else
	echo "openbao.sh: OPENBAO_SOURCE=$src is neither a folder nor a file" >&2
	exit 1
fi
if [[ -z "$srcdir" ]] || ! grep -q '^module github.com/openbao/openbao$' "$srcdir/go.mod" 2>/dev/null; then
	echo "openbao.sh: $src does not hold OpenBao's source (no go.mod of module github.com/openbao/openbao)" >&2
	exit 1
fi
echo "openbao.sh: building OpenBao $OPENBAO_VERSION from $srcdir with $goversion into $bin" >&2
echo "openbao.sh: this takes 10 to 35 minutes on 2 cores, plus downloading modules on a cold module cache" >&2
(cd "$srcdir" && CGO_ENABLED=0 go build -buildvcs=false -trimpath \
	-ldflags "-s -w -X github.com/openbao/openbao/version.fullVersion=$OPENBAO_VERSION" -o "$tmp" .)
if ! usable "$tmp"; then
	echo "openbao.sh: the built binary does not report $want:" >&2
	"$tmp" version >&2 || true
	exit 1
fi
mv -f "$tmp" "$bin"
echo "openbao.sh: built $bin in $((SECONDS - start))s" >&2
link_binary "$bin" bao "picked the build just made"
