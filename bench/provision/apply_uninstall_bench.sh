#!/usr/bin/env bash
# Wall time of `stockade-provision apply` on a clean machine and of the full `uninstall` after
# it (goal: each under 1 s on Linux), through the real executable, as root. Each round uses a
# fresh identity prefix and state folder; everything is removed at the end even on failure.
#
#   bench/provision/apply_uninstall_bench.sh [BUILD_DIR] [ROUNDS]     (default build/linux, 5)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build/linux}" && pwd)
rounds=${2:-5}
exe="$build/cli/stockade-provision"
[[ -x "$exe" ]] || { echo "missing $exe: build first" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (it creates users and nftables tables)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/stkbench.XXXXXX)
prefixes=()
cleanup() {
  for p in "${prefixes[@]}"; do
    for u in "$p-offline" "$p-online"; do id "$u" >/dev/null 2>&1 && userdel "$u"; done
    getent group "$p-users" >/dev/null && groupdel "$p-users"
    nft delete table inet "stockade_$p" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
apply_times=()
uninstall_times=()
for ((i = 1; i <= rounds; i++)); do
  p="stkb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  prefixes+=("$p")
  mkdir -p "$tmp/$i/state"
  printf 'version = 1\n[identities]\nprefix = "%s"\n' "$p" >"$tmp/$i/policy.toml"
  export STOCKADE_STATE_DIR="$tmp/$i/state" STOCKADE_POLICY="$tmp/$i/policy.toml"
  t0=$(now); "$exe" apply >/dev/null 2>&1; t1=$(now)
  "$exe" uninstall >/dev/null 2>&1; t2=$(now)
  apply_times+=("$(echo "$t1 - $t0" | bc)")
  uninstall_times+=("$(echo "$t2 - $t1" | bc)")
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "best %.3f s, median %.3f s", a[1], a[int((NR+1)/2)]}'; }
echo "stockade-provision apply (5 steps: group, 2 users, state folder, nftables): $(stats "${apply_times[@]}") over $rounds rounds (goal < 1 s)"
echo "stockade-provision uninstall (rollback + residue scan + receipt):        $(stats "${uninstall_times[@]}") over $rounds rounds (goal < 1 s)"
