#!/usr/bin/env bash
# Prints the version stamped into the binaries and used when registering the plugin with Vault. Vault requires a
# plugin version to be semantic and to match the version the running plugin reports, so a checkout without a release
# tag gets v0.0.0-dev.g<commit>[-dirty] rather than a bare commit hash.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${VERSION:-}" ]]; then
	echo "$VERSION"
	exit 0
fi
describe="$(git describe --tags --always --dirty 2>/dev/null || true)"
if [[ "$describe" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
	echo "$describe" # v1.2.3, or v1.2.3-4-gabcdef0[-dirty] past a tag: both valid semver
elif [[ -n "$describe" ]]; then
	echo "v0.0.0-dev.g$describe"
else
	echo "v0.0.0-dev"
fi
