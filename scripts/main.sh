#!/usr/bin/env bash
# The main job: installs dependencies, builds both targets (with stockade-setup.exe and the .deb),
# then the whole lifecycle on this Linux machine: install the package (which provisions and starts
# the service), grant a demo workspace, run an agent-like command that writes inside, tries to
# write outside and to reach the network, show the audit trail and its denials, run the selftest,
# uninstall and show the clean residue scan. Needs root (it installs a package).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
bash scripts/deps.sh

for preset in linux windows; do
  step "build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j2
done

linux=build/linux/cli
step "stockade --version (Linux)"
"$linux/stockade" --version
step "stockade policy show (embedded default policy, Linux)"
"$linux/stockade" policy show
step "stockade policy check docs/examples/policy.toml (Linux)"
"$linux/stockade" policy check docs/examples/policy.toml

lifecycle() {
  local demo=/srv/stockade-demo deb
  step "package: cpack -G DEB"
  (cd build/linux && cpack -G DEB -B package >/dev/null)
  deb=$(ls build/linux/package/stockade_*.deb | head -1)
  echo "$deb"
  # A package left by an earlier run of this job goes first (its prerm rolls everything back).
  if dpkg-query -W -f='${Status}' stockade 2>/dev/null | grep -q "ok installed"; then
    dpkg --purge stockade
  fi
  step "install: apt-get install $deb (postinst provisions and starts stockaded)"
  apt-get install -y -q "./$deb" >/dev/null
  stockade-provision status
  step "grant a demo workspace: $demo"
  rm -rf "$demo" && mkdir -p "$demo" && git -C "$demo" init -q
  stockade-provision grant "$demo"
  step "run an agent-like command in the sandbox (offline identity)"
  set +e
  (cd "$demo" && stockade run --timeout 30 -- sh -c '
    echo "inside" > inside.txt && echo "write in the workspace: ok"
    echo x > /etc/stockade-demo-outside.txt 2>/dev/null && echo "write to /etc: ESCAPED" || echo "write to /etc: denied"
    echo x > .git/config 2>/dev/null && echo "write into .git: ESCAPED" || echo "write into .git: denied"
    (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo "network: ESCAPED" || echo "network: denied"
    exit 3')
  echo "the command's exit status came back: $?"
  set -e
  step "audit trail: sessions and denials"
  stockade audit query --limit 20 || true
  stockade audit query --kind denial --limit 20 || true
  step "audit verify (hash chain)"
  stockade audit verify
  stockade audit report --html /tmp/stockade-demo-report.html && echo "report: /tmp/stockade-demo-report.html"
  step "selftest: attack probes inside the sandbox"
  (cd "$demo" && stockade selftest --workspace "$demo") || true
  step "uninstall: dpkg -r (rollback every transaction, residue scan, receipt)"
  stockade-provision revoke "$demo"
  # Files the sandbox identities created stay in the workspace, owned by their uids; the residue
  # scan reports such files (the uids are gone after uninstall), so the demo removes its workspace.
  rm -rf "$demo"
  dpkg -r stockade
  cat /var/lib/stockade/uninstall-receipt.json 2>/dev/null | head -40 || true
  dpkg --purge stockade
  rm -rf "$demo"
}
if [[ $(id -u) -eq 0 ]]; then
  lifecycle
else
  step "lifecycle skipped: it installs a package and provisions accounts, run as root"
fi

source scripts/lib/wine-env.sh
step "stockade.exe --version (Windows build under Wine)"
stockade_wine_start
trap stockade_wine_stop EXIT
"$repo/cmake/wine-run.sh" build/windows/cli/stockade.exe --version
"$repo/cmake/wine-run.sh" build/windows/cli/stockade.exe policy check "Z:$repo/docs/examples/policy.toml"
step "Windows installer: build/windows/stockade-setup.exe"
ls -l build/windows/stockade-setup.exe
step "done"
