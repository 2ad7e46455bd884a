#!/usr/bin/env bash
# Runs the benchmarks next to their comparison commands and prints throughput and ratios.
#
#   bench/run.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build/linux (the `linux` preset). A Windows build folder works too: its
# .exe files run under Wine (cmake/wine-run.sh, prefix $STOCKADE_WINEPREFIX or
# BUILD_DIR/wineprefix) and are compared with the same native tools on the same bytes.
# Environment: BENCH_SQLITE_ARGS adds arguments to bench_sqlite_insert (e.g. "--rounds 3").
#
# Ratios are stockade / reference: above 1 means Stockade is faster. Wall-clock figures follow
# the machine's load; the CPU-time figures are the steadier ones on a shared machine.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build/linux}" && pwd)

run=()
exe=""
path_arg() { printf '%s' "$1"; }
if [[ -x "$build/bench/bench_sha256.exe" || -f "$build/bench/bench_sha256.exe" ]]; then
  exe=".exe"
  export STOCKADE_WINEPREFIX=${STOCKADE_WINEPREFIX:-$build/wineprefix}
  run=("$repo/cmake/wine-run.sh")
  path_arg() { printf 'Z:%s' "$1"; }  # Wine maps the Unix root to drive Z:
  echo "(Windows build: running the benchmarks under Wine)"
fi
for b in bench_sqlite_insert bench_sha256; do
  [[ -f "$build/bench/$b$exe" ]] || { echo "missing $build/bench/$b$exe: build first" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ratio A B: A / B with three decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
mbps() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? bytes / s / 1e6 : 0) }'; }
# field NAME LINE: the value of NAME=... in a RESULT line.
field() { sed -n "s/.*[[:space:]]$1=\\([^[:space:]]*\\).*/\\1/p" <<<"$2"; }

# best_of N CMD...: runs CMD N times (stdout to $tmp/out) and prints "best_wall best_cpu".
best_of() {
  local n=$1 i t
  shift
  local best_wall=1e9 best_cpu=1e9
  for ((i = 0; i < n; i++)); do
    t=$( { TIMEFORMAT='%R %U %S'; time "$@" >"$tmp/out"; } 2>&1 )
    read -r best_wall best_cpu < <(awk -v t="$t" -v bw="$best_wall" -v bc="$best_cpu" 'BEGIN {
      split(t, f, " "); w = f[1]; c = f[2] + f[3];
      printf "%s %s\n", (w < bw ? w : bw), (c < bc ? c : bc) }')
  done
  echo "$best_wall $best_cpu"
}

# --- 1. SQLite: wrapper vs raw C API ---------------------------------------------------------
echo
# shellcheck disable=SC2086  # BENCH_SQLITE_ARGS is a list of words
"${run[@]}" "$build/bench/bench_sqlite_insert$exe" ${BENCH_SQLITE_ARGS:-} | grep -v '^RESULT'

# --- 2. SHA-256: Sha256Hex vs sha256sum / openssl dgst ---------------------------------------
echo
size=$((64 << 20))
data="$tmp/data.bin"
head -c "$size" /dev/urandom >"$data"
read -r read_wall _ < <(best_of 3 cat "$data")  # warms the page cache, measures a read of it

out=$("${run[@]}" "$build/bench/bench_sha256$exe" --file "$(path_arg "$data")" --rounds 3)
ours=$(sed -n 's/^sha256 \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
result=$(grep '^RESULT' <<<"$out")
ours_wall=$(field wall_s "$result")
ours_cpu=$(field cpu_s "$result")

printf 'sha256 over %d MiB of random bytes, best of 3 (MB = 10^6 bytes)\n' $((size >> 20))
printf '  %-40s %12s %12s\n' "" "MB/s wall" "MB/s CPU"
printf '  %-40s %12s %12s\n' "Sha256Hex (in memory)" "$(mbps $size "$ours_wall")" \
  "$(mbps $size "$ours_cpu")"
for tool in sha256sum "openssl dgst -sha256 -r"; do
  command -v "${tool%% *}" >/dev/null || { echo "  ($tool not installed)"; continue; }
  # shellcheck disable=SC2086  # $tool is a command with its arguments
  read -r wall cpu < <(best_of 3 $tool "$data")
  theirs=$(cut -c1-64 "$tmp/out")
  if [[ "$theirs" != "$ours" ]]; then
    echo "DIGEST MISMATCH: Sha256Hex $ours, $tool $theirs" >&2
    exit 1
  fi
  printf '  %-40s %12s %12s\n' "${tool% -r} (reads the file)" "$(mbps $size "$wall")" \
    "$(mbps $size "$cpu")"
  printf '  %-40s %12s %12s\n' "  ratio Sha256Hex / ${tool%% *}" "$(ratio "$wall" "$ours_wall")" \
    "$(ratio "$cpu" "$ours_cpu")"
done
printf '  digests agree: %s\n' "$ours"
printf '  (the tools also start a process and read the file from the page cache: %s s for cat)\n' \
  "$read_wall"

# Spawn storm: per-spawn cost of recording, sandboxed with audit vs without (Linux, root: kernel
# audit rules, the launcher's identity switch). bench/audit/capture_bench.cc; BENCH_CAPTURE_ARGS
# adds arguments (e.g. "--spawns 1000 --rounds 3").
if [[ -z $exe && -x "$build/bench/audit/bench_audit_capture" ]]; then
  echo
  if [[ $(id -u) -eq 0 ]]; then
    # shellcheck disable=SC2086  # word splitting of the arguments is wanted
    "$build/bench/audit/bench_audit_capture" ${BENCH_CAPTURE_ARGS:-}
  else
    echo "(bench_audit_capture skipped: it needs root)"
  fi
fi

# --- 3. Audit store: recording vs plain SQLite inserts, verify, query ------------------------
echo
audit_bench="$build/bench/audit/bench_audit_ingest$exe"
if [[ -f "$audit_bench" ]]; then
  # BENCH_AUDIT_ARGS adds arguments (e.g. "--events 200000" for a quick run, "--sync normal").
  # The databases go to the temp folder made above (the system's disk, not tmpfs).
  mkdir -p "$tmp/audit"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
  # shellcheck disable=SC2086  # BENCH_AUDIT_ARGS is a list of words
  out=$("${run[@]}" "$audit_bench" --dir "$(path_arg "$tmp/audit")" ${BENCH_AUDIT_ARGS:-})
  load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
  grep -v '^RESULT' <<<"$out"
  result=$(grep '^RESULT' <<<"$out")
  events=$(field events "$result")
  printf 'audit store, %s events (load average %s before, %s after)\n' "$events" \
    "$load_before" "$load_after"
  printf '  %-44s %14s %14s\n' "" "events/s wall" "events/s CPU"
  printf '  %-44s %14s %14s\n' "audit::Store (canonical, SHA-256 chain)" \
    "$(field recorder_eps "$result")" \
    "$(awk -v n="$events" -v s="$(field recorder_cpu_s "$result")" 'BEGIN { printf "%.0f", n / s }')"
  printf '  %-44s %14s %14s\n' "plain SQLite inserts of the same rows" \
    "$(field plain_eps "$result")" \
    "$(awk -v n="$events" -v s="$(field plain_cpu_s "$result")" 'BEGIN { printf "%.0f", n / s }')"
  printf '  %-44s %14s %14s\n' "  ratio store / plain (goal >= 0.5)" "$(field ratio "$result")" \
    "$(field cpu_ratio "$result")"
  printf '  verify: %s s wall, %s s CPU (goal < 2 s for 1,000,000 events)\n' \
    "$(field verify_s "$result")" "$(field verify_cpu_s "$result")"
  printf '  query by workspace and time range: %s ms median (goal < 10 ms)\n' \
    "$(field query_ms "$result")"
else
  echo "($audit_bench not built: audit store benchmark skipped)"
fi
