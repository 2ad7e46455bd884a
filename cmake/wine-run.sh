#!/usr/bin/env bash
# Runs a Windows executable under Wine with a private, headless prefix.
# Never runs Wine with WINEPREFIX unset (that silently creates ~/.wine).
#   STOCKADE_WINEPREFIX  prefix to use (default: build/windows/wineprefix beside this script's repo)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export WINEPREFIX=${STOCKADE_WINEPREFIX:-$repo/build/windows/wineprefix}
export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
  mkdir -p "$(dirname "$WINEPREFIX")"
  # Serialise first-time creation: ctest may start several tests at once.
  exec 9>"$WINEPREFIX.lock"
  flock 9
  if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    wineboot -i >/dev/null 2>&1
    wineserver -w
  fi
  flock -u 9
fi
exec wine "$@"
