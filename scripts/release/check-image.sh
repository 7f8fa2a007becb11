#!/usr/bin/env bash
# Proof that the container image is built and runs (as root, on a Debian machine):
#
#   bash scripts/release/check-image.sh
#
#   1. builds it (scripts/release/image.sh into CHECK_IMAGE_OUT, default release/) and checks the
#      archive's configuration: tag, user 65534, port 9814, entrypoint, environment;
#   2. loads it into a podman storage of its own and runs it: --version, then the exporter on its
#      default port 9814 (published to a free port), as uid 65534 with the group of the real lab's
#      VICI socket added (--group-add), the socket's directory mounted in: strongswan_up 1 and
#      strongswan_conn_up{conn="site"} 1, and no start-up warning about the runtime settings.
#
# Installs what is missing (buildah, podman, debootstrap, curl). Podman runs in a network and mount
# namespace of this script's own, so its bridge, firewall rules and mounts go away with it; its
# storage (under CHECK_IMAGE_DIR, default /var/tmp/sswimg-check), the lab (LAB_DIR, LAB_PREFIX;
# defaults of its own) and the containers are removed at the end, also on failure. The last line
# says what failed. CHECK_IMAGE_RUN=0 only builds and checks the archive, for machines where no
# container can run.
set -euo pipefail
LOG_NAME=check-image
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"

IMAGE_PORT=9814
INNER=
[ "${1:-}" != --inner ] || INNER=1

# ---------------------------------------------------------------- inside the namespaces
# (called as: check-image.sh --inner ARCHIVE NAME SOCKET_DIR GID; prints the scrape on stdout)
if [ -n "$INNER" ]; then
	ARCHIVE=$2 NAME=$3 SOCK_DIR=$4 GID=$5
	WORK=${CHECK_IMAGE_DIR:-/var/tmp/sswimg-check}
	PODMAN=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs --cgroup-manager cgroupfs)
	# What this machine's podman would otherwise ask of crun and fail at (why, in the words of crun):
	# - its default limits are above what the runtime may set: "setrlimit `RLIMIT_NOFILE`: Operation
	#   not permitted" (and RLIMIT_NPROC), so the container gets limits that fit under them;
	# - a cgroup v2 hierarchy with controllers next to v1 ones: "cgroups in hybrid mode not supported,
	#   drop all controllers from cgroupv2": it is unmounted in this mount namespace only.
	RUN_OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
	if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
		umount /sys/fs/cgroup/unified
	fi
	ip link set lo up
	# shellcheck disable=SC2317 # (run by the trap)
	inner_cleanup() {
		"${PODMAN[@]}" rm -a -f -t 2 >/dev/null 2>&1 || true
	}
	trap inner_cleanup EXIT
	"${PODMAN[@]}" load -q -i "$ARCHIVE" >&2 || die "podman load failed"
	got=$("${PODMAN[@]}" run --rm "${RUN_OPTS[@]}" "$NAME" --version 2>&1) || die "podman run $NAME --version failed: $got"
	[ "$got" = "$WANT_VERSION" ] || die "the image says '$got' to --version, expected '$WANT_VERSION'"
	log "podman run $NAME --version: $got"
	"${PODMAN[@]}" run -d --name sswimg-check "${RUN_OPTS[@]}" -p "127.0.0.1:$PORT:$IMAGE_PORT" \
		-v "$SOCK_DIR:/run/strongswan" --group-add "$GID" \
		"$NAME" --vici.address unix:///run/strongswan/charon.vici >/dev/null || die "podman run -d $NAME failed"
	pid=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' sswimg-check)
	ok=
	for ((i = 0; i < 60; i++)); do
		if m=$(curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" 2>/dev/null) &&
			grep -qx 'strongswan_conn_up{conn="site"} 1' <<<"$m"; then
			ok=1
			break
		fi
		[ "$("${PODMAN[@]}" inspect -f '{{.State.Running}}' sswimg-check)" = true ] || break
		sleep 0.5
	done
	logs=$("${PODMAN[@]}" logs sswimg-check 2>&1)
	[ -n "$ok" ] || {
		tail -n 20 <<<"$logs" >&2
		die "the container did not serve strongswan_conn_up{conn=\"site\"} 1 within 30 s"
	}
	grep -qx 'strongswan_up 1' <<<"$m" || die "the container's scrape has no 'strongswan_up 1'"
	uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$pid/status")
	[ "$uid" = 65534 ] || die "the exporter in the container runs as uid $uid, not 65534"
	grep -qw "$GID" <<<"$groups" || die "the exporter in the container lacks the socket's group $GID (groups:$groups)"
	! grep -E 'NODE_OPTIONS has no|MALLOC_MMAP_THRESHOLD_ is not set|gc could not be exposed' <<<"$logs" >&2 ||
		die "the exporter in the container started without its runtime settings"
	log "the container (uid $uid, groups$groups) serves strongswan_up 1 and strongswan_conn_up{conn=\"site\"} 1 on port $IMAGE_PORT"
	grep -E '^strongswan_(up|conn_up\{conn="site"\}) ' <<<"$m" >&2 || true
	exit 0
fi

# ---------------------------------------------------------------- outside

[ "$(id -u)" = 0 ] || die "must run as root (buildah, podman, the lab)"
OUT=$(out_dir "${CHECK_IMAGE_OUT:-}")
WORK=${CHECK_IMAGE_DIR:-/var/tmp/sswimg-check}
WORK=${WORK%/}
export CHECK_IMAGE_DIR=$WORK
export LAB_DIR=${LAB_DIR:-/var/tmp/sswimg-lab}
export LAB_PREFIX=${LAB_PREFIX:-sswimg-}
VERSION=$(project_version)
NAME=strongswan_exporter:$VERSION
ARCHIVE=$OUT/strongswan_exporter-$VERSION-image-amd64.tar
export WANT_VERSION="strongswan_exporter $VERSION (node v$NODE_VERSION)"
CHECK_T0=$SECONDS

missing=()
for t in buildah podman debootstrap curl; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update -qq >&2 || die "apt-get update failed (see above)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed (see above)"
fi

cleanup() {
	local rc=$?
	trap - EXIT
	bash scripts/lab.sh down >/dev/null 2>&1 || log "lab.sh down failed"
	rm -rf --one-file-system -- "$WORK"
	check_exit "$rc"
}
rm -rf --one-file-system -- "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT

# ---------------------------------------------------------------- 1. build, and the archive's config

# CHECK_NO_BUILD=1: take the one `npm run release` made into OUTDIR
[ -n "${CHECK_NO_BUILD:-}" ] || bash scripts/release/image.sh "$OUT" || fail "scripts/release/image.sh failed"
[ -s "$ARCHIVE" ] || fail "no $ARCHIVE"
mkdir "$WORK/archive"
tar -xf "$ARCHIVE" -C "$WORK/archive" manifest.json || fail "$ARCHIVE has no manifest.json (not a docker archive)"
cfg=$(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(m.length === 1 ? m[0].Config : "")' "$WORK/archive/manifest.json")
[ -n "$cfg" ] || fail "$ARCHIVE does not hold exactly one image"
tar -xf "$ARCHIVE" -C "$WORK/archive" "$cfg" || fail "$ARCHIVE lacks its configuration $cfg"
problems=$(node - "$WORK/archive/manifest.json" "$WORK/archive/$cfg" "$NAME" "$IMAGE_PORT" <<'JS'
const fs = require('fs');
const [manifestFile, configFile, name, port] = process.argv.slice(2);
const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'))[0];
const c = JSON.parse(fs.readFileSync(configFile, 'utf8'));
const cfg = c.config ?? {};
const env = new Map((cfg.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
const want = [
  [(manifest.RepoTags ?? []).some((t) => t === name || t.endsWith(`/${name}`)), `tag ${name}`],
  [c.architecture === 'amd64' && c.os === 'linux', 'linux/amd64'],
  [cfg.User === '65534:65534', 'user 65534:65534'],
  [Object.keys(cfg.ExposedPorts ?? {}).join() === `${port}/tcp`, `exposed port ${port}/tcp only`],
  [JSON.stringify(cfg.Entrypoint) === '["/usr/local/bin/strongswan_exporter"]', 'entrypoint the executable'],
  [env.get('NODE_OPTIONS') === '--max-semi-space-size=16', 'NODE_OPTIONS=--max-semi-space-size=16'],
  [env.get('MALLOC_MMAP_THRESHOLD_') === '131072', 'MALLOC_MMAP_THRESHOLD_=131072'],
  [(c.rootfs?.diff_ids ?? []).length === 1, 'one layer'],
];
process.stdout.write(want.filter(([ok]) => !ok).map(([, what]) => what).join(', '));
JS
) || fail "cannot read the image's configuration"
[ -z "$problems" ] || fail "the image's configuration lacks: $problems"
layer=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].Layers[0])' "$WORK/archive/manifest.json")
tar -xf "$ARCHIVE" -C "$WORK/archive" "$layer" || fail "$ARCHIVE lacks its layer $layer"
files=$(tar -tf "$WORK/archive/$layer")
grep -qx 'usr/local/bin/strongswan_exporter' <<<"$files" || fail "the image has no usr/local/bin/strongswan_exporter"
! grep -E '(^|/)(bin/node|bin/sh)$' <<<"$files" >&2 || fail "the image has a node or a shell"
log "the archive: $NAME, user 65534:65534, port $IMAGE_PORT/tcp, $(wc -l <<<"$files") files, $(du -m "$ARCHIVE" | cut -f1) MiB"
rm -rf "$WORK/archive"

if [ "${CHECK_IMAGE_RUN:-1}" = 0 ]; then
	log "CHECK_IMAGE_RUN=0: not running it"
	exit 0
fi

# ---------------------------------------------------------------- 2. run it against the lab

lab_up # sets VICI_PATH
GID=$(stat -c %g "$VICI_PATH")
# a port of the script's own network namespace: any will do
export PORT=19814
log "podman: $NAME against the lab's gw1 (socket group $GID), in namespaces of its own"
unshare -m -n --propagation private bash "$0" --inner "$ARCHIVE" "$NAME" "$(dirname "$VICI_PATH")" "$GID" ||
	fail "the image did not run as it should (see above)"
