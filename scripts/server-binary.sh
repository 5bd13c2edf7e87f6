# Shared by scripts/vault.sh and scripts/openbao.sh (source it; it defines functions only): find a server binary of the
# pinned version that the user already has, or the cached one, and link it into bin/.
#
# The caller sets: tag (the script's name, for messages), want (the first words of `<binary> version`, e.g.
# "Vault v1.21.0"), root (the repository).

# usable reports whether $1 runs and reports the pinned version; a truncated or foreign binary does not count.
usable() {
	[[ -n "$1" && -x "$1" ]] && "$1" version 2>/dev/null | grep -Eq "^${want//./\\.}([ ,(+-]|\$)"
}

# link_binary BIN NAME: bin/NAME -> BIN, saying which binary was picked and why.
link_binary() {
	ln -sfn "$1" "$root/bin/$2"
	echo "$tag: $root/bin/$2 -> $1 ($("$1" version | head -n1)); $3" >&2
}

# pick_existing VAR CMD NAME: link the binary that the environment variable VAR names, else the command CMD on PATH,
# when it reports the pinned version; returns 1 when neither does (saying why a candidate was passed over).
pick_existing() {
	local from_var="${!1:-}" on_path
	on_path="$(command -v "$2" 2>/dev/null || true)"
	if [[ -n "$from_var" ]]; then
		if usable "$from_var"; then
			link_binary "$(cd "$(dirname "$from_var")" && pwd)/$(basename "$from_var")" "$3" "picked $1"
			return 0
		fi
		echo "$tag: ignoring $1=$from_var: it does not report $want" >&2
	fi
	# A bin/ link from an earlier run is not "the user's own" binary.
	if [[ -n "$on_path" && "$(readlink -f "$on_path")" != "$(readlink -f "$root/bin/$3" 2>/dev/null)" ]]; then
		if usable "$on_path"; then
			link_binary "$on_path" "$3" "picked the $2 on PATH"
			return 0
		fi
		echo "$tag: ignoring $on_path on PATH: it does not report $want" >&2
	fi
	return 1
}
