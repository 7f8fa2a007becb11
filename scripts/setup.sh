#!/usr/bin/env bash
# Installs what the demo or the tests need on a Debian machine, then checks that it works.
#
#   scripts/setup.sh demo   strongSwan with the plugins the lab loads, Node.js, the npm dependencies
#   scripts/setup.sh test   the same, and what only the tests use: Prometheus, Chromium, systemd's tools
#
# Run as root (or through sudo). What is already installed is left alone; what is missing is
# installed from the release's own archive. Then a charon of the lab's configuration must load every
# plugin the lab relies on and swanctl must parse the lab's certificates (scripts/lab.sh check):
# anything missing stops here with one line that names it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

what=${1:-test}
case "$what" in
demo | test) ;;
*) die "usage: scripts/setup.sh [demo|test]" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (as another user: sudo $0 $what)"
if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	die "needs Debian's apt-get and dpkg"
fi

# zlib.crc32 (gzip responses) came with Node 20.15.
NODE_MIN=20.15
DEMO_PACKAGES=(
	strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins
	libcharon-extra-plugins iproute2 iputils-ping openssl
)
# promtool comes with prometheus; systemd brings systemd-analyze and systemd-sysusers; shellcheck
# lints these scripts.
TEST_PACKAGES=(prometheus chromium systemd shellcheck)

updated=
apt_update() {
	[ -n "$updated" ] && return 0
	say "apt-get update"
	apt-get update -qq >&2 || die "apt-get update failed (see above)"
	updated=1
}

apt_install() {
	say "installing $*"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 ||
		die "apt-get install $* failed (see above)"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Node.js: the one on PATH if it is new enough, else Debian's where the release has a new enough one.
node_ok() {
	command -v node >/dev/null || return 1
	local v
	v=$(node -p 'process.versions.node' 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge "$NODE_MIN"
}

ensure_node() {
	if node_ok; then
		command -v npm >/dev/null && return 0
		installed nodejs && apt_install npm && return 0
		die "npm is missing next to $(command -v node) ($(node --version)): install the npm that comes with that Node.js"
	fi
	apt_update
	local have cand
	have=$(command -v node >/dev/null && node --version || echo none)
	cand=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
	if [ -n "$cand" ] && [ "$cand" != "(none)" ] && dpkg --compare-versions "$cand" ge "$NODE_MIN"; then
		apt_install nodejs npm
		node_ok || die "Debian's nodejs $cand is installed but 'node' on PATH is $(command -v node) ($(node --version)): put /usr/bin first"
		return 0
	fi
	die "needs Node.js >= $NODE_MIN (found: $have; this release's nodejs: ${cand:-none}): install Node.js 20.15 or later (for example the official linux-x64 build), then run this again"
}

# Node.js first: where the release has none new enough, nothing else is worth installing.
ensure_node
packages=("${DEMO_PACKAGES[@]}")
[ "$what" = test ] && packages+=("${TEST_PACKAGES[@]}")
# a lab on another release's strongSwan runs it from a Debian root made with debootstrap
[ "${LAB_STRONGSWAN:-system}" = system ] || packages+=(debootstrap)
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

# Function, not package names: the plugins and certificates the lab relies on.
bash scripts/lab.sh check

if [ "${SETUP_SKIP_NPM:-}" != 1 ]; then
	if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ "${CI:-}" = true ]; then
		say "npm ci"
		npm ci --no-audit --no-fund >&2 || die "npm ci failed (see above)"
	else
		npm run --silent build >&2 || die "npm run build failed (see above)"
	fi
fi
