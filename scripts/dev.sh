#!/usr/bin/env bash
# `make dev`: a local Vault (or, with SERVER=openbao, OpenBao) with this plugin mounted at alicloud/, talking to the
# Alibaba Cloud emulator.
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
#   SERVER         vault (default) or openbao: OpenBao from bin/bao (make openbao) or BAO_BINARY. OpenBao's CLI has
#                  no `plugin register -env`, so there the plugin is registered declaratively, by a plugin block in
#                  the server's configuration (README "Vault and OpenBao").
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
# server_binary VAR SCRIPT NAME: the binary VAR names, else the one SCRIPT provides as bin/NAME.
server_binary() {
	if [[ -n "${!1:-}" ]]; then
		[[ -x "${!1}" ]] || die "$1=${!1} is not executable"
		vault_bin="${!1}"
	else
		"scripts/$2"
		vault_bin="$root/bin/$3"
	fi
}
server="${SERVER:-vault}"
case "$server" in
vault)
	server_name=Vault cli=vault env_prefix=VAULT_
	server_binary VAULT_BINARY vault.sh vault
	;;
openbao)
	server_name=OpenBao cli=bao env_prefix=BAO_
	server_binary BAO_BINARY openbao.sh bao
	;;
*) die "SERVER=$server: must be vault or openbao" ;;
esac

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
		log "stopping the server and the emulator"
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

# Operator settings (only a sys/plugins/catalog writer, or the server's configuration, sets them; README "Security
# model"): the emulator's plain-HTTP listener besides Alibaba's own endpoints, and the ambient identities the emulator
# can stand in for.
plugin_env=(
	"ALICLOUD_PLUGIN_ALLOWED_ENDPOINTS=https://*.aliyuncs.com,http://127.0.0.1:*"
	"ALICLOUD_PLUGIN_ALLOW_AMBIENT_IDENTITY=true"
	"ALICLOUD_PLUGIN_TOKEN_DIRS=$dev_dir"
)
cat >"$dev_dir/vault.hcl" <<EOF
plugin_directory = "$dev_dir/plugins"
EOF
if [[ "$server" == openbao ]]; then
	# OpenBao registers the plugin itself at start-up from this block (declarative plugins).
	{
		echo 'plugin_auto_register = true'
		echo "plugin \"secret\" \"$plugin_name\" {"
		echo "  command   = \"$plugin_name\""
		echo "  version   = \"$version\""
		echo "  sha256sum = \"$sha256\""
		printf '  env       = ['
		sep=''
		for kv in "${plugin_env[@]}"; do
			printf '%s"%s"' "$sep" "$kv"
			sep=', '
		done
		echo ']'
		echo '}'
	} >>"$dev_dir/vault.hcl"
fi
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
wait_for "$vault_addr/v1/sys/health" "$vault_pid" "$server_name" "$dev_dir/vault.log"

unset VAULT_ADDR VAULT_TOKEN VAULT_NAMESPACE VAULT_FORMAT BAO_ADDR BAO_TOKEN BAO_NAMESPACE BAO_FORMAT
export "${env_prefix}ADDR=$vault_addr" "${env_prefix}TOKEN=root"
v() { "$vault_bin" "$@"; }

if [[ "$server" == vault ]]; then
	log "registering $plugin_name $version (sha256 $sha256)"
	env_flags=()
	for kv in "${plugin_env[@]}"; do
		env_flags+=("-env=$kv")
	done
	v plugin register -sha256="$sha256" -version="$version" -command="$plugin_name" "${env_flags[@]}" \
		secret "$plugin_name" >/dev/null
else
	v read -field=sha256 "sys/plugins/catalog/secret/$plugin_name" version="$version" >/dev/null ||
		die "OpenBao did not register $plugin_name from its plugin block (log: $dev_dir/vault.log)"
	log "OpenBao registered $plugin_name $version (sha256 $sha256) from its configuration"
fi
v secrets enable -path=alicloud -plugin-version="$version" -description="Alibaba Cloud (emulator)" "$plugin_name" >/dev/null
v write alicloud/config \
	access_key="$root_key_id" secret_key="$root_key_secret" \
	sts_endpoint="$emulator_url" ram_endpoint="$emulator_url" >/dev/null
v write alicloud/role/readonly role_arn="acs:ram::$account_id:role/readonly" ttl=1h >/dev/null
# Prove the whole chain before telling the user it works; the credentials themselves are not printed here.
v read -field=expiration alicloud/creds/readonly >/dev/null || die "vault read alicloud/creds/readonly failed (logs: $dev_dir)"

cat <<EOF

$server_name $("$vault_bin" version | awk '{print $2}' | tr -d ,) is running at $vault_addr with $plugin_name $version mounted at alicloud/.
The Alibaba Cloud emulator is at $emulator_url (account $account_id; seed: scripts/dev-seed.json).
Logs: $dev_dir/vault.log, $dev_dir/emulator.log

In another terminal:

  export ${env_prefix}ADDR=$vault_addr ${env_prefix}TOKEN=root
  export PATH="$root/bin:\$PATH"
  $cli read alicloud/config
  $cli read alicloud/creds/readonly
  $cli write alicloud/role/developer remote_policies='name:ReadOnlyAccess,type:System' ttl=30m max_ttl=2h
  $cli read alicloud/creds/developer
  $cli lease revoke -prefix alicloud/creds/

Press Ctrl-C to stop $server_name and the emulator.
EOF

# Return when either server exits on its own; the EXIT trap then stops the other.
set +e
wait -n "$vault_pid" "$emulator_pid"
status=$?
set -e
log "a server exited (status $status); see $dev_dir"
exit 1
