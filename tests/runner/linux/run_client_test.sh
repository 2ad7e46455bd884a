#!/usr/bin/env bash
# End-to-end tests of `stockade run` through the real executables, as root, on the real system:
# test identities and a granted temp workspace made with `stockade-provision` (own identity
# prefix and state folder), `stockaded serve` on a private socket, then: exit codes and signals,
# stdio through pipes byte for byte (10 MiB), a pseudo-terminal session (pty_session.py), the
# timeout, SIGINT and SIGKILL of the client (no process of the identity and no cgroup of the
# tree left, checked from outside), the service not running, an ungranted workspace, and the
# unprovisioned mode run by an ordinary user created here, with its documented limits checked.
# The EXIT trap removes everything it may have created, even on failure.
#
# Usage: run_client_test.sh BUILD_DIR        (exit 77: skipped, not root)
set -u
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root"; exit 77; fi
for tool in nft setfacl useradd setpriv pgrep /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
STOCKADE=$BUILD/cli/stockade
STOCKADED=$BUILD/cli/stockaded
PROVISION=$BUILD/cli/stockade-provision
HERE=$(cd "$(dirname "$0")" && pwd)

PREFIX="stkr$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
ROOT=$(mktemp -d /tmp/stkrun.XXXXXX)
chmod 711 "$ROOT"
STATE="$ROOT/state"
WS="$ROOT/ws"
POLICY="$ROOT/policy.toml"
SOCK="$ROOT/sock/stockaded.sock"
TABLE="stockade_${PREFIX}"
USER_U="${PREFIX}u"
export STOCKADE_STATE_DIR="$STATE" STOCKADE_POLICY="$POLICY"
unset STOCKADE_UNPROVISIONED STOCKADE_SOCKET
SERVICE_PID=""
FAILS=0
CHECKS=0

kill_uid_processes() {  # kill_uid_processes USER: the test's own identities only
  local p
  for p in $(pgrep -u "$1" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
}
cleanup() {
  [[ -n $SERVICE_PID ]] && kill -TERM "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
  for u in "$PREFIX-offline" "$PREFIX-online" "$USER_U"; do
    id "$u" >/dev/null 2>&1 && kill_uid_processes "$u"
  done
  "$PROVISION" uninstall >/dev/null 2>&1 || true
  for u in "$PREFIX-offline" "$PREFIX-online" "$USER_U"; do
    id "$u" >/dev/null 2>&1 && userdel "$u" >/dev/null 2>&1
  done
  getent group "$PREFIX-users" >/dev/null && groupdel "$PREFIX-users" >/dev/null 2>&1
  nft delete table inet "$TABLE" >/dev/null 2>&1
  rm -rf "$ROOT"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { CHECKS=$((CHECKS + 1)); }
# expect CODE DESCRIPTION -- CMD...: runs CMD (stdin from /dev/null), checks its exit code;
# stdout+stderr in $OUT.
expect() {
  local want=$1 what=$2; shift 3
  OUT=$("$@" </dev/null 2>&1); local got=$?
  if [[ $got -ne $want ]]; then fail "$what: exit $got, expected $want; output:"; echo "$OUT" | head -20
  else ok; fi
}
contains() {  # contains DESCRIPTION PATTERN (in $OUT)
  if grep -qE -- "$2" <<<"$OUT"; then ok; else fail "$1: output lacks /$2/:"; echo "$OUT" | head -20; fi
}
run() { "$STOCKADE" run --socket "$SOCK" --workspace "$WS" "$@"; }
# no_survivors DESCRIPTION: no process of the offline identity and no cgroup of the service's
# trees, checked from outside within 5 s.
no_survivors() {
  local i procs cgroups
  for ((i = 0; i < 50; i++)); do
    procs=$(pgrep -u "$PREFIX-offline" | tr '\n' ' ')
    cgroups=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "run-$SERVICE_PID-*" 2>/dev/null)
    [[ -z $procs && -z $cgroups ]] && { ok; return; }
    sleep 0.1
  done
  fail "$1: left behind: processes [$procs] cgroups [$cgroups]"
}
# wait_for_identity_processes N: until the offline identity has at least N processes (5 s).
wait_for_identity_processes() {
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(pgrep -c -u "$PREFIX-offline") -ge $1 ]] && return 0
    sleep 0.05
  done
  return 1
}

cat >"$POLICY" <<TOML
version = 1
[identities]
prefix = "$PREFIX"
[network.offline]
mode = "blocked"
[network.online]
mode = "allowed"
TOML
mkdir -p "$STATE" "$WS/.git" "$ROOT/sock" "$ROOT/other"
chmod 755 "$STATE" "$ROOT/sock"
echo ref >"$WS/.git/HEAD"
printf '#!/bin/sh\necho hi\n' >"$WS/not-executable.sh"
chmod 644 "$WS/not-executable.sh"

echo "-- set up: identities, grant, service"
expect 0 "stockade-provision apply" -- "$PROVISION" apply
expect 0 "stockade-provision grant" -- "$PROVISION" grant "$WS"
"$STOCKADED" serve --state-dir "$STATE" --policy "$POLICY" --socket "$SOCK" \
  >"$ROOT/service.log" 2>&1 &
SERVICE_PID=$!
for ((i = 0; i < 100; i++)); do [[ -S $SOCK ]] && break; sleep 0.1; done
[[ -S $SOCK ]] && ok || { fail "service socket $SOCK never appeared"; cat "$ROOT/service.log"; exit 1; }
# Runs start only once the service's kernel audit capture runs (fail closed); another service or
# capture test on the machine may hold the one capture for a while (the service retries).
for ((i = 0; i < 1800; i++)); do grep -q "audit capture started" "$ROOT/service.log" && break; sleep 0.1; done
grep -q "audit capture started" "$ROOT/service.log" || { fail "audit capture never started"; cat "$ROOT/service.log"; exit 1; }

echo "-- help"
expect 0 "run --help" -- "$STOCKADE" run --help
for pattern in "--identity" "--workspace" "--timeout" "--env" "--socket" "--unprovisioned" \
    "Exit status" "124" "122" "Unprovisioned mode" "RLIMIT_NPROC" "audit"; do
  contains "run --help mentions $pattern" "$pattern"
done
expect 2 "run without a command" -- "$STOCKADE" run
expect 2 "bad identity" -- run --identity nobody -- true

echo "-- exit codes and signals"
expect 0 "true" -- run -- true
expect 3 "exit 3" -- run -- sh -c 'exit 3'
expect 137 "killed by SIGKILL" -- run -- sh -c 'kill -KILL $$'
expect 143 "killed by SIGTERM" -- run -- sh -c 'kill -TERM $$'
expect 126 "not executable" -- run -- "$WS/not-executable.sh"
contains "not executable message" "not-executable.sh"
expect 127 "not found" -- run -- no-such-command-$PREFIX
contains "not found message" "no-such-command"
expect 0 "--env reaches the command" -- run --env STK_A=1 --env STK_B=two -- sh -c 'test "$STK_A$STK_B" = 1two'
STK_SECRET=hidden expect 1 "the caller's other variables do not" -- run -- sh -c 'test -n "$STK_SECRET"'
expect 0 "runs as the offline identity" -- run -- sh -c "test \"\$(id -u)\" = $(id -u "$PREFIX-offline")"
expect 0 "cwd is the workspace" -- run -- sh -c "test \"\$(pwd)\" = '$WS'"
expect 0 "writes in the workspace" -- run -- sh -c 'echo made >made.txt'
[[ $(cat "$WS/made.txt" 2>/dev/null) == made && $(stat -c %U "$WS/made.txt") == "$PREFIX-offline" ]] \
  && ok || fail "made.txt not written by the identity"
expect 2 "cannot write .git" -- run -- sh -c 'echo x >.git/HEAD'
[[ $(cat "$WS/.git/HEAD") == ref ]] && ok || fail ".git/HEAD changed"

echo "-- stdio through pipes, byte for byte"
head -c $((10 << 20)) /dev/urandom >"$ROOT/big.bin"
run -- cat <"$ROOT/big.bin" >"$ROOT/out.bin" 2>"$ROOT/err.txt"; rc=$?
[[ $rc -eq 0 ]] && cmp -s "$ROOT/big.bin" "$ROOT/out.bin" && [[ ! -s $ROOT/err.txt ]] && ok \
  || fail "10 MiB stdin->stdout: rc $rc, $(stat -c %s "$ROOT/out.bin") bytes out"
run -- sh -c 'cat >&2' <"$ROOT/big.bin" >"$ROOT/out2.bin" 2>"$ROOT/err2.bin"; rc=$?
[[ $rc -eq 0 ]] && cmp -s "$ROOT/big.bin" "$ROOT/err2.bin" && [[ ! -s $ROOT/out2.bin ]] && ok \
  || fail "10 MiB stdin->stderr: rc $rc"
run -- sh -c 'echo to-out; echo to-err >&2' </dev/null >"$ROOT/o.txt" 2>"$ROOT/e.txt"
[[ $(cat "$ROOT/o.txt") == to-out && $(cat "$ROOT/e.txt") == to-err ]] && ok \
  || fail "stdout and stderr kept apart"
printf 'line1\nline2\n' | run -- sh -c 'read a; read b; echo "$b-$a"' >"$ROOT/o.txt"
[[ $(cat "$ROOT/o.txt") == line2-line1 ]] && ok || fail "stdin from a pipe: $(cat "$ROOT/o.txt")"
run -- sh -c 'read x || echo eof' <&- >"$ROOT/o.txt" 2>&1
[[ $(cat "$ROOT/o.txt") == eof ]] && ok || fail "closed stdin becomes /dev/null: $(cat "$ROOT/o.txt")"

echo "-- pseudo-terminal session"
OUT=$(/usr/bin/python3 "$HERE/pty_session.py" -- "$STOCKADE" run --socket "$SOCK" \
      --workspace "$WS" -- sh -i 2>&1); rc=$?
echo "$OUT" | sed 's/^/   /'
[[ $rc -eq 0 ]] && ok || fail "pty session (see above)"

echo "-- timeout, Ctrl-C and a killed client leave nothing behind"
start=$(date +%s.%N)
expect 124 "timeout" -- run --timeout 1 -- sh -c 'sleep 100 & setsid sleep 100 & (sleep 100 &) ; sleep 100'
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v e="$elapsed" 'BEGIN { exit !(e < 5) }' && ok || fail "timeout took $elapsed s"
no_survivors "timeout"

"$STOCKADE" run --socket "$SOCK" --workspace "$WS" -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100' \
  </dev/null >/dev/null 2>&1 &
client=$!
wait_for_identity_processes 3 || fail "SIGINT case: the tree never started"
kill -INT "$client"; wait "$client"; rc=$?
[[ $rc -eq 130 ]] && ok || fail "SIGINT to the client: exit $rc, expected 130"
no_survivors "SIGINT to the client"

"$STOCKADE" run --socket "$SOCK" --workspace "$WS" -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100' \
  </dev/null >/dev/null 2>&1 &
client=$!
wait_for_identity_processes 3 || fail "SIGTERM case: the tree never started"
kill -TERM "$client"; wait "$client"; rc=$?
[[ $rc -eq 143 ]] && ok || fail "SIGTERM to the client: exit $rc, expected 143"
no_survivors "SIGTERM to the client"

"$STOCKADE" run --socket "$SOCK" --workspace "$WS" -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100' \
  </dev/null >/dev/null 2>&1 &
client=$!
wait_for_identity_processes 3 || fail "SIGKILL case: the tree never started"
kill -KILL "$client"; wait "$client" 2>/dev/null
no_survivors "SIGKILL of the client"

echo "-- refusals and an unreachable service"
expect 8 "service not running" -- "$STOCKADE" run --socket "$ROOT/sock/none.sock" --workspace "$WS" -- true
contains "unreachable message names the socket" "none.sock"
contains "unreachable message says how to start it" "stockaded serve"
contains "unreachable message offers the unprovisioned mode" "--unprovisioned"
expect 122 "ungranted workspace" -- "$STOCKADE" run --socket "$SOCK" --workspace "$ROOT/other" -- true
contains "ungranted message" "E_NOT_GRANTED"
expect 2 "workspace that does not exist" -- run --workspace "$ROOT/missing" -- true
expect 2 "malformed --env" -- run --env NOEQUALS -- true

echo "-- unprovisioned mode, as an ordinary user"
kill -TERM "$SERVICE_PID" 2>/dev/null; wait "$SERVICE_PID" 2>/dev/null; SERVICE_PID=""
expect 125 "unprovisioned as root is refused" -- "$STOCKADE" run --unprovisioned --workspace "$WS" -- true
contains "root refusal says why" "as root"
UHOME="$ROOT/home"
UWS="$ROOT/uws"
useradd -M -d "$UHOME" -s /bin/sh "$USER_U" || fail "useradd $USER_U"
mkdir -p "$UHOME/.ssh" "$UWS"
echo private >"$UHOME/notes.txt"; echo key >"$UHOME/.ssh/id_test"
chown -R "$USER_U:" "$UHOME" "$UWS"; chmod 700 "$UHOME"
UID_U=$(id -u "$USER_U"); GID_U=$(id -g "$USER_U")
as_user() {  # as_user CMD...: runs CMD as the ordinary user, with a minimal environment
  (cd "$UWS" && setpriv --reuid="$UID_U" --regid="$GID_U" --clear-groups \
     env -i HOME="$UHOME" PATH=/usr/bin:/bin USER="$USER_U" "$@")
}
urun() { as_user "$STOCKADE" run --unprovisioned --policy "$POLICY" --workspace "$UWS" "$@"; }
expect 0 "unprovisioned: true" -- urun -- true
expect 3 "unprovisioned: exit 3" -- urun -- sh -c 'exit 3'
expect 127 "unprovisioned: not found" -- urun -- no-such-command-$PREFIX
expect 0 "unprovisioned: STOCKADE_UNPROVISIONED=1 selects the mode" -- \
  as_user env STOCKADE_UNPROVISIONED=1 "$STOCKADE" run --socket "$ROOT/sock/none.sock" \
  --policy "$POLICY" --workspace "$UWS" -- true
expect 0 "unprovisioned: writes in the workspace" -- urun -- sh -c 'echo u >u.txt'
[[ $(stat -c %U "$UWS/u.txt" 2>/dev/null) == "$USER_U" ]] && ok || fail "u.txt not written"
expect 2 "unprovisioned: cannot write outside the workspace" -- urun -- sh -c "echo x >'$UHOME/escape.txt'"
[[ ! -e $UHOME/escape.txt ]] && ok || fail "unprovisioned wrote $UHOME/escape.txt"
expect 1 "unprovisioned: deny-read ~/.ssh holds" -- urun -- cat "$UHOME/.ssh/id_test"
expect 1 "unprovisioned: offline cannot connect out over TCP" -- urun -- /usr/bin/python3 -c \
  'import socket; socket.create_connection(("192.0.2.1", 80), timeout=3)'
contains "unprovisioned: TCP connect refused, not timed out" "PermissionError"
expect 1 "unprovisioned: offline has no UDP sockets" -- urun -- /usr/bin/python3 -c \
  'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)'
contains "unprovisioned: UDP socket refused" "PermissionError"
urun -- cat <"$ROOT/big.bin" >"$ROOT/uout.bin"; rc=$?
[[ $rc -eq 0 ]] && cmp -s "$ROOT/big.bin" "$ROOT/uout.bin" && ok || fail "unprovisioned 10 MiB pipe: rc $rc"
expect 124 "unprovisioned: timeout" -- urun --timeout 1 -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100'
sleep 0.3
[[ -z $(pgrep -u "$USER_U") ]] && ok || fail "unprovisioned timeout left: $(pgrep -a -u "$USER_U")"
(cd "$UWS" && exec setpriv --reuid="$UID_U" --regid="$GID_U" --clear-groups \
   env -i HOME="$UHOME" PATH=/usr/bin:/bin "$STOCKADE" run --unprovisioned --policy "$POLICY" \
   --workspace "$UWS" -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100') </dev/null >/dev/null 2>&1 &
client=$!
for ((i = 0; i < 100; i++)); do [[ $(pgrep -c -u "$USER_U") -ge 4 ]] && break; sleep 0.05; done
kill -INT "$client"; wait "$client"; rc=$?
[[ $rc -eq 130 ]] && ok || fail "unprovisioned SIGINT: exit $rc, expected 130"
sleep 0.3
[[ -z $(pgrep -u "$USER_U") ]] && ok || fail "unprovisioned SIGINT left: $(pgrep -a -u "$USER_U")"
(cd "$UWS" && exec setpriv --reuid="$UID_U" --regid="$GID_U" --clear-groups \
   env -i HOME="$UHOME" PATH=/usr/bin:/bin "$STOCKADE" run --unprovisioned --policy "$POLICY" \
   --workspace "$UWS" -- sh -c 'sleep 100 & setsid sleep 100 & sleep 100') </dev/null >/dev/null 2>&1 &
client=$!
for ((i = 0; i < 100; i++)); do [[ $(pgrep -c -u "$USER_U") -ge 4 ]] && break; sleep 0.05; done
kill -KILL "$client"; wait "$client" 2>/dev/null
for ((i = 0; i < 50; i++)); do [[ -z $(pgrep -u "$USER_U") ]] && break; sleep 0.1; done
[[ -z $(pgrep -u "$USER_U") ]] && ok || fail "unprovisioned SIGKILL of the client left: $(pgrep -a -u "$USER_U")"
OUT=$(/usr/bin/python3 "$HERE/pty_session.py" --as-user "$UID_U:$GID_U" -- \
      /usr/bin/env -i HOME="$UHOME" PATH=/usr/bin:/bin \
      "$STOCKADE" run --unprovisioned --policy "$POLICY" --workspace "$UWS" -- sh -i 2>&1); rc=$?
echo "$OUT" | sed 's/^/   /'
[[ $rc -eq 0 ]] && ok || fail "unprovisioned pty session (see above)"

echo "-- unprovisioned mode: the documented limits, confirmed"
expect 0 "limit: reads what the user can read outside the deny-read paths" -- urun -- cat "$UHOME/notes.txt"
contains "limit: read content" "^private$"
as_user /usr/bin/python3 -c "
import socket, os, time, sys
s = socket.socket(socket.AF_UNIX); s.bind('$UHOME/agent.sock'); s.listen(1)
if os.fork() == 0:
    time.sleep(10); os._exit(0)
c, _ = s.accept(); c.sendall(b'reached'); c.close()" &
listener=$!
for ((i = 0; i < 50; i++)); do [[ -S $UHOME/agent.sock ]] && break; sleep 0.1; done
expect 0 "limit: connects to the user's Unix sockets outside the sandbox" -- urun -- \
  /usr/bin/python3 -c "import socket; s = socket.socket(socket.AF_UNIX); s.connect('$UHOME/agent.sock'); print(s.recv(16).decode())"
contains "limit: socket reached" "reached"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
expect 0 "limit: no cgroup of its own (no process or memory limit)" -- urun -- sh -c \
  "test \"\$(cat /proc/self/cgroup)\" = \"$(cat /proc/self/cgroup)\""
expect 0 "limit: the command is its PID namespace's init" -- urun -- sh -c 'test $$ = 1'
expect 0 "limit: init ignores an unhandled signal sent from inside" -- urun -- sh -c 'kill -TERM $$; echo survived'
contains "limit: survived" "survived"
[[ ! -e $STATE/audit ]] || [[ -z $(find "$STATE/audit" -newer "$UWS/u.txt" 2>/dev/null) ]] && ok \
  || fail "limit: unprovisioned runs wrote into the audit store"

echo "checks: $CHECKS passed, $FAILS failed"
[[ $FAILS -eq 0 ]]
