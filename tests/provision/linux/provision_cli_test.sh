#!/usr/bin/env bash
# End-to-end tests of `stockade-provision` through the real executable, as root, on the real
# system: apply/status/rollback with byte-identical snapshots, crash injection at every crash
# point of apply, grant, revoke and rollback, failure injection, idempotence, drift of each kind
# and its repair, concurrent applies, and bad inputs. Each run uses its own identity prefix and
# state folder, and the EXIT trap removes everything it may have created, even on failure.
#
# Usage: provision_cli_test.sh /path/to/stockade-provision     (exit 77: skipped, not root)
set -u
EXE=${1:?usage: $0 /path/to/stockade-provision}
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi
for tool in nft getfacl setfacl useradd setpriv flock sqlite3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

PREFIX="stkc$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
ROOT=$(mktemp -d /tmp/stkcli.XXXXXX)
STATE="$ROOT/state"
WS="$ROOT/ws"
POLICY="$ROOT/policy.toml"
TABLE="stockade_${PREFIX}"
export STOCKADE_STATE_DIR="$STATE" STOCKADE_POLICY="$POLICY" STOCKADE_LOCK_TIMEOUT_MS=10000
FAILS=0
CHECKS=0
CRASH_POINTS=0

cleanup() {
  # Best effort: undo through the product first, then remove anything left by force.
  unset STOCKADE_CRASH_AT STOCKADE_FAIL_AT
  "$EXE" uninstall >/dev/null 2>&1 || true
  for u in "$PREFIX-offline" "$PREFIX-online"; do
    id "$u" >/dev/null 2>&1 && userdel "$u" >/dev/null 2>&1
  done
  getent group "$PREFIX-users" >/dev/null && groupdel "$PREFIX-users" >/dev/null 2>&1
  nft delete table inet "$TABLE" >/dev/null 2>&1
  rm -rf "$ROOT"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }
# expect CODE DESCRIPTION -- CMD...: runs CMD, checks its exit code; output in $OUT.
expect() {
  local want=$1 what=$2; shift 3
  OUT=$("$@" 2>&1); local got=$?
  if [[ $got -ne $want ]]; then fail "$what: exit $got, expected $want; output:"; echo "$OUT" | head -20
  else ok; fi
}
contains() {  # contains DESCRIPTION PATTERN (in $OUT)
  if grep -qE -- "$2" <<<"$OUT"; then ok; else fail "$1: output lacks /$2/:"; echo "$OUT" | head -20; fi
}

# Everything apply/grant may touch, as bytes.
snapshot() {
  {
    for f in passwd group shadow gshadow; do
      echo "== /etc/$f"; cat "/etc/$f"; echo "== /etc/$f-"; cat "/etc/$f-" 2>/dev/null
    done
    echo "== nft"; nft list ruleset
    echo "== acl"; (cd "$WS" && getfacl -R -p -n . 2>/dev/null)
    echo "== modes"; (cd "$WS" && find . -printf '%m %U %G %p\n' | sort)
    echo "== ancestors"; stat -c '%a %U %G %n' "$ROOT"; getfacl -p -n "$ROOT" 2>/dev/null
    echo "== state"; stat -c '%a %U %G %n' "$STATE"
  } >"$1"
}
same() {  # same DESCRIPTION A B
  if cmp -s "$2" "$3"; then ok; else fail "$1: snapshots differ"; diff "$2" "$3" | head -20; fi
}

cat >"$POLICY" <<TOML
version = 1
[identities]
prefix = "$PREFIX"
[network.offline]
mode = "blocked"
loopback_ports = [3128]
[network.online]
mode = "allowed"
[filesystem]
protected = [".git", "{workspace}/secrets"]
TOML

# A workspace with pre-existing custom ACLs (access and default) that revoke must restore.
mkdir -p "$STATE" "$WS/src/deep" "$WS/.git/objects" "$WS/secrets" "$WS/shared"
chmod 755 "$STATE"
for i in 1 2 3; do echo "file $i" >"$WS/src/f$i.txt"; done
echo key >"$WS/secrets/key"; echo ref >"$WS/.git/HEAD"; echo x >"$WS/src/deep/x"
chmod 640 "$WS/src/f2.txt"; chmod 700 "$WS/shared"
setfacl -m u:daemon:r "$WS/src/f1.txt"
setfacl -m g:adm:rx,d:g:adm:rx "$WS/shared"
setfacl -m d:u:daemon:rwx "$WS/src"

snapshot "$ROOT/before.snap"
START=$(date +%s.%N)

echo "-- help and usage"
for sub in apply status repair grant revoke rollback uninstall; do
  expect 0 "$sub --help" -- "$EXE" "$sub" --help
done
expect 0 "status before anything" -- "$EXE" status
contains "status before anything" "not provisioned"

echo "-- apply -> status clean -> second apply -> rollback, byte-identical"
expect 0 "apply" -- "$EXE" apply
contains "apply" "apply: applied 5 step"
contains "apply progress" "applied: .*$PREFIX-offline"
id "$PREFIX-offline" >/dev/null 2>&1 && ok || fail "user $PREFIX-offline missing after apply"
nft list table inet "$TABLE" | grep -q "meta skuid" && ok || fail "nft table $TABLE lacks skuid rules"
[[ $(stat -c %a "$STATE") == 711 ]] && ok || fail "state dir mode $(stat -c %a "$STATE")"
expect 0 "status clean" -- "$EXE" status
contains "status clean" "^clean: 5 step"
expect 0 "status --json" -- "$EXE" status --json
python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["ok"] and len(d["steps"])==5' <<<"$OUT" && ok || fail "status --json"
expect 0 "second apply" -- "$EXE" apply
contains "second apply" "^apply: no changes"
snapshot "$ROOT/applied-nows.snap"
expect 0 "rollback" -- "$EXE" rollback
contains "rollback" "rolled back transaction 1 \(5 step"
snapshot "$ROOT/after.snap"
same "apply+rollback" "$ROOT/before.snap" "$ROOT/after.snap"

echo "-- grant with pre-existing ACLs, revoke restores them exactly"
expect 0 "apply again" -- "$EXE" apply
snapshot "$ROOT/applied.snap"
same "re-apply equals first apply" "$ROOT/applied-nows.snap" "$ROOT/applied.snap"
expect 0 "grant" -- "$EXE" grant "$WS"
getfacl -p -n "$WS/src/f3.txt" | grep -q "^user:$(id -u "$PREFIX-offline"):rw" && ok || fail "grant: no rw entry for offline on f3"
getfacl -p "$WS/.git/HEAD" | grep -q "^user:$PREFIX-offline:r-" && ok || fail "grant: .git/HEAD not read-only for offline"
getfacl -p "$WS/secrets/key" | grep -q "^user:$PREFIX-offline:r-" && ok || fail "grant: secrets/key not read-only"
expect 0 "second grant" -- "$EXE" grant "$WS"
contains "second grant" "no changes"
expect 0 "status with grant" -- "$EXE" status
snapshot "$ROOT/granted.snap"
expect 0 "revoke" -- "$EXE" revoke "$WS"
snapshot "$ROOT/revoked.snap"
same "grant+revoke" "$ROOT/applied.snap" "$ROOT/revoked.snap"
expect 1 "revoke of a folder not granted" -- "$EXE" revoke "$WS"
contains "revoke not granted" "is not granted"

echo "-- drift of each kind: detected by status, fixed by repair"
expect 0 "grant for drift" -- "$EXE" grant "$WS"
drift_case() {  # drift_case NAME EXPECTED_PATTERN -- COMMAND...
  local name=$1 pattern=$2; shift 3
  "$@" >/dev/null 2>&1 || fail "drift $name: could not cause it"
  expect 9 "status sees $name" -- "$EXE" status
  contains "status names $name" "$pattern"
  expect 0 "repair $name" -- "$EXE" repair
  contains "repair $name" "repair: applied"
  expect 0 "status after repair of $name" -- "$EXE" status
}
drift_case "deleted user" "drift: user $PREFIX-online: missing user" -- userdel "$PREFIX-online"
drift_case "deleted rules" "drift: network rules of $PREFIX-offline: deleted rules" -- nft delete table inet "$TABLE"
drift_case "changed ACL" "drift: workspace $WS: changed ACL" -- setfacl -R -b "$WS/src"
drift_case "edited group" "drift: group $PREFIX-users: edited group" -- gpasswd -a daemon "$PREFIX-users"
expect 0 "rollback --all after repairs" -- "$EXE" rollback --all
snapshot "$ROOT/after-drift.snap"
same "drift+repair+rollback --all" "$ROOT/before.snap" "$ROOT/after-drift.snap"

echo "-- failure injection: the network step fails -> automatic rollback -> clean"
for mode in 5 5:after; do
  expect 1 "apply with STOCKADE_FAIL_AT=$mode" -- env STOCKADE_FAIL_AT=$mode "$EXE" apply
  contains "fail $mode" "fault injection"
  contains "fail $mode rolled back" "rolled back"
  snapshot "$ROOT/failed.snap"
  same "failed apply ($mode) leaves the system as before" "$ROOT/before.snap" "$ROOT/failed.snap"
done

echo "-- crash injection at every crash point"
# Each crash is followed by an ordinary invocation (repair: it resolves what the crash left
# open, then re-verifies); the system must then be exactly before or exactly after.
crash_loop() {  # crash_loop NAME BEFORE_SNAP AFTER_SNAP RESET_TO_BEFORE_CMD -- CMD...
  local name=$1 before=$2 after=$3 reset=$4; shift 5
  local n=1 points=0
  while :; do
    OUT=$(STOCKADE_CRASH_AT=$n "$@" 2>&1); local rc=$?
    if [[ $rc -ne 86 ]]; then
      [[ $rc -eq 0 ]] && ok || { fail "$name: run with STOCKADE_CRASH_AT=$n exited $rc"; echo "$OUT" | head; }
      break
    fi
    points=$((points + 1))
    expect 0 "$name: recovery after crash $n" -- "$EXE" repair
    snapshot "$ROOT/crash.snap"
    if cmp -s "$ROOT/crash.snap" "$before"; then ok
    elif cmp -s "$ROOT/crash.snap" "$after"; then ok
    else
      fail "$name: after crash at point $n the system is neither before nor after"
      diff "$before" "$ROOT/crash.snap" | head -10
    fi
    expect 0 "$name: status after crash $n" -- "$EXE" status
    # Back to the starting point for the next point.
    if ! cmp -s "$ROOT/crash.snap" "$before"; then eval "$reset" >/dev/null 2>&1; fi
    snapshot "$ROOT/crash.snap"
    cmp -s "$ROOT/crash.snap" "$before" || { fail "$name: reset after point $n failed"; break; }
    n=$((n + 1))
  done
  # The completed run leaves "after", which is where the next loop starts.
  snapshot "$ROOT/crash.snap"
  same "$name: completed run" "$after" "$ROOT/crash.snap"
  echo "[crash points] $name: $points"
  CRASH_POINTS=$((CRASH_POINTS + points))
}
crash_loop apply "$ROOT/before.snap" "$ROOT/applied.snap" '"$EXE" rollback --all' -- "$EXE" apply
crash_loop grant "$ROOT/applied.snap" "$ROOT/granted.snap" '"$EXE" revoke "$WS"' -- "$EXE" grant "$WS"
crash_loop revoke "$ROOT/granted.snap" "$ROOT/applied.snap" '"$EXE" grant "$WS"' -- "$EXE" revoke "$WS"
crash_loop rollback "$ROOT/applied.snap" "$ROOT/before.snap" '"$EXE" apply' -- "$EXE" rollback --all
echo "[crash points] total: $CRASH_POINTS"
[[ $CRASH_POINTS -ge 40 ]] && ok || fail "only $CRASH_POINTS crash points covered"

echo "-- two concurrent applies"
snapshot "$ROOT/pre-concurrent.snap"
same "starting from before" "$ROOT/before.snap" "$ROOT/pre-concurrent.snap"
"$EXE" apply >"$ROOT/c1.out" 2>&1 & P1=$!
"$EXE" apply >"$ROOT/c2.out" 2>&1 & P2=$!
wait $P1; R1=$?; wait $P2; R2=$?
[[ $R1 -eq 0 && $R2 -eq 0 ]] && ok || fail "concurrent applies exited $R1 and $R2: $(cat "$ROOT/c1.out" "$ROOT/c2.out")"
[[ $(cat "$ROOT/c1.out" "$ROOT/c2.out" | grep -c '^apply: no changes') -eq 1 ]] && ok ||
  fail "exactly one concurrent apply should say no changes: $(cat "$ROOT/c1.out" "$ROOT/c2.out")"
snapshot "$ROOT/concurrent.snap"
same "concurrent applies end applied" "$ROOT/applied.snap" "$ROOT/concurrent.snap"
# A holder that does not let go: the second provisioner waits, then fails clearly (exit 5).
flock "$STATE/provision.lock" sleep 3 & HOLDER=$!
sleep 0.3
expect 5 "apply while the lock is held" -- env STOCKADE_LOCK_TIMEOUT_MS=500 "$EXE" apply
contains "lock message" "another stockade-provision"
wait $HOLDER

echo "-- bad inputs"
expect 4 "not elevated" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$EXE" apply
contains "not elevated message" "must run as root"
echo 'version = 1
[limits]
max_processes = "many"' >"$ROOT/bad.toml"
expect 3 "invalid policy" -- "$EXE" --policy "$ROOT/bad.toml" apply
expect 3 "missing policy" -- "$EXE" --policy "$ROOT/missing.toml" apply
ln -s "$WS" "$ROOT/link"
expect 2 "grant a symlink" -- "$EXE" grant "$ROOT/link"
contains "symlink refusal" "symlink|link"
expect 2 "grant inside a system folder" -- "$EXE" grant /etc/ssl
expect 2 "grant the filesystem root" -- "$EXE" grant /
expect 2 "grant a whole home" -- "$EXE" grant "$(getent passwd root | cut -d: -f6)"
expect 2 "grant /tmp" -- "$EXE" grant /tmp
mkdir -p "$ROOT/corrupt" "$ROOT/future"
head -c 8192 /dev/urandom >"$ROOT/corrupt/journal.db"
expect 5 "corrupted journal" -- "$EXE" --state-dir "$ROOT/corrupt" apply
contains "corrupt message" "E_STATE_CORRUPT"
expect 5 "corrupted journal (status)" -- "$EXE" --state-dir "$ROOT/corrupt" status
sqlite3 "$ROOT/future/journal.db" "PRAGMA application_id=1398033226; PRAGMA user_version=999; CREATE TABLE x(y);"
expect 5 "future journal" -- "$EXE" --state-dir "$ROOT/future" apply
contains "future message" "E_STATE_TOO_NEW"
expect 2 "rollback --txn with --all" -- "$EXE" rollback --all --txn 1

echo "-- uninstall: everything undone, no residue, receipt"
expect 0 "grant before uninstall" -- "$EXE" grant "$WS"
expect 0 "uninstall" -- "$EXE" uninstall --json
python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); assert d["complete"] and not d["residue"] and not d["remaining"] and len(d["undone"])>=2, d' <<<"$OUT" && ok || fail "uninstall receipt: $OUT"
[[ -s "$STATE/uninstall-receipt.json" ]] && ok || fail "no receipt file"
rm -f "$STATE/uninstall-receipt.json"
snapshot "$ROOT/uninstalled.snap"
same "uninstall" "$ROOT/before.snap" "$ROOT/uninstalled.snap"
expect 0 "status after uninstall" -- "$EXE" status
contains "status after uninstall" "not provisioned"

END=$(date +%s.%N)
echo "[summary] $CHECKS checks passed, $FAILS failed, $CRASH_POINTS crash points, $(echo "$END - $START" | bc) s"
[[ $FAILS -eq 0 ]]
