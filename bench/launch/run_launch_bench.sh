#!/usr/bin/env bash
# `stockade run` benchmark, one run, ratios printed (root: it provisions test identities and
# starts its own service on a private socket; everything is removed at exit).
#
#   bench/launch/run_launch_bench.sh [BUILD_DIR] [ITERATIONS]
#
#  1. `stockade run --identity offline -- /bin/true` (service running, spawn recorded) against
#     `/bin/true` and `bwrap --ro-bind / / --dev /dev --unshare-net true`;
#  2. the same `stockade run` in a granted 100,000-file workspace against an empty one;
#  3. 32 concurrent clients' throughput (and /bin/true's, for scale).
#  Environment: BENCH_AUDIT_FSYNC=false runs it all with the policy's audit.fsync = false.
#  Before them: the service's side of one run phase by phase (bench_launch_phases, in-process),
#  and what the full command line's start-up costs (`stockade-cli --version`), which the lean
#  `stockade` (cli/stockade_lean_main.cc) no longer pays for `run`.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$repo/build/linux}" && pwd)
ITER=${2:-100}
if [[ $(id -u) -ne 0 ]]; then echo "needs root" >&2; exit 1; fi
BENCH=$BUILD/bench/launch/bench_launch_client
PHASES=$BUILD/bench/launch/bench_launch_phases
STOCKADE=$BUILD/cli/stockade
for f in "$BENCH" "$PHASES" "$STOCKADE" "$BUILD/cli/stockade-cli" "$BUILD/cli/stockaded" \
  "$BUILD/cli/stockade-provision"; do
  [[ -x $f ]] || { echo "missing $f: build first" >&2; exit 1; }
done

PREFIX="stkb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
ROOT=$(mktemp -d /tmp/stkbench.XXXXXX)
chmod 711 "$ROOT"
export STOCKADE_STATE_DIR="$ROOT/state" STOCKADE_POLICY="$ROOT/policy.toml"
SOCK="$ROOT/stockaded.sock"
SERVICE_PID=""
cleanup() {
  [[ -n $SERVICE_PID ]] && kill -TERM "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  "$BUILD/cli/stockade-provision" uninstall >/dev/null 2>&1
  for u in "$PREFIX-offline" "$PREFIX-online"; do id "$u" >/dev/null 2>&1 && userdel "$u"; done
  getent group "$PREFIX-users" >/dev/null && groupdel "$PREFIX-users"
  nft delete table inet "stockade_$PREFIX" >/dev/null 2>&1
  rm -rf "$ROOT"
}
trap cleanup EXIT

# BENCH_AUDIT_FSYNC=false measures the policy's audit.fsync = false (session records committed
# to the WAL without fsync); the default is the shipped policy's true.
cat >"$STOCKADE_POLICY" <<TOML
version = 1
[identities]
prefix = "$PREFIX"
[audit]
fsync = ${BENCH_AUDIT_FSYNC:-true}
TOML
echo "audit.fsync = ${BENCH_AUDIT_FSYNC:-true}"
mkdir -p "$ROOT/state" "$ROOT/empty" "$ROOT/big"
# 100,000 files in 100 folders of 1,000.
for d in $(seq -w 0 99); do
  mkdir "$ROOT/big/d$d"
  (cd "$ROOT/big/d$d" && seq -w 0 999 | sed 's/^/f/' | xargs touch)
done
echo "workspace files: $(find "$ROOT/big" -type f | wc -l)"
P="$BUILD/cli/stockade-provision"
"$P" apply >/dev/null || { echo "apply failed" >&2; exit 1; }
t0=$(date +%s.%N)
"$P" grant "$ROOT/empty" >/dev/null || { echo "grant empty failed" >&2; exit 1; }
t1=$(date +%s.%N)
"$P" grant "$ROOT/big" >/dev/null || { echo "grant big failed" >&2; exit 1; }
t2=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "grant (once per workspace): empty %.2f s, 100k files %.2f s\n", b - a, c - b }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== 0. the service's side of one run, phase by phase (in-process, no client)"
"$PHASES" --workspace "$ROOT/empty" --iterations "$ITER" --audit-store "$ROOT/phases-audit/audit.db" ||
  exit 1
echo
echo "== 0b. start-up of the full command line (what \`stockade run\` paid before the lean front)"
"$BENCH" --iterations "$ITER" --ratio stockade-cli-version/bin-true \
  ::: stockade-cli-version "$BUILD/cli/stockade-cli" --version \
  ::: bin-true /bin/true
echo
"$BUILD/cli/stockaded" serve --socket "$SOCK" >"$ROOT/service.log" 2>&1 &
SERVICE_PID=$!
for ((i = 0; i < 100; i++)); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] || { echo "service did not start:" >&2; cat "$ROOT/service.log" >&2; exit 1; }

RUN=("$STOCKADE" run --socket "$SOCK" --identity offline)
echo
echo "== 1. stockade run -- /bin/true vs /bin/true vs bwrap"
"$BENCH" --iterations "$ITER" --service-pid "$SERVICE_PID" --ratio stockade-run/bin-true --ratio stockade-run/bwrap \
  ::: stockade-run "${RUN[@]}" --workspace "$ROOT/empty" -- /bin/true \
  ::: bin-true /bin/true \
  ::: bwrap /usr/bin/bwrap --ro-bind / / --dev /dev --unshare-net /bin/true
echo
echo "== 2. workspace of 100,000 files vs empty"
"$BENCH" --iterations "$ITER" --service-pid "$SERVICE_PID" --ratio run-100k-files/run-empty \
  ::: run-empty "${RUN[@]}" --workspace "$ROOT/empty" -- /bin/true \
  ::: run-100k-files "${RUN[@]}" --workspace "$ROOT/big" -- /bin/true
echo
echo "== 3. 32 concurrent clients"
"$BENCH" --concurrency 32 --per-client 10 \
  ::: stockade-run "${RUN[@]}" --workspace "$ROOT/empty" -- /bin/true \
  ::: bin-true /bin/true
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Whether the service captured the trees' processes (kernel audit) during the runs: it costs CPU.
echo "service log on the audit capture:"
grep -i -m3 "capture" "$ROOT/service.log" | cut -c1-200 | sed 's/^/  /'
if [[ -f $ROOT/state/audit/audit.db ]] && command -v sqlite3 >/dev/null; then
  echo "audit store: $(stat -c %s "$ROOT/state/audit/audit.db") bytes after the runs"
fi
