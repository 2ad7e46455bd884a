#!/usr/bin/env python3
"""The audit evidence of `stockade selftest` runs (tests/runner/linux/selftest_test.sh).

Usage: selftest_audit_check.py AUDIT_JSON REPORT_JSON...

AUDIT_JSON is `stockade audit query --json` of the service's store; each REPORT_JSON is
`stockade selftest --json` of one identity. For every attack the report shows BLOCKED, the
sessions that ran that probe (session argv = [stockade-probe, NAME, ...]) of that identity must
hold a denial event with the right category and target, as the table AUDIT_EVIDENCE says
(docs/selftest.md, "Audit evidence"); or the probe is one whose blocking leaves no kernel record
by design (NO_RECORD, with the reason). Every probe's session must also hold the probe's own exec
event (the capture saw the tree). Prints the completeness figures.
"""
import json
import re
import sys

# probe (or "probe@identity") -> (category, regex the target must match). {W}: the workspace,
# {H}: the invoking user's home, {S}: the state folder, {P}: the policy file. Besides matching,
# the target must be named in the probe's own evidence (the path, folder, address or pid the
# probe reports it was refused): it is the right target, not just any denial of the run.
AUDIT_EVIDENCE = {
    # Landlock write refusals name the refused file, or the folder a creation was refused in.
    "write-outside": ("file_write", r"^/tmp/stockade-selftest-[^/]+/outside(/.*)?$"),
    "overwrite-canary": ("file_write", r"^/tmp/stockade-selftest-[^/]+/outside/canary\.txt$"),
    "symlink-out": ("file_write", r"^/tmp/stockade-selftest-[^/]+/outside(/.*)?$"),
    "hardlink-out": ("file_write", r"^(/tmp/stockade-selftest-[^/]+/outside|{W})(/.*)?$"),
    "proc-root": ("file_write", r"/tmp/stockade-selftest-[^/]+/outside(/.*)?$"),
    "write-tmp": ("file_write", r"^/tmp(/.*)?$"),
    "write-shm": ("file_write", r"^/dev/shm(/.*)?$"),
    "write-home": ("file_write", r"^{H}(/.*)?$"),
    # DAC: the identity does not own the canary (chmod EPERM, audit rule).
    "chmod-outside": ("file_write", r"^/tmp/stockade-selftest-[^/]+/outside/canary\.txt$"),
    # The deny-read cover (mode 000) refuses the read: EACCES, audit rule.
    "read-deny": ("file_read", r"^{H}/\.(aws|ssh)(/.*)?$"),
    "read-secrets": ("file_read", r"^{S}(/.*)?$"),
    "write-journal": ("file_(write|read)", r"^{S}(/.*)?$"),
    "write-audit": ("file_(write|read)", r"^{S}(/.*)?$"),
    "modify-policy": ("file_write", r"^{P}$"),
    # Landlock's TCP connect refusal names the address and port.
    "tcp-out@offline": ("network", r"^\d+\.\d+\.\d+\.\d+:\d+$"),
    "ipv6-out@offline": ("network", r"^\[[0-9a-fA-F:]+\]:\d+$"),
    "loopback-denied@offline": ("network", r"^(127\.0\.0\.1|\[::1\]):\d+$"),
    # A raw socket without CAP_NET_RAW (online; offline's is refused by seccomp first).
    "raw-icmp@online": ("network", r"^socket\(AF_INET6?\)$"),
    # kill() of another uid's process: EPERM, audit rule; the target is the victim's pid.
    "signal-outside": ("other", r"^pid \d+$"),
    "kill-service": ("other", r"^pid \d+$"),
    # DAC refusals of the files these probes open first.
    "setns": ("file_read", r"^/proc/1/ns/mnt$"),
    "cgroup-escape": ("file_write", r"^/sys/fs/cgroup/.*cgroup\.procs$"),
    # The socket lies in the deny-read state folder: connect() is refused (EACCES).
    "service-socket": ("network", r"^/.*\.sock$"),
    # seccomp refusals: the service installs the filter with SECCOMP_FILTER_FLAG_LOG while its
    # capture runs, and each refusal is an AUDIT_SECCOMP record naming the syscall (no arguments:
    # the target names what the runner's filter refuses that syscall for).
    "udp-out@offline": ("network", r"^socket\(AF_INET/AF_INET6\)$"),
    "dns@offline": ("network", r"^socket\(AF_INET/AF_INET6\)$"),
    "raw-icmp@offline": ("network", r"^socket\(AF_INET/AF_INET6\)$"),
    "icmp-ping@offline": ("network", r"^socket\(AF_INET/AF_INET6\)$"),
    "ptrace-outside": ("other", r"^ptrace$"),
    "userns": ("other", r"^(unshare|clone)\(CLONE_NEWUSER\)$"),
    "tiocsti": ("other", r"^ioctl TIOCSTI/TIOCLINUX$"),
    "mount": ("other", r"^mount$"),
    "bpf": ("other", r"^bpf$"),
    "io_uring": ("other", r"^io_uring_setup$"),
    "keyctl": ("other", r"^(keyctl|add_key)$"),
    "perf": ("other", r"^perf_event_open$"),
}

# Probes whose blocking leaves no kernel audit record, and why (docs/selftest.md).
NO_RECORD = {
    "write-git": "a read-only bind mount refuses with EROFS: neither a Landlock refusal nor "
                 "EACCES/EPERM",
    "write-codex": "read-only bind mount: EROFS",
    "write-agents": "read-only bind mount: EROFS",
    "rename-protected": "the protected path is a mount point: EBUSY",
    "daemon": "nothing is refused: the daemon is killed with the tree's cgroup (its exec and its "
              "exit by SIGKILL are in the store)",
    "nohup": "nothing is refused: killed with the cgroup (exit by SIGKILL in the store)",
    "forkbomb": "the cgroup's pids limit refuses fork with EAGAIN",
    "memory": "the OOM killer ends the process (its exit by SIGKILL is in the store)",
    "setuid": "no_new_privs: the exec succeeds without the setuid bit; nothing is refused",
    "leaked-fds": "nothing to refuse: no descriptor is inherited",
}


def lookup(table, probe, identity):
    return table.get(f"{probe}@{identity}", table.get(probe))


def named_in(target, evidence):
    """The denial's target is what the probe reports it was refused: a path (or a folder above
    it: Landlock names the folder a creation was refused in), an address, or a pid."""
    if target.startswith("pid "):
        return f"kill({target[4:]}," in evidence
    if target.startswith("socket("):
        return "socket(" in evidence
    if target.startswith("ioctl "):  # "ioctl TIOCSTI/TIOCLINUX": the probe tried one of them
        return "ioctl(" in evidence and any(r in evidence for r in target[6:].split("/"))
    return target in evidence


def main():
    events = json.load(open(sys.argv[1]))
    sessions = {}  # session id -> (identity, probe name)
    denials = {}   # session id -> [denial body]
    execs = {}     # session id -> count of exec events
    for e in events:
        kind = e.get("kind")
        sid = e.get("session_id", "")
        if kind == "session":
            body = e["session"]
            argv = body.get("argv") or []
            if body.get("phase") == "start" and len(argv) >= 2 and argv[0].endswith("stockade-probe"):
                sessions[sid] = (body.get("identity"), argv[1], body.get("workspace"))
        elif kind == "denial":
            denials.setdefault(sid, []).append(e["denial"])
        elif kind == "process" and e["process"].get("phase") == "exec":
            execs[sid] = execs.get(sid, 0) + 1

    problems = []
    blocked_total = recorded = by_design = 0
    rows = []
    for report_path in sys.argv[2:]:
        report = json.load(open(report_path))
        for r in report["results"]:
            probe, result = r["probe"], r["result"]
            identity = report.get("identity") or ("online" if "online" in report_path else "offline")
            mine = [sid for sid, (ident, name, _) in sessions.items()
                    if ident == identity and name == probe]
            if not mine:
                if result != "SKIP":
                    problems.append(f"{identity} {probe}: no session of it in the store")
                continue
            if not any(execs.get(sid, 0) > 0 for sid in mine):
                problems.append(f"{identity} {probe}: no exec event in its session(s)")
            if r["expected"] != "blocked" or result != "BLOCKED":
                continue
            blocked_total += 1
            got = [d for sid in mine for d in denials.get(sid, [])]
            shown = "; ".join(sorted({f"{d['category']} {d['target']} ({d['source']})"
                                      for d in got}))[:300]
            workspace = sessions[mine[0]][2] or ""
            expected = lookup(AUDIT_EVIDENCE, probe, identity)
            reason = lookup(NO_RECORD, probe, identity)
            if expected is not None:
                category, pattern = expected
                pattern = (pattern.replace("{W}", re.escape(workspace))
                           .replace("{H}", re.escape(HOME)).replace("{S}", re.escape(STATE))
                           .replace("{P}", re.escape(POLICY)))
                evidence = r.get("evidence", "")
                match = [d for d in got if re.fullmatch(category, d["category"])
                         and re.search(pattern, d["target"])
                         and named_in(d["target"], evidence)]
                if match:
                    recorded += 1
                    rows.append((identity, probe, "recorded", shown))
                else:
                    problems.append(f"{identity} {probe}: BLOCKED but no {category} denial "
                                    f"matching {pattern}; got: {shown or 'none'}")
                    rows.append((identity, probe, "MISSING", shown))
            elif reason is not None:
                by_design += 1
                rows.append((identity, probe, "no record by design" + (
                    "" if not got else " (but got some)"), shown))
            else:
                problems.append(f"{identity} {probe}: not in the audit evidence table")
                rows.append((identity, probe, "UNKNOWN", shown))
    # The filter's ENOSYS for clone3 (libc falls back to clone) is not a denial: the capture
    # counts and drops its records.
    noise = [d for ds in denials.values() for d in ds if d["target"].startswith("clone3")]
    if noise:
        problems.append(f"{len(noise)} clone3 denial(s) recorded: the ENOSYS compatibility "
                        "answer must not be a denial")
    for identity, probe, verdict, shown in rows:
        print(f"   {identity:7} {probe:18} {verdict:24} {shown}")
    print(f"   denials recorded / probes blocked: {recorded} / {blocked_total} "
          f"({by_design} blocked without a kernel record by design: "
          f"{blocked_total - by_design} expected, {recorded} recorded)")
    for p in problems:
        print("   PROBLEM " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    import os
    HOME = os.environ.get("SELFTEST_HOME", "")
    STATE = os.environ.get("SELFTEST_STATE", "")
    POLICY = os.environ.get("SELFTEST_POLICY", "")
    sys.exit(main())
