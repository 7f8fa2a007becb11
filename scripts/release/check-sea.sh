#!/usr/bin/env bash
# Proof that the single executables work where no Node.js is (as root, on an x64 Debian machine):
#
#   bash scripts/release/check-sea.sh
#
#   1. builds both (scripts/release/sea.sh x64 and arm64, into CHECK_SEA_OUT, default release/);
#   2. arm64, under qemu user emulation: --version, then one full scrape of the synthetic charon
#      (bench/synthetic-charon.ts) over a unix socket: strongswan_up 1 and one
#      strongswan_ike_sa_info series per IKE SA it serves;
#   3. x64, in a Debian 12 root made anew with debootstrap (minbase, no Node.js in it: checked), with
#      only the executable copied in and the lab's directory mounted at its own path: it serves the
#      real lab's charon (scripts/lab.sh): strongswan_up 1 and strongswan_conn_up{conn="site"} 1.
#
# Installs what is missing (debootstrap, curl, qemu-user-static, and arm64's libc6 and libstdc++6,
# adding dpkg's arm64 architecture: Node.js's arm64 binary is linked dynamically). Needs `npm ci`
# done. Everything it starts is stopped and removed at the end, also on failure: the lab
# (LAB_DIR, LAB_PREFIX; defaults of its own, so as not to meet the test suite's), the root
# (CHECK_SEA_DIR, default /var/tmp/sswsea-check) and its mounts, which live in a mount namespace of
# their own. The last line says what failed.
set -euo pipefail
LOG_NAME=check-sea
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, the lab)"
OUT=$(out_dir "${CHECK_SEA_OUT:-}")
WORK=${CHECK_SEA_DIR:-/var/tmp/sswsea-check}
WORK=${WORK%/}
R=$WORK/root
export LAB_DIR=${LAB_DIR:-/var/tmp/sswsea-lab}
export LAB_PREFIX=${LAB_PREFIX:-sswsea-}
LAB_DIR=${LAB_DIR%/}
VERSION=$(project_version)
SUITE=bookworm
CHECK_T0=$SECONDS

# ---------------------------------------------------------------- what it needs

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
updated=
apt_install() {
	log "installing $*"
	if [ -z "$updated" ]; then
		apt-get update -qq >&2 || die "apt-get update failed (see above)"
		updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 ||
		die "apt-get install $* failed (see above)"
}
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || missing+=(qemu-user-static)
if ! installed libc6:arm64 || ! installed libstdc++6:arm64; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		log "dpkg --add-architecture arm64"
		dpkg --add-architecture arm64
		updated=
	fi
	missing+=(libc6:arm64 libstdc++6:arm64)
fi
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64) || die "no qemu-aarch64(-static) after installing qemu-user-static"
[ -x node_modules/.bin/esbuild ] || die "node_modules is missing: run npm ci first"
SYNTH=dist/bench/synthetic-charon.js
if [ ! -f "$SYNTH" ]; then
	log "npm run build (for $SYNTH)"
	npm run --silent build >&2 || die "npm run build failed (see above)"
fi

# ---------------------------------------------------------------- clean-up, whatever happens

PIDS=()
cleanup() {
	local rc=$? p
	trap - EXIT
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	bash scripts/lab.sh down >/dev/null 2>&1 || log "lab.sh down failed"
	if grep -q " ${R}[/ ]" /proc/self/mounts; then
		log "unmounting what is left under $R"
		grep " ${R}[/ ]" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
	fi
	if grep -q " ${R}[/ ]" /proc/self/mounts; then
		log "not removing $WORK: something is still mounted under $R"
	else
		rm -rf --one-file-system -- "$WORK"
	fi
	check_exit "$rc"
}
rm -rf --one-file-system -- "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT

# a TCP port nothing listens on now, for the exporter
free_port() {
	local p
	for ((p = 20000 + RANDOM % 20000; ; p++)); do
		ss -Htln "sport = :$p" | grep -q . || break
	done
	echo "$p"
}
scrape() { curl -fsS --max-time 10 "http://127.0.0.1:$1/metrics" 2>/dev/null; }
# wait_metrics PORT PID SECONDS FILE: until /metrics answers (into FILE) while PID lives
wait_metrics() {
	local port=$1 pid=$2 secs=$3 file=$4 start=$SECONDS
	until scrape "$port" >"$file"; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ $((SECONDS - start)) -lt "$secs" ] || return 1
		sleep 0.3
	done
}

# ---------------------------------------------------------------- 1. build

# CHECK_NO_BUILD=1: take the ones `npm run release` made into OUTDIR
if [ -z "${CHECK_NO_BUILD:-}" ]; then
	log "building both executables into $OUT"
	bash scripts/release/sea.sh x64 "$OUT" || fail "scripts/release/sea.sh x64 failed"
	bash scripts/release/sea.sh arm64 "$OUT" || fail "scripts/release/sea.sh arm64 failed"
fi
X64=$OUT/build/sea-x64/strongswan_exporter
ARM64=$OUT/build/sea-arm64/strongswan_exporter
[ "$(elf_machine "$ARM64")" = 183 ] || fail "$ARM64 is not an AArch64 executable"
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS) || fail "$OUT/SHA256SUMS does not match the archives"
WANT_VERSION="strongswan_exporter $VERSION (node v$NODE_VERSION)"

# ---------------------------------------------------------------- 2. arm64 under qemu

log "arm64 under $(basename "$QEMU"): --version"
got=$("$QEMU" "$ARM64" --version 2>&1) || fail "the arm64 executable failed under qemu: $got"
[ "$got" = "$WANT_VERSION" ] || fail "the arm64 executable says '$got' to --version, expected '$WANT_VERSION'"
IKE_SAS=25
SOCK=$WORK/synthetic.vici
node "$SYNTH" --ike-sas "$IKE_SAS" --children 2 --socket "$SOCK" --no-certs >"$WORK/synthetic.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
	[ -S "$SOCK" ] && break
	sleep 0.1
done
[ -S "$SOCK" ] || fail "the synthetic charon did not create $SOCK: $(tail -n 3 "$WORK/synthetic.log")"
PORT=$(free_port)
log "arm64 under $(basename "$QEMU"): one scrape of the synthetic charon ($IKE_SAS IKE SAs) on 127.0.0.1:$PORT"
"$QEMU" "$ARM64" --vici.address "unix://$SOCK" --web.listen-address "127.0.0.1:$PORT" >"$WORK/arm64.log" 2>&1 &
arm=$!
PIDS+=("$arm")
wait_metrics "$PORT" "$arm" 120 "$WORK/arm64.metrics" || {
	tail -n 20 "$WORK/arm64.log" >&2
	fail "the arm64 executable did not serve /metrics under qemu"
}
grep -qx 'strongswan_up 1' "$WORK/arm64.metrics" || fail "arm64: no 'strongswan_up 1' in its scrape of the synthetic charon"
n=$(grep -c '^strongswan_ike_sa_info{' "$WORK/arm64.metrics" || true)
[ "$n" = "$IKE_SAS" ] || fail "arm64: $n strongswan_ike_sa_info series, expected $IKE_SAS (one per IKE SA)"
log "arm64: strongswan_up 1, $n IKE SAs, $(grep -c '^strongswan_' "$WORK/arm64.metrics") samples"
kill "$arm" 2>/dev/null || true
wait "$arm" 2>/dev/null || true

# ---------------------------------------------------------------- 3. x64 in a fresh Debian 12 root

lab_up # sets VICI_PATH

log "debootstrap --variant=minbase $SUITE $R"
# shellcheck disable=SC2086
debootstrap --variant=minbase "$SUITE" "$R" ${LAB_MIRROR:-} >"$WORK/debootstrap.log" 2>&1 ||
	fail "debootstrap failed: $(tail -n 3 "$WORK/debootstrap.log")"
if chroot "$R" /bin/sh -c 'command -v node || command -v nodejs || ls /usr/lib/node_modules /usr/share/nodejs' >/dev/null 2>&1; then
	fail "the fresh $SUITE root has a Node.js"
fi
install -m 0755 "$X64" "$R/usr/local/bin/strongswan_exporter"
mkdir -p "$R$LAB_DIR"
PORT=$(free_port)
log "x64 in the fresh $SUITE root (no Node.js), serving the lab's gw1 on 127.0.0.1:$PORT"
# the root's mounts are made in a mount namespace that ends with the exporter (unshare, sh, chroot
# and env each exec the next: the pid is the exporter's)
# shellcheck disable=SC2016
unshare -m --propagation private sh -c '
	r=$1 d=$2; shift 2
	mount --bind "$d" "$r$d" && mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" &&
	exec chroot "$r" /usr/bin/env -i PATH=/usr/bin:/bin /usr/local/bin/strongswan_exporter "$@"' \
	sh "$R" "$LAB_DIR" --vici.address "unix://$VICI_PATH" --web.listen-address "127.0.0.1:$PORT" \
	>"$WORK/x64.log" 2>&1 &
x64=$!
PIDS+=("$x64")
ok=
for ((i = 0; i < 60; i++)); do
	if wait_metrics "$PORT" "$x64" 30 "$WORK/x64.metrics" && grep -qx 'strongswan_conn_up{conn="site"} 1' "$WORK/x64.metrics"; then
		ok=1
		break
	fi
	kill -0 "$x64" 2>/dev/null || break
	sleep 0.5
done
[ -n "$ok" ] || {
	tail -n 20 "$WORK/x64.log" >&2
	fail "x64 in the fresh root: no strongswan_conn_up{conn=\"site\"} 1 from the lab within 30 s"
}
grep -qx 'strongswan_up 1' "$WORK/x64.metrics" || fail "x64 in the fresh root: no 'strongswan_up 1'"
[ "$(readlink "/proc/$x64/root" 2>/dev/null || true)" = "$R" ] ||
	fail "the exporter that answered does not run in $R"
grep -E '^strongswan_(up|conn_up\{conn="site"\}) ' "$WORK/x64.metrics" >&2 || true
log "x64 in the fresh $SUITE root: strongswan_up 1, strongswan_conn_up{conn=\"site\"} 1"
