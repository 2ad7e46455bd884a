# Sourced by scripts: the Wine environment the Windows tests use, and a persistent wineserver
# around ctest (without it, each test waits ~2.5 s for a lingering wineserver to exit).
export STOCKADE_WINEPREFIX=${STOCKADE_WINEPREFIX:-$repo/build/windows/wineprefix}
stockade_wine_env() {
  export WINEPREFIX=$STOCKADE_WINEPREFIX WINEARCH=win64 WINEDEBUG=-all
  export WINEDLLOVERRIDES="mscoree,mshtml="
  unset DISPLAY
}
stockade_wine_start() {
  # Creates the prefix if needed (through the same wrapper the tests use), keeps a server, then
  # starts one Wine process outside ctest so that Wine's background services (winedevice,
  # services, explorer) start here: started by the first test, they would inherit ctest's output
  # pipe and hold that test until its timeout.
  "$repo/cmake/wine-run.sh" cmd /c exit 0 >/dev/null 2>&1 </dev/null || true
  ( stockade_wine_env; wineserver -p )
  "$repo/cmake/wine-run.sh" cmd /c exit 0 >/dev/null 2>&1 </dev/null || true
}
stockade_wine_stop() {
  ( stockade_wine_env; wineserver -k 2>/dev/null || true )
}
