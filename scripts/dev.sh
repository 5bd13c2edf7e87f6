#!/usr/bin/env bash
# `make dev`: a local Vault with this plugin mounted at alicloud/, talking to the Alibaba Cloud emulator.
#
# It builds what it needs (the plugin and emulator always, incrementally, so the registered version and checksum match
# the binary; Vault once, cached by scripts/vault.sh), starts the emulator with scripts/dev-seed.json, starts
# `vault server -dev`, registers the plugin with its sha256 and version, enables it, writes the config and a `readonly`
# role, checks that `vault read alicloud/creds/readonly` works, prints what to type next and waits. Ctrl-C (or
# SIGTERM) stops Vault (which stops the plugin) and the emulator, and waits for them.
#
# Environment:
#   VAULT_PORT     Vault's listener on 127.0.0.1 (default 8200; the dev cluster listener takes VAULT_PORT+1)
#   EMULATOR_PORT  the emulator's listener on 127.0.0.1 (default 8100)
#   VAULT_BINARY   use this Vault instead of building the pinned one
#   DEV_DIR        working folder for logs and the plugin directory (default .cache/dev)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

vault_port="${VAULT_PORT:-8200}"
emulator_port="${EMULATOR_PORT:-8100}"
dev_dir="${DEV_DIR:-$root/.cache/dev}"
plugin_name=vault-plugin-secrets-alicloud
seed="$root/scripts/dev-seed.json"
account_id=1234567890123456
# The key of the RAM user `vault-root` in scripts/dev-seed.json; it exists only inside the emulator.
root_key_id=LTAI5tDevVaultRootKey001
root_key_secret=devVaultRootSecretNotForProd01

log() { printf 'dev.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$vault_port" "$((vault_port + 1))" "$emulator_port"; do
	if port_in_use "$p"; then
		die "127.0.0.1:$p is already in use (another 'make dev'?). Stop it, or pick other ports, e.g. VAULT_PORT=$((vault_port + 100)) EMULATOR_PORT=$((emulator_port + 100)) make dev"
	fi
done

version="$(scripts/version.sh)"
log "building the plugin and the emulator ($version)"
make -s build VERSION="$version"
if [[ -n "${VAULT_BINARY:-}" ]]; then
	vault_bin="$VAULT_BINARY"
	[[ -x "$vault_bin" ]] || die "VAULT_BINARY=$vault_bin is not executable"
else
	scripts/vault.sh
	vault_bin="$root/bin/vault"
fi

rm -rf "$dev_dir"
mkdir -p "$dev_dir/plugins"
# Vault runs plugins only from inside plugin_directory and refuses symlinks that lead out of it: copy the binary.
cp "bin/$plugin_name" "$dev_dir/plugins/$plugin_name"
sha256="$(sha256sum "$dev_dir/plugins/$plugin_name" | cut -d' ' -f1)"

vault_addr="http://127.0.0.1:$vault_port"
emulator_url="http://127.0.0.1:$emulator_port"

pids=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if ((${#pids[@]})); then
		log "stopping Vault and the emulator"
		# Vault shuts down its plugin processes on SIGTERM; wait so nothing outlives this script.
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	exit "$status"
}
trap cleanup EXIT
# Ctrl-C and SIGTERM are the normal way to stop: clean up and exit 0.
trap 'exit 0' INT TERM

bin/alicloud-emulator -listen "127.0.0.1:$emulator_port" -seed "$seed" >"$dev_dir/emulator.log" 2>&1 &
pids+=($!)
emulator_pid=$!

cat >"$dev_dir/vault.hcl" <<EOF
plugin_directory = "$dev_dir/plugins"
EOF
"$vault_bin" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$vault_port" \
	-config="$dev_dir/vault.hcl" >"$dev_dir/vault.log" 2>&1 &
pids+=($!)
vault_pid=$!

# wait_for URL PID NAME LOG: poll until URL answers, failing early if the process died.
wait_for() {
	local url=$1 pid=$2 name=$3 logfile=$4
	for _ in $(seq 1 150); do
		if curl -s -o /dev/null "$url"; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$logfile" >&2 || true
			die "$name exited during start-up (log: $logfile)"
		fi
		sleep 0.2
	done
	tail -n 30 "$logfile" >&2 || true
	die "$name did not answer on $url within 30s (log: $logfile)"
}
wait_for "$emulator_url/" "$emulator_pid" emulator "$dev_dir/emulator.log"
wait_for "$vault_addr/v1/sys/health" "$vault_pid" Vault "$dev_dir/vault.log"

export VAULT_ADDR="$vault_addr" VAULT_TOKEN=root
unset VAULT_NAMESPACE VAULT_FORMAT
v() { "$vault_bin" "$@"; }

log "registering $plugin_name $version (sha256 $sha256)"
# Operator settings (only a sys/plugins/catalog writer sets them; README "Security model"): the emulator's plain-HTTP
# listener besides Alibaba's own endpoints, and the ambient identities the emulator can stand in for.
v plugin register -sha256="$sha256" -version="$version" -command="$plugin_name" \
	-env="ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*" \
	-env="ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true" \
	-env="ALICLOUD_PLUGIN_TOKEN_DIRS=$dev_dir" \
	secret "$plugin_name" >/dev/null
v secrets enable -path=alicloud -plugin-version="$version" -description="Alibaba Cloud (emulator)" "$plugin_name" >/dev/null
v write alicloud/config \
	access_key="$root_key_id" secret_key="$root_key_secret" \
	sts_endpoint="$emulator_url" ram_endpoint="$emulator_url" >/dev/null
v write alicloud/role/readonly role_arn="acs:ram::$account_id:role/readonly" ttl=1h >/dev/null
# Prove the whole chain before telling the user it works; the credentials themselves are not printed here.
v read -field=expiration alicloud/creds/readonly >/dev/null || die "vault read alicloud/creds/readonly failed (logs: $dev_dir)"

cat <<EOF

Vault $("$vault_bin" version | awk '{print $2}' | tr -d ,) is running at $vault_addr with $plugin_name $version mounted at alicloud/.
The Alibaba Cloud emulator is at $emulator_url (account $account_id; seed: scripts/dev-seed.json).
Logs: $dev_dir/vault.log, $dev_dir/emulator.log

In another terminal:

  export VAULT_ADDR=$vault_addr VAULT_TOKEN=root
  export PATH="$root/bin:\$PATH"
  vault read alicloud/config
  vault read alicloud/creds/readonly
  vault write alicloud/role/developer remote_policies='name:ReadOnlyAccess,type:System' ttl=30m max_ttl=2h
  vault read alicloud/creds/developer
  vault lease revoke -prefix alicloud/creds/

Press Ctrl-C to stop Vault and the emulator.
EOF

# Return when either server exits on its own; the EXIT trap then stops the other.
set +e
wait -n "$vault_pid" "$emulator_pid"
status=$?
set -e
log "a server exited (status $status); see $dev_dir"
exit 1
