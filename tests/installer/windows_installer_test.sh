#!/usr/bin/env bash
# The Windows installer (stockade-setup.exe) under Wine, one case per run, each in a fresh Wine
# prefix (a copy of a pristine one, removed afterwards even on failure):
#   install_default   silent install into C:\Program Files\Stockade: files, registry values, the
#                     journal; silent uninstall with `_?=` run as one argument per word (as a
#                     shell passes "uninstall.exe /S _?=C:\Program Files\Stockade"): synchronous,
#                     no files or registry keys left, the archive retained
#   install_spaces    /D= with spaces and /GRANT=; uninstall through the registry's
#                     QuietUninstallString run by cmd.exe (as a fleet tool does), with /PURGE:
#                     nothing at all left
#   policy_invalid    /POLICY= of an invalid file: exit 22, everything rolled back; a missing
#                     /POLICY= file: exit 21 before anything is written
#   upgrade           an older build (made here with makensis) then this one: the audit store
#                     and journal are kept, the version values move, the new policy is applied
#   prefix            (fixture) creates the pristine prefix once
#
# Under Wine the identity, ACL and firewall steps cannot persist (docs/windows-verification.md),
# so the installs run with the provisioner's test hook STOCKADE_PLAN_ONLY=windows.write_sid: the
# provisioner journals, applies, reads back and rolls back that registry step for real.
#
# Usage: windows_installer_test.sh CASE SETUP_EXE WORK_DIR [MAKENSIS NSI BIN_DIR SOURCE_DIR]
set -u
CASE=${1:?case}
SETUP=${2:?setup exe}
WORK=${3:?work dir}
MAKENSIS=${4:-}
NSI=${5:-}
BIN_DIR=${6:-}
SOURCE_DIR=${7:-}

export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
PRISTINE="$WORK/pristine"
FAILS=0
CHECKS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}

if [[ $CASE == prefix ]]; then
  mkdir -p "$WORK"
  exec 9>"$WORK/pristine.lock"
  flock 9
  if [[ ! -f $PRISTINE/system.reg ]]; then
    rm -rf "$PRISTINE"
    WINEPREFIX=$PRISTINE wineboot -i >/dev/null 2>&1
    WINEPREFIX=$PRISTINE wineserver -w
  fi
  [[ -f $PRISTINE/system.reg ]] || { echo "FAIL: could not create $PRISTINE"; exit 1; }
  echo "pristine prefix ready: $PRISTINE"
  exit 0
fi

[[ -f $SETUP ]] || { echo "FAIL: $SETUP was not built"; exit 1; }
[[ -f $PRISTINE/system.reg ]] || { echo "FAIL: no pristine prefix (fixture 'prefix')"; exit 1; }

# A fresh prefix: hard links for the immutable bulk, real copies of the registry files (which
# wineserver rewrites in place).
export WINEPREFIX
WINEPREFIX=$(mktemp -d "$WORK/prefix-$CASE.XXXXXX")
rmdir "$WINEPREFIX"
cp -al "$PRISTINE" "$WINEPREFIX"
for f in "$WINEPREFIX"/*.reg; do cp --remove-destination "$PRISTINE/${f##*/}" "$f"; done
TMP=$(mktemp -d "$WORK/tmp-$CASE.XXXXXX")
cleanup() {
  wineserver -k >/dev/null 2>&1
  rm -rf "$WINEPREFIX" "$TMP"
}
trap cleanup EXIT
wineserver -p >/dev/null 2>&1  # one persistent server: no 2.5 s wait per wine start
# The first start also starts Wine's services (winedevice.exe), which live as long as the
# server and keep the descriptors they inherit: start them with /dev/null, not with a pipe that
# a later $(...) would wait on forever. Outputs are read through files for the same reason.
wine cmd /c exit 0 </dev/null >/dev/null 2>&1
C="$WINEPREFIX/drive_c"
STATE="$C/ProgramData/Stockade"
UNINSTALL_KEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\Stockade'
PRODUCT_KEY='HKLM\Software\Stockade'
export STOCKADE_PLAN_ONLY=windows.write_sid

# win_run EXE ARGS...: runs under Wine, exit code in $RC, output in $OUT.
win_run() {
  wine "$@" </dev/null >"$TMP/out" 2>&1
  RC=$?
  OUT=$(tr -d '\r' <"$TMP/out")
}
# win_line 'COMMAND LINE': runs one Windows command line exactly as written, the way a fleet
# tool (or a person at cmd.exe) does: from a .cmd file, so that no Unix-to-Windows argument
# quoting gets in between. Exit code in $RC, output in $OUT.
win_line() {
  printf '@%s\r\n@exit /b %%ERRORLEVEL%%\r\n' "$1" >"$C/stk-run.cmd"
  wine cmd /c 'C:\stk-run.cmd' </dev/null >"$TMP/out" 2>&1
  RC=$?
  OUT=$(tr -d '\r' <"$TMP/out")
  rm -f "$C/stk-run.cmd"
}
SETUP_WIN="Z:${SETUP//\//\\}"
# regq KEY VALUE: the value's data as `reg query` prints it, or nothing.
regq() {
  wine reg query "$1" /v "$2" </dev/null >"$TMP/reg" 2>/dev/null
  tr -d '\r' <"$TMP/reg" | awk -v v="$2" '$1 == v { $1 = ""; $2 = ""; sub(/^  */, ""); print }'
}
reg_key_exists() { wine reg query "$1" </dev/null >/dev/null 2>&1; }
reg_key_absent() { ! reg_key_exists "$1"; }
# Journal rows, read with the sqlite3 CLI from the Linux side (the file is a plain SQLite db).
journal() { sqlite3 -readonly "$STATE/journal.db" "$1" 2>&1; }

expect_rc() {  # expect_rc WANT DESCRIPTION
  if [[ $RC -eq $1 ]]; then ok; else
    fail "$2: exit $RC, expected $1"
    echo "$OUT" | tail -20
    find "$C" -name 'stockade-*.log' -exec tail -30 {} \; 2>/dev/null
  fi
}

# Everything a successful install must show, for install folder $1 (a Unix path) and Windows
# path $2.
check_installed() {
  local dir=$1 win=$2 version=$3
  for f in stockade.exe stockaded.exe stockade-provision.exe uninstall.exe default-policy.toml; do
    check "$f installed in $win" test -f "$dir/$f"
  done
  check "policy in ProgramData" test -f "$STATE/policy.toml"
  check "journal present" test -f "$STATE/journal.db"
  local txn
  txn=$(journal "SELECT kind || ':' || state FROM transactions ORDER BY id LIMIT 1")
  check "journal holds the committed apply (got '$txn')" test "$txn" = "apply:committed"
  local v
  v=$(regq "$PRODUCT_KEY" Version)
  check "detection value Version = $version (got '$v')" test "$v" = "$version"
  v=$(regq "$UNINSTALL_KEY" DisplayVersion)
  check "DisplayVersion = $version (got '$v')" test "$v" = "$version"
  v=$(regq "$UNINSTALL_KEY" DisplayName)
  check "DisplayName (got '$v')" test "$v" = "Stockade"
  v=$(regq "$UNINSTALL_KEY" Publisher)
  check "Publisher (got '$v')" test -n "$v"
  v=$(regq "$UNINSTALL_KEY" InstallLocation)
  check "InstallLocation = $win (got '$v')" test "$v" = "$win"
  v=$(regq "$UNINSTALL_KEY" UninstallString)
  check "UninstallString (got '$v')" test "$v" = "\"$win\\uninstall.exe\" _?=$win"
  v=$(regq "$UNINSTALL_KEY" QuietUninstallString)
  check "QuietUninstallString (got '$v')" test "$v" = "\"$win\\uninstall.exe\" /S _?=$win"
  v=$(regq "$UNINSTALL_KEY" EstimatedSize)
  check "EstimatedSize is a non-zero DWORD (got '$v')" test -n "$v" -a "$v" != "0x0"
  v=$(regq "$PRODUCT_KEY" WriteSid)
  check "the provisioned write SID is in the registry (got '$v')" grep -qE '^S-1-5-21-' <<<"$v"
  win_run "$dir/stockade-provision.exe" status
  check "stockade-provision status is clean: $OUT" grep -q '^clean: 1 step' <<<"$OUT"
}

# What must be gone after an uninstall (or a rolled-back install).
check_nothing_left() {
  local dir=$1
  check "install folder $dir removed" test ! -e "$dir"
  check "state folder removed" test ! -e "$STATE"
  check "uninstall key removed" reg_key_absent "$UNINSTALL_KEY"
  check "product key removed" reg_key_absent "$PRODUCT_KEY"
}

# The uninstaller deletes its own image once it has exited (a running image cannot be deleted):
# wait for that, bounded.
wait_gone() {
  local path=$1
  for _ in $(seq 1 60); do
    [[ -e $path ]] || return 0
    sleep 0.5
  done
  return 1
}

case "$CASE" in
  install_default)
    win_line "\"$SETUP_WIN\" /S"
    expect_rc 0 "silent install"
    DIR="$C/Program Files/Stockade"
    check_installed "$DIR" 'C:\Program Files\Stockade' 0.1.0
    check "setup log kept in the state folder" test -f "$STATE/logs/setup-0.1.0.log"
    # Synchronous: when wine returns, the rollback, the archive and the removal are done.
    win_run "$DIR/uninstall.exe" /S _?=C:\\Program Files\\Stockade
    expect_rc 0 "silent uninstall with _?= (one argument per word)"
    check "state folder removed when uninstall.exe returned" test ! -e "$STATE"
    check "stockade-provision.exe removed when uninstall.exe returned" \
      test ! -e "$DIR/stockade-provision.exe"
    check "uninstall key removed when uninstall.exe returned" \
      reg_key_absent "$UNINSTALL_KEY"
    check "uninstall.exe removes itself after exiting" wait_gone "$DIR"
    check_nothing_left "$DIR"
    ARCHIVE=$(find "$C/ProgramData/Stockade-archive" -mindepth 1 -maxdepth 1 -type d | head -1)
    check "archive retained" test -n "$ARCHIVE"
    check "archive holds the rollback receipt" test -f "$ARCHIVE/uninstall-receipt.json"
    check "the receipt says complete" grep -q '"complete": true' "$ARCHIVE/uninstall-receipt.json"
    check "archive holds the journal" test -f "$ARCHIVE/journal.db"
    ;;

  install_spaces)
    mkdir -p "$C/work space/ws one"
    win_line "\"$SETUP_WIN\" /S /GRANT=\"C:\\work space\\ws one\" /D=C:\\Program Files\\Stockade Agents Dir"
    # A grant needs the sandbox identities, which Wine cannot persist (the plan holds only the
    # write SID): the grant fails, the installer undoes everything and says so with exit 24.
    expect_rc 24 "install with a /GRANT= that provisioning under Wine cannot satisfy"
    check_nothing_left "$C/Program Files/Stockade Agents Dir"
    win_line "\"$SETUP_WIN\" /S /D=C:\\Program Files\\Stockade Agents Dir"
    expect_rc 0 "silent install into a folder with spaces"
    DIR="$C/Program Files/Stockade Agents Dir"
    check_installed "$DIR" 'C:\Program Files\Stockade Agents Dir' 0.1.0
    # The fleet tool's way: the registry's QuietUninstallString run as one command line (here by
    # cmd.exe from a script), with /PURGE added before `_?=` (NSIS reads the rest of the line
    # after `_?=` as the folder, so options must come first).
    QUIET=$(regq "$UNINSTALL_KEY" QuietUninstallString)
    win_line "${QUIET/ \/S / /S /PURGE }"
    expect_rc 0 "silent uninstall, /PURGE, QuietUninstallString with spaces via cmd.exe"
    check "uninstall.exe removes itself after exiting" wait_gone "$DIR"
    check_nothing_left "$DIR"
    check "/PURGE: no archive" test ! -e "$C/ProgramData/Stockade-archive"
    ;;

  policy_invalid)
    printf 'version = 1\n[identities]\nprefx = "x"\n' >"$TMP/bad policy.toml"
    win_line "\"$SETUP_WIN\" /S /POLICY=\"Z:${TMP//\//\\}\\bad policy.toml\""
    expect_rc 22 "install with an invalid policy"
    check_nothing_left "$C/Program Files/Stockade"
    LOG=$(find "$C/users" -name stockade-setup.log | head -1)
    check "the setup log names the policy error" grep -q "policy.toml:3:1: unknown key .prefx." "$LOG"
    [[ $FAILS -eq 0 ]] || cat "$LOG"
    check "the setup log says it rolled back" grep -q "rolled back (exit code 22)" "$LOG"
    win_line "\"$SETUP_WIN\" /S /POLICY=\"Z:${TMP//\//\\}\\no such policy.toml\""
    expect_rc 21 "install with a missing policy file"
    check_nothing_left "$C/Program Files/Stockade"
    ;;

  upgrade)
    [[ -x $MAKENSIS ]] || { echo "FAIL: makensis not given"; exit 1; }
    "$MAKENSIS" -V2 -NOCD -DSTOCKADE_VERSION=0.0.9 "-DSTOCKADE_BIN_DIR=$BIN_DIR" \
      "-DSTOCKADE_SOURCE_DIR=$SOURCE_DIR" "-DOUTFILE=$TMP/stockade-setup-0.0.9.exe" "$NSI" ||
      fail "building the older installer"
    win_line "\"Z:${TMP//\//\\}\\stockade-setup-0.0.9.exe\" /S"
    expect_rc 0 "install 0.0.9"
    DIR="$C/Program Files/Stockade"
    check_installed "$DIR" 'C:\Program Files\Stockade' 0.0.9
    # The audit store the service keeps (a real SQLite database with one row).
    mkdir -p "$STATE/audit"
    sqlite3 "$STATE/audit/audit.db" \
      "CREATE TABLE events(seq INTEGER PRIMARY KEY, body TEXT); INSERT INTO events(body) VALUES('kept');"
    BEFORE=$(sha256sum "$STATE/audit/audit.db" | cut -d' ' -f1)
    sed 's/loopback_ports = \[3128\]/loopback_ports = [3128, 8080]/' \
      "$SOURCE_DIR/docs/examples/policy.toml" >"$TMP/new-policy.toml"
    win_line "\"$SETUP_WIN\" /S /POLICY=Z:${TMP//\//\\}\\new-policy.toml"
    expect_rc 0 "upgrade to 0.1.0 with a new policy"
    check_installed "$DIR" 'C:\Program Files\Stockade' 0.1.0
    AFTER=$(sha256sum "$STATE/audit/audit.db" | cut -d' ' -f1)
    check "the audit store is kept byte for byte" test "$BEFORE" = "$AFTER"
    check "the new policy is in place" grep -q '3128, 8080' "$STATE/policy.toml"
    N=$(journal "SELECT count(*) FROM transactions WHERE kind = 'apply' AND state = 'committed'")
    check "the journal kept the first apply (committed applies: $N)" test "$N" -ge 1
    LOG=$(find "$C/users" -name stockade-setup.log | head -1)
    check "the upgrade re-applied the policy" grep -q 'apply' "$LOG"
    check "the upgrade was logged as one" grep -q 'upgrading Stockade 0.0.9' "$LOG"
    win_run "$DIR/uninstall.exe" /S _?=C:\\Program Files\\Stockade
    expect_rc 0 "uninstall after the upgrade"
    ARCHIVE=$(find "$C/ProgramData/Stockade-archive" -mindepth 1 -maxdepth 1 -type d | head -1)
    check "the archived audit store is the same store" \
      test "$(sha256sum "$ARCHIVE/audit/audit.db" 2>/dev/null | cut -d' ' -f1)" = "$BEFORE"
    check "uninstall.exe removes itself after exiting" wait_gone "$DIR"
    check_nothing_left "$DIR"
    ;;

  *)
    echo "unknown case $CASE"
    exit 2
    ;;
esac

echo "$CASE: $CHECKS check(s) passed, $FAILS failed"
[[ $FAILS -eq 0 ]]
