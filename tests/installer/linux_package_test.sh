#!/usr/bin/env bash
# The Linux package for real, as root: dpkg -i -> provisioned (status clean, the service answers,
# selftest when built); dpkg -r -> the receipt is complete with no residue and the account files
# and `nft list ruleset` are byte-identical to before; dpkg --purge -> the state is gone; a failing
# rollback (STOCKADE_FAIL_UNDO_AT through dpkg's environment, the documented test hook) makes
# dpkg -r fail and keeps the package installed, and a retry then removes it cleanly; apt-get
# install ./stockade_*.deb works too.
#
# The package uses the real default places (/etc/stockade, /var/lib/stockade, prefix "stockade"),
# so the test refuses to run (skip, 77) when any of them is in use, and the EXIT trap removes
# everything the package may have created, even on failure. ctest runs it RUN_SERIAL.
#
# Usage: linux_package_test.sh PACKAGE_DIR      (the folder `cpack -G DEB` wrote into)
set -u
PKG_DIR=${1:?usage: $0 PACKAGE_DIR}
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi
for tool in dpkg dpkg-query apt-get nft sqlite3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
DEB=$(ls -t "$PKG_DIR"/stockade_*.deb 2>/dev/null | head -1)
[[ -f $DEB ]] || { echo "FAIL: no stockade_*.deb in $PKG_DIR"; exit 1; }

STATE=/var/lib/stockade
status_of() { dpkg-query -W -f='${Status}' stockade 2>/dev/null; }
if [[ -n $(status_of) && $(status_of) != *not-installed* ]]; then
  echo "SKIP: a stockade package is already on this machine ($(status_of)); not touching it"
  exit 77
fi
for what in "$STATE" /etc/stockade; do
  [[ -e $what ]] && { echo "SKIP: $what exists (Stockade in use here); not touching it"; exit 77; }
done
for who in stockade-offline stockade-online; do
  id "$who" >/dev/null 2>&1 && { echo "SKIP: user $who exists; not touching it"; exit 77; }
done
nft list table inet stockade_stockade >/dev/null 2>&1 &&
  { echo "SKIP: nftables table stockade_stockade exists"; exit 77; }

WORK=$(mktemp -d /tmp/stkdeb.XXXXXX)
FAILS=0
CHECKS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }
quiet() { "$@" >/dev/null 2>&1; }
check() {
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}

cleanup() {
  unset STOCKADE_FAIL_UNDO_AT STOCKADE_FAIL_AT STOCKADE_CRASH_AT
  if [[ -n $(status_of) && $(status_of) != *not-installed* ]]; then
    dpkg_retry --purge stockade >/dev/null 2>&1 ||
      dpkg_retry --purge --force-remove-reinstreq stockade >/dev/null 2>&1
  fi
  # Whatever a broken run may have left, by force.
  for pid in $(pgrep -f "^/usr/bin/stockaded serve --foreground --state-dir $STATE"); do
    kill -9 "$pid"
  done
  for u in stockade-offline stockade-online; do id "$u" >/dev/null 2>&1 && userdel "$u"; done
  getent group stockade-users >/dev/null && groupdel stockade-users
  nft delete table inet stockade_stockade >/dev/null 2>&1
  nft delete table inet stockade_stockade_online >/dev/null 2>&1
  rm -rf "$STATE" /etc/stockade "$WORK"
}
trap cleanup EXIT

# dpkg with its lock: other jobs on the machine may hold it for a moment.
dpkg_retry() {
  local out rc
  for _ in $(seq 1 60); do
    out=$(dpkg "$@" 2>&1); rc=$?
    if [[ $rc -ne 0 ]] && grep -qi 'lock' <<<"$out" && ! grep -q 'stockade' <<<"$out"; then
      sleep 2
      continue
    fi
    printf '%s\n' "$out"
    return $rc
  done
  printf '%s\n' "$out"
  return $rc
}

snapshot() {
  {
    for f in passwd group shadow gshadow; do
      echo "== /etc/$f"; cat "/etc/$f"; echo "== /etc/$f-"; cat "/etc/$f-" 2>/dev/null
    done
    echo "== nft"; nft list ruleset
  } >"$1"
}
same() {
  if cmp -s "$2" "$3"; then ok; else fail "$1: snapshots differ"; diff "$2" "$3" | head -20; fi
}
expect() {  # expect WANT DESCRIPTION -- CMD...
  local want=$1 what=$2; shift 3
  OUT=$("$@" 2>&1); local got=$?
  if [[ $got -ne $want ]]; then fail "$what: exit $got, expected $want"; echo "$OUT" | tail -25
  else ok; fi
}
# Anchored at the binary: an unanchored pattern would match this script's own command lines.
no_daemon() { ! pgrep -f "^/usr/bin/stockaded serve --foreground --state-dir $STATE" >/dev/null; }
service_pid() { cat "$STATE/stockaded.pid" 2>/dev/null; }

check_provisioned() {
  check "dpkg says installed ($(status_of))" test "$(status_of)" = "install ok installed"
  expect 0 "stockade-provision status after install" -- \
    stockade-provision --state-dir "$STATE" --policy /etc/stockade/policy.toml status
  check "status is clean: $OUT" grep -q '^clean:' <<<"$OUT"
  check "user stockade-offline exists" quiet id -u stockade-offline
  check "nftables table stockade_stockade exists" quiet nft list table inet stockade_stockade
  local pid
  pid=$(service_pid)
  check "the service runs (pidfile $STATE/stockaded.pid: '$pid')" kill -0 "${pid:-0}"
  check "the service runs /usr/bin/stockaded" \
    test "$(readlink "/proc/${pid:-0}/exe" 2>/dev/null)" = /usr/bin/stockaded
  check "policy conffile present" test -f /etc/stockade/policy.toml
  # The packaged selftest, in a workspace granted for it and revoked (and removed) afterwards so
  # that nothing the sandbox identities own is left for the uninstall's residue scan.
  if [[ -x /usr/bin/stockade-probe ]]; then
    local ws="$WORK/selftest-ws" p=(--state-dir "$STATE" --policy /etc/stockade/policy.toml)
    mkdir -p "$ws"
    expect 0 "grant a selftest workspace" -- stockade-provision "${p[@]}" grant "$ws"
    expect 0 "stockade selftest after install" -- stockade "${p[@]}" selftest --workspace "$ws"
    echo "$OUT" | tail -3
    expect 0 "revoke the selftest workspace" -- stockade-provision "${p[@]}" revoke "$ws"
    rm -rf "$ws"
  else
    fail "the package lacks /usr/bin/stockade-probe"
  fi
}

check_removed() {
  local before=$1
  check "dpkg says removed ($(status_of))" test "$(status_of)" = "deinstall ok config-files"
  check "receipt written" test -f "$STATE/uninstall-receipt.json"
  check "the receipt says complete" grep -q '"complete": true' "$STATE/uninstall-receipt.json"
  check "the receipt lists no residue" \
    test "$(sqlite3 :memory: "SELECT json_array_length(json_extract(readfile('$STATE/uninstall-receipt.json'), '\$.residue'))")" = 0
  check "no stockaded left running" no_daemon
  check "no user stockade-offline" bash -c '! id stockade-offline 2>/dev/null'
  snapshot "$WORK/after"
  same "account files and nft ruleset after dpkg -r" "$before" "$WORK/after"
}

snapshot "$WORK/before"

# 1. dpkg -i, dpkg -r, dpkg --purge.
expect 0 "dpkg -i" -- dpkg_retry -i "$DEB"
check_provisioned
expect 0 "dpkg -r" -- dpkg_retry -r stockade
check_removed "$WORK/before"
check "dpkg -r keeps the state (audit store, receipt) until purge" test -d "$STATE"
expect 0 "dpkg --purge" -- dpkg_retry --purge stockade
check "purge removes $STATE" test ! -e "$STATE"
check "purge removes /etc/stockade" test ! -e /etc/stockade
check "dpkg forgot the package" bash -c "[[ -z \$(dpkg-query -W -f='\${Status}' stockade 2>/dev/null) || \$(dpkg-query -W -f='\${Status}' stockade) == *not-installed* ]]"

# 2. A rollback that fails: dpkg -r fails and the package stays installed; a retry is clean.
expect 0 "dpkg -i (second time)" -- dpkg_retry -i "$DEB"
check_provisioned
export STOCKADE_FAIL_UNDO_AT=1
expect 1 "dpkg -r with a failing rollback (STOCKADE_FAIL_UNDO_AT=1)" -- dpkg_retry -r stockade
unset STOCKADE_FAIL_UNDO_AT
check "the failure is explained: $(grep -m1 'removal aborted' <<<"$OUT")" grep -q 'removal aborted' <<<"$OUT"
# The selection becomes "deinstall" (removal was asked for); the state stays "installed".
check "dpkg keeps it installed ($(status_of))" grep -q ' ok installed$' <<<"$(status_of)"
check "the receipt says incomplete" grep -q '"complete": false' "$STATE/uninstall-receipt.json"
expect 0 "dpkg -r (retry)" -- dpkg_retry -r stockade
check_removed "$WORK/before"
expect 0 "dpkg --purge (second time)" -- dpkg_retry --purge stockade
check "purge removes $STATE" test ! -e "$STATE"

# 3. apt-get install ./stockade_*.deb (the dependencies are already on the machine).
cp "$DEB" "$WORK/"
expect 0 "apt-get install ./$(basename "$DEB")" -- \
  apt-get install -y -o DPkg::Lock::Timeout=120 "$WORK/$(basename "$DEB")"
check_provisioned
expect 0 "apt-get purge" -- apt-get purge -y -o DPkg::Lock::Timeout=120 stockade
check_removed_purged() {
  check "purged ($(status_of))" bash -c "[[ -z \"$(status_of)\" || \"$(status_of)\" == *not-installed* ]]"
  check "purge removes $STATE" test ! -e "$STATE"
  snapshot "$WORK/after"
  same "account files and nft ruleset after apt-get purge" "$WORK/before" "$WORK/after"
}
check_removed_purged

echo "linux package: $CHECKS check(s) passed, $FAILS failed"
[[ $FAILS -eq 0 ]]
