#!/usr/bin/env bash
# Grant/revoke of the Linux workspace-grant step vs setfacl on a 100,000-file tree, in one run;
# prints the times and the ratios Stockade / setfacl (goal: <= 1.0 for grant+journal and revoke).
#
#   bench/provision/run_acl_bench.sh [BUILD_DIR] [bench_acl_grant options...]
#
# Needs root. BUILD_DIR defaults to build/linux. Options: --files N --rounds N --dir D --user U.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build/linux}
shift || true
bin="$build/bench/provision/bench_acl_grant"
[[ -x "$bin" ]] || { echo "missing $bin: build first (cmake --build $build)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 1; }
command -v setfacl >/dev/null || { echo "setfacl is missing (apt-get install acl)" >&2; exit 1; }
"$bin" "$@" | grep -v '^RESULT'
