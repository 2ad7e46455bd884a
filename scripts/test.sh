#!/usr/bin/env bash
# Runs every test of both targets: the native Linux build (real OS: users, ACLs, nftables,
# processes) and the Windows cross build under Wine. Installs what is missing first.
#   scripts/test.sh            both targets
#   scripts/test.sh linux      one target (or: windows)
# Exit status: 0 when every suite passed, 1 otherwise. Both targets run even if the first fails.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if (($#)); then targets=("$@"); else targets=(linux windows); fi

bash scripts/deps.sh || { echo "test: dependency installation failed" >&2; exit 1; }
source scripts/lib/wine-env.sh

# The Linux tests run programs of the build folder as sandbox identities (other users): every
# folder above it must let others search it (x), or those tests fail with EACCES at execve.
# Say so once, clearly, instead of leaving it to dozens of failures.
unreachable_ancestor() {
  local dir=$1
  while [[ "$dir" != / ]]; do
    if [[ $(stat -c %A "$dir") != d????????[xt] ]]; then echo "$dir"; return; fi
    dir=$(dirname "$dir")
  done
}
if [[ " ${targets[*]} " == *" linux "* ]]; then
  blocked=$(unreachable_ancestor "$repo")
  # In CI (CI=true: a throw-away clone, e.g. under a 0700 `mktemp -d`) the folders are made
  # searchable (o+x: enter, not list); on a developer's machine nothing is changed behind their back.
  while [[ -n "$blocked" && "${CI:-}" == true ]]; do
    echo "test: CI: chmod o+x $blocked (the sandbox identities must reach the build folder)"
    chmod o+x "$blocked" || break
    blocked=$(unreachable_ancestor "$repo")
  done
  if [[ -n "$blocked" ]]; then
    echo "test: $blocked has no search permission for other users ($(stat -c %A "$blocked"));" \
         "the sandbox identities of the Linux tests cannot reach the build folder." \
         "Move the checkout, or: chmod o+x $blocked" >&2
    exit 1
  fi
fi

failed=()
for t in "${targets[@]}"; do
  echo "=== $t: configure and build"
  if ! { cmake --preset "$t" >/dev/null && cmake --build --preset "$t" -j2; }; then
    failed+=("$t (build)")
    continue
  fi
  echo "=== $t: tests"
  if [[ "$t" == windows ]]; then
    stockade_wine_start
    ctest --preset windows
    rc=$?
    stockade_wine_stop
  else
    ctest --preset linux -j2
    rc=$?
  fi
  ((rc == 0)) || failed+=("$t")
done

if ((${#failed[@]})); then
  echo "test: FAILED: ${failed[*]}"
  exit 1
fi
echo "test: all suites passed (${targets[*]})"
