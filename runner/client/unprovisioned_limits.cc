// The unprovisioned mode's limits as `stockade run --help` states them. Each Linux item is
// checked by tests/runner/linux/run_client_test.sh ("unprovisioned limits"); the full list with
// the reasons is in docs/runner-client.md.
#include "runner/client/client.h"

namespace stockade::runner::client {

const char* UnprovisionedLimitsText() {
#if defined(_WIN32)
  return "Unprovisioned mode (--unprovisioned or STOCKADE_UNPROVISIONED=1): no service. The\n"
         "command runs as YOU, with a write-restricted copy of your own token in a job object.\n"
         "It cannot: keep the tree from reading anything you can read; hide the deny-read paths;\n"
         "block the network per user (no firewall rule targets your own account); keep a\n"
         "tamper-proof audit (none is kept); stop the tree from talking to your other processes\n"
         "through pipes, sockets or COM objects they expose. Use the service for anything that\n"
         "needs these guarantees.\n";
#else
  return "Unprovisioned mode (--unprovisioned or STOCKADE_UNPROVISIONED=1): no service, no\n"
         "sandbox account. The command runs as YOU (same uid), confined by user, PID and mount\n"
         "namespaces, Landlock and seccomp: writes only in the workspace and its temp folder,\n"
         "protected and deny-read paths as in the policy, no ptrace, offline = no inet sockets.\n"
         "It does NOT:\n"
         "  - keep the tree from reading anything you can read (except the deny-read paths);\n"
         "  - keep it from connecting to your Unix sockets on disk (ssh-agent, the D-Bus session\n"
         "    bus, the systemd user manager, a Docker socket you may use), and through them\n"
         "    from acting as you outside the sandbox;\n"
         "  - limit its processes or memory (no cgroup without the service): a fork bomb stops\n"
         "    only at your own RLIMIT_NPROC;\n"
         "  - keep any audit record: nothing is recorded, and you could alter it anyway;\n"
         "  - restrict allowed loopback ports to loopback (no per-uid nftables rules): offline\n"
         "    with loopback ports can reach those ports on other hosts;\n"
         "  - give the command normal signal semantics: it is the PID namespace's init, so a\n"
         "    signal it has no handler for, sent from inside the tree, is ignored;\n"
         "  - work as root (refused) or where unprivileged user namespaces are disabled.\n"
         "Use the service (stockade-provision apply) for anything that needs these guarantees.\n";
#endif
}

}  // namespace stockade::runner::client
