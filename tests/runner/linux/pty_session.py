#!/usr/bin/python3
"""Drives `stockade run -- sh -i` under a pseudo-terminal this script opens, as a user would.

Usage: pty_session.py [--as-user UID:GID] -- STOCKADE_RUN_ARGV...

The outer pty plays the user's terminal. Checks, each printed as "ok: ..." or "FAIL: ...":
  - the shell inside prints its prompt;
  - `tty` names a pty (/dev/pts/N) that is not the outer one (the user's terminal is never
    passed in);
  - `stty size` reports the outer size, and follows a resize of the outer pty (SIGWINCH);
  - ^C typed while `sleep 30` runs interrupts it at once, and the shell reports status 130;
  - `exit 7` ends the client with status 7;
  - the outer terminal's settings are exactly restored after the client exits.
Exit status: 0 when every check passed, 1 otherwise.
"""
import fcntl
import os
import re
import select
import signal
import struct
import sys
import termios
import time

FAILS = []


def check(cond, what, detail=""):
    if cond:
        print("ok: " + what)
    else:
        FAILS.append(what)
        print("FAIL: " + what + (": " + detail if detail else ""))


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Session:
    def __init__(self, master):
        self.master = master
        self.buf = b""

    def read_until(self, pattern, timeout=10.0):
        """Reads until `pattern` (a regex on bytes) matches the unread output; returns the match."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return None
            if not data:
                return None
            self.buf += data

    def send(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)


def main():
    argv = sys.argv[1:]
    as_user = None
    if argv and argv[0] == "--as-user":
        as_user = tuple(int(x) for x in argv[1].split(":"))
        argv = argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]

    master, slave = os.openpty()
    set_size(master, 24, 80)
    outer_name = os.ttyname(slave)
    before = termios.tcgetattr(slave)
    if as_user:
        os.chown(outer_name, as_user[0], -1)  # the user's terminal is the user's

    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        if slave > 2:
            os.close(slave)
        if as_user:
            os.setgroups([])
            os.setgid(as_user[1])
            os.setuid(as_user[0])
        env = dict(os.environ, TERM="xterm", PS1="PROMPT$ ")
        os.execvpe(argv[0], argv, env)

    s = Session(master)
    # The prompt: PS1 is not passed through (only PATH, TERM, LANG...), so ask for a known one.
    s.send("PS1='PROMPT''$ '; export PS1\n")
    check(s.read_until(rb"PROMPT\$ ", 15) is not None, "the shell inside prints a prompt")

    s.send("tty\n")
    m = s.read_until(rb"(/dev/pts/\d+)\r?\n")
    inner = m.group(1).decode() if m else ""
    check(bool(m), "tty names a pty", repr(s.buf[-200:]))
    check(inner != outer_name, "the inner terminal is not the user's own (%s vs %s)" % (inner, outer_name))
    s.read_until(rb"PROMPT\$ ")

    s.send("stty size\n")
    m = s.read_until(rb"(\d+) (\d+)\r?\n")
    check(m is not None and m.group(1) == b"24" and m.group(2) == b"80",
          "stty size inside is the outer size 24 80", repr(m.group(0) if m else s.buf[-200:]))
    s.read_until(rb"PROMPT\$ ")

    set_size(master, 41, 132)  # the kernel sends SIGWINCH to the client (outer foreground)
    time.sleep(0.3)
    s.send("stty size\n")
    m = s.read_until(rb"(\d+) (\d+)\r?\n")
    check(m is not None and m.group(1) == b"41" and m.group(2) == b"132",
          "stty size follows the outer resize to 41 132", repr(m.group(0) if m else s.buf[-200:]))
    s.read_until(rb"PROMPT\$ ")

    s.send("sleep 30\n")
    time.sleep(1.0)
    start = time.monotonic()
    s.send(b"\x03")
    got_prompt = s.read_until(rb"PROMPT\$ ", 10) is not None
    elapsed = time.monotonic() - start
    check(got_prompt and elapsed < 5, "^C interrupts sleep inside (prompt back in %.2f s)" % elapsed)
    s.send("echo status=$?\n")
    m = s.read_until(rb"status=(\d+)")
    check(m is not None and m.group(1) == b"130", "the interrupted sleep's status is 130",
          repr(m.group(0) if m else s.buf[-200:]))
    s.read_until(rb"PROMPT\$ ")

    s.send("exit 7\n")
    deadline = time.monotonic() + 15
    status = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        try:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                os.read(master, 65536)
        except OSError:
            pass
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    check(status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7,
          "`exit 7` ends the client with status 7", repr(status))
    after = termios.tcgetattr(slave)
    check(after == before, "the outer terminal's settings are restored exactly")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
