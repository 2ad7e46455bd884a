#!/usr/bin/env bash
# The main job: installs dependencies, builds both targets, checks the default policy and starts
# the executables natively and under Wine. Later issues grow it into the whole lifecycle
# (provision, grant, run, audit, uninstall).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
bash scripts/deps.sh

for preset in linux windows; do
  step "build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j2
done

linux=build/linux/cli
step "stockade --version (Linux)"
"$linux/stockade" --version
step "stockade policy show (embedded default policy, Linux)"
"$linux/stockade" policy show
step "stockade policy check docs/examples/policy.toml (Linux)"
"$linux/stockade" policy check docs/examples/policy.toml

source scripts/lib/wine-env.sh
step "stockade.exe --version (Windows build under Wine)"
stockade_wine_start
trap stockade_wine_stop EXIT
"$repo/cmake/wine-run.sh" build/windows/cli/stockade.exe --version
"$repo/cmake/wine-run.sh" build/windows/cli/stockade.exe policy check "Z:$repo/docs/examples/policy.toml"
step "done"
