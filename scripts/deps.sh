#!/usr/bin/env bash
# Installs every dependency Stockade needs to build and test, from Debian's archive only.
# Idempotent: when everything is present it does no network work and returns in about a second.
#
#   scripts/deps.sh            Linux + Windows toolchains, libraries, Wine, NSIS, mingw sources
#   scripts/deps.sh --linux    only what the native Linux build needs
#
# Third-party sources for the mingw build are fetched into .deps/ (git-ignored), never committed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
deps="$here/.deps"
want_windows=1
[[ "${1:-}" == "--linux" ]] && want_windows=0

linux_pkgs=(cmake ninja-build g++ pkg-config tcl
  libsqlite3-dev libboost-filesystem1.74-dev libboost1.74-dev libspdlog-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev googletest libgtest-dev libssl-dev
  libacl1-dev acl libseccomp-dev libnftables-dev nftables libnetfilter-log-dev
  passwd sqlite3 xz-utils dpkg-dev bubblewrap
  rsyslog chromium)  # audit review tests: syslog forwarding receiver, HTML report rendering
windows_pkgs=(wine wine64 g++-mingw-w64-x86-64-posix nsis)

pkgs=("${linux_pkgs[@]}")
((want_windows)) && pkgs+=("${windows_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps the meta package mingw-w64 out: it would switch the default
  # compiler to the win32 thread model, where std::mutex does not exist.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
((want_windows)) || exit 0

# --- Sources for the mingw build (Debian source packages, fetched once) --------------------------
mkdir -p "$deps"
srclist="$deps/apt/sources.list"
apt_src() {  # apt_src PACKAGE: download a source package into the current folder, /etc/apt untouched
  mkdir -p "$deps/apt/lists/partial"
  if [[ ! -f "$srclist" ]]; then
    {
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        grep -q 'debian' "$f" || continue
        sed -e 's/^Types: deb$/Types: deb-src/' -e 's/^deb /deb-src /' "$f"
        echo
      done
    } >"$deps/apt/debian-src.sources"
    : >"$srclist"
  fi
  local opts=(-o "Dir::Etc::SourceList=$srclist" -o "Dir::Etc::SourceParts=$deps/apt/parts"
    -o "Dir::State::Lists=$deps/apt/lists" -o "APT::Sandbox::User=root")
  mkdir -p "$deps/apt/parts"
  cp "$deps/apt/debian-src.sources" "$deps/apt/parts/debian-src.sources"
  [[ -f "$deps/apt/updated" ]] || { apt-get "${opts[@]}" update -qq && touch "$deps/apt/updated"; }
  apt-get "${opts[@]}" source --download-only -qq "$1" >/dev/null
}

# SQLite amalgamation (sqlite3.c/sqlite3.h), generated from the Debian source tree.
if [[ ! -f "$deps/sqlite/sqlite3.c" ]]; then
  echo "deps: building the SQLite amalgamation from Debian's sqlite3 source"
  rm -rf "$deps/sqlite-src" && mkdir -p "$deps/sqlite-src" && cd "$deps/sqlite-src"
  apt_src sqlite3
  tar -xf sqlite3_*.orig.tar.* --exclude='*/test/*' --exclude='*/ext/wasm/*'
  cd "$(find . -maxdepth 1 -mindepth 1 -type d | head -n 1)"
  ./configure --disable-tcl >/dev/null
  make -s sqlite3.c >/dev/null
  mkdir -p "$deps/sqlite" && cp sqlite3.c sqlite3.h sqlite3ext.h "$deps/sqlite/"
  rm -rf "$deps/sqlite-src"
fi

# Boost.Filesystem sources (the headers come from libboost1.74-dev).
if [[ ! -d "$deps/boost-filesystem/src" ]]; then
  echo "deps: extracting Boost.Filesystem sources from Debian's boost1.74 source"
  rm -rf "$deps/boost-src" && mkdir -p "$deps/boost-src" && cd "$deps/boost-src"
  apt_src boost1.74
  tar -xf boost1.74_*.orig.tar.* --wildcards '*/libs/filesystem/src/*'
  mkdir -p "$deps/boost-filesystem" && cp -r ./*/libs/filesystem/src "$deps/boost-filesystem/src"
  rm -rf "$deps/boost-src"
fi

# Private include folder for mingw: links to the header-only libraries, never all of /usr/include.
inc="$deps/mingw-include"
mkdir -p "$inc"
for d in boost spdlog fmt CLI toml++ nlohmann; do
  [[ -e "$inc/$d" ]] || ln -s "/usr/include/$d" "$inc/$d"
done
echo "deps: ready"
