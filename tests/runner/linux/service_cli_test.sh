#!/usr/bin/env bash
# `stockaded serve` end to end through the real executables, as root: the provisioner creates the
# identities and grants a workspace to a test user (`grant --owner`), the service is started on
# its own socket, the owner runs commands through it (stockade_svc_client, as that user), another
# user is refused, SIGTERM stops the service and removes the socket. Own identity prefix and
# folders; the EXIT trap removes everything, even on failure.
#
# Usage: service_cli_test.sh STOCKADE-PROVISION STOCKADED SVC-CLIENT   (exit 77: skipped)
set -u
PROVISION=${1:?usage}; SERVICE=${2:?usage}; CLIENT=${3:?usage}
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi
for tool in useradd userdel setpriv sqlite3 nft; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

PREFIX="svcl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
ROOT=$(mktemp -d /tmp/stksvc.XXXXXX)
chmod 0755 "$ROOT"
STATE="$ROOT/state"
POLICY="$ROOT/policy.toml"
SOCK_DIR="$ROOT/run"
SOCK="$SOCK_DIR/stockaded.sock"
WS="$ROOT/ws"
OWNER="${PREFIX}u"
OTHER="${PREFIX}v"
SERVICE_PID=""
FAILS=0
CHECKS=0
export STOCKADE_STATE_DIR="$STATE" STOCKADE_POLICY="$POLICY"

cleanup() {
  [[ -n "$SERVICE_PID" ]] && kill -KILL "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  "$PROVISION" uninstall >/dev/null 2>&1 || true
  for u in "$PREFIX-offline" "$PREFIX-online" "$OWNER" "$OTHER"; do
    id "$u" >/dev/null 2>&1 && userdel "$u" >/dev/null 2>&1
  done
  for g in "$PREFIX-users" "$OWNER" "$OTHER"; do
    getent group "$g" >/dev/null && groupdel "$g" >/dev/null 2>&1
  done
  nft delete table inet "stockade_${PREFIX}" >/dev/null 2>&1
  rm -rf "$ROOT"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() {  # check DESCRIPTION ACTUAL EXPECTED-REGEX
  CHECKS=$((CHECKS + 1))
  if [[ "$2" =~ $3 ]]; then :; else fail "$1: got '$2', expected /$3/"; fi
}
run_as() {  # run_as USER RESULT-VAR -- COMMAND...: runs the client as USER in $WS
  local user=$1 result="$ROOT/result.$RANDOM"; shift 3
  : >"$result"; chown "$user" "$result"
  setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups -- \
    "$CLIENT" "$SOCK" "$result" offline "$WS" "$WS" -- "$@" >/dev/null 2>&1
  cat "$result"
}

cat >"$POLICY" <<TOML
version = 1
[identities]
prefix = "$PREFIX"
[network.offline]
mode = "blocked"
[network.online]
mode = "allowed"
[filesystem]
writable_roots = ["{workspace}", "{temp}"]
protected = [".git"]
deny_read = ["~/.ssh"]
TOML

useradd --system -M -d /nonexistent -s /usr/sbin/nologin -U "$OWNER" >/dev/null || fail "useradd owner"
useradd --system -M -d /nonexistent -s /usr/sbin/nologin -U "$OTHER" >/dev/null || fail "useradd other"
mkdir -p "$WS" "$SOCK_DIR" && chown "$OWNER" "$WS" && chmod 0755 "$SOCK_DIR"

OUT=$("$PROVISION" apply 2>&1) || { fail "apply: $OUT"; exit 1; }
OUT=$("$PROVISION" grant "$WS" --owner "$OWNER" 2>&1) || fail "grant --owner: $OUT"
PARAMS=$(sqlite3 "$STATE/journal.db" \
  "SELECT params FROM steps WHERE kind='workspace.grant' AND state='applied' ORDER BY txn_id DESC LIMIT 1")
check "grant records owner_uid" "$PARAMS" "\"owner_uid\":$(id -u "$OWNER")[,}]"
OUT=$("$PROVISION" grant "$ROOT/nope" --owner no-such-user-xyz 2>&1)
check "grant --owner of an unknown user fails" "$?" "^[1-9]"

"$SERVICE" serve --socket "$SOCK" >"$ROOT/service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 1 100); do [[ -S "$SOCK" ]] && break; sleep 0.05; done
[[ -S "$SOCK" ]] || { fail "the service did not create $SOCK"; cat "$ROOT/service.log"; exit 1; }
# Runs start only once the service's kernel audit capture runs (fail closed; the one capture of
# the machine may be held by another service or capture test for a while: the service retries).
for _ in $(seq 1 1800); do grep -q "audit capture started" "$ROOT/service.log" && break; sleep 0.1; done
grep -q "audit capture started" "$ROOT/service.log" || { fail "audit capture never started"; cat "$ROOT/service.log"; exit 1; }
check "socket mode" "$(stat -c %a "$SOCK")" "^666$"

check "the owner runs as the offline identity" \
  "$(run_as "$OWNER" r -- /bin/sh -c 'exit 3')" "^exit code=3 signal=0 timed_out=0 killed=0$"
check "another user is refused" \
  "$(run_as "$OTHER" r -- /bin/true)" "^error E_PERMISSION_DENIED authorize .*granted to uid $(id -u "$OWNER")"
check "a sandbox identity is refused" \
  "$(run_as "$PREFIX-offline" r -- /bin/true)" "^error E_PERMISSION_DENIED authorize .*is the sandbox identity"
check "the service logs the refusal" "$(cat "$STATE/logs/stockaded.log")" "refused uid $(id -u "$OTHER")"

# A second service on the same socket refuses to start while the first answers.
OUT=$("$SERVICE" serve --socket "$SOCK" 2>&1); RC=$?
check "second service refused" "$RC:$OUT" "^[1-9][0-9]*:.*already listens on"

kill -TERM "$SERVICE_PID"; wait "$SERVICE_PID"; RC=$?; SERVICE_PID=""
check "SIGTERM stops the service cleanly" "$RC" "^0$"
[[ -e "$SOCK" ]] && fail "the socket was not removed at stop"
CHECKS=$((CHECKS + 1))
check "no sandbox process left" "$(pgrep -u "$PREFIX-offline" | wc -l)" "^0$"

echo "service_cli_test: $CHECKS checks, $FAILS failures"
[[ $FAILS -eq 0 ]]
