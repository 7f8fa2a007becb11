#!/usr/bin/env bash
# The proof of the Debian package (scripts/release/deb.sh all):
#   1. build strongswan-exporter_VERSION_all.deb (or, with --no-build, take the one in OUTDIR);
#   2. lintian finds no error, warning or info tag that the package does not override with a reason
#      (deploy/debian/lintian-overrides, explained in deploy/debian/lintian-notes.md);
#   3. in a Debian 13 root made from scratch (debootstrap --variant=minbase trixie), `apt-get install
#      ./strongswan-exporter_*.deb` installs Debian's nodejs and not npm, creates the user and the
#      VICI group, enables the service without starting it (no systemd runs there);
#   4. the installed /usr/bin/strongswan_exporter, run as the user strongswan-exporter, serves the
#      lab's metrics (strongswan_up 1, the `site` connection up) through a VICI socket handed to
#      the group strongswan-vici, scraped from outside the root;
#   5. `apt-get purge strongswan-exporter` leaves nothing of it but the system user and groups.
#
#   scripts/release/check-deb.sh [--no-build] [OUTDIR]      (as root; OUTDIR defaults to release/)
#
# Installs what it needs and lacks with apt-get (debootstrap, lintian, curl). The lab runs with
# LAB_DIR and LAB_PREFIX from the environment (defaults /var/tmp/sswdeb-lab, sswdeb-), the root
# under CHECK_DEB_DIR (default /var/tmp/sswdeb-fresh-trixie), the exporter on 127.0.0.1:CHECK_DEB_PORT
# (default 39814). All of it is made anew and removed at the end, also on failure; the root's mounts
# live in a mount namespace of this script's own. The root gets no CA bundle and no npm registry
# access: nothing in it may come from npm.
# shellcheck disable=SC2015 # [ a ] && [ b ] || die: die when either test fails
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD

log() { printf 'check-deb: %s\n' "$*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

INSIDE=
[ "${1:-}" != --inside ] || {
	INSIDE=1
	shift
}
BUILD=1
OUTDIR=release
for a in "$@"; do
	case "$a" in
	--no-build) BUILD= ;;
	-*) die "unknown option $a (usage: scripts/release/check-deb.sh [--no-build] [OUTDIR])" ;;
	*) OUTDIR=$a ;;
	esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
SUITE=trixie
WORK=${CHECK_DEB_DIR:-/var/tmp/sswdeb-fresh-$SUITE}
WORK=${WORK%/}
R=$WORK/root
PORT=${CHECK_DEB_PORT:-39814}
MIRROR=${CHECK_DEB_MIRROR:-http://deb.debian.org/debian}
export LAB_DIR=${LAB_DIR:-/var/tmp/sswdeb-lab} LAB_PREFIX=${LAB_PREFIX:-sswdeb-} LAB_STRONGSWAN=system
LAB_DIR=${LAB_DIR%/}
PKG=strongswan-exporter

# Run a command as root in the root, with a clean environment (no proxy or CA settings of the host).
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
		DEBIAN_FRONTEND=noninteractive /bin/sh -c "$1"
}

# processes whose root is the fresh root
root_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && echo "${p#/proc/}"
	done
	return 0
}

installed() { in_root "dpkg-query -W -f='\${Status}' $1 2>/dev/null" | grep -q 'install ok installed'; }

scrape() { curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" 2>/dev/null; }

# ---------------------------------------------------------------- inside our own mount namespace

inside() {
	local deb=$1 vici_dir=$2
	mount --bind "$R" "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /sys "$R/sys"
	mount --rbind /dev "$R/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$R/run"

	log "apt-get install ./$(basename "$deb") in the fresh $SUITE root"
	local t0=$SECONDS
	in_root 'apt-get update -qq' >"$WORK/apt.log" 2>&1 || die "apt-get update failed: $(tail -n 3 "$WORK/apt.log")"
	in_root "cd /tmp && apt-get install -y ./$(basename "$deb")" >>"$WORK/apt.log" 2>&1 ||
		die "apt-get install ./$(basename "$deb") failed: $(tail -n 5 "$WORK/apt.log")"
	log "installed in $((SECONDS - t0)) s: $(grep -o '[0-9]* newly installed' "$WORK/apt.log") packages"
	installed "$PKG" || die "$PKG is not installed after apt-get install"
	installed nodejs || die "apt-get install did not install Debian's nodejs"
	log "nodejs $(in_root "dpkg-query -W -f='\${Version}' nodejs") from Debian"
	! installed npm || die "npm got installed along with the package"
	! in_root 'command -v npm' >/dev/null || die "an npm command is in the root"
	local p
	for p in /usr/share/nodejs/npm /usr/lib/node_modules/npm /usr/local/lib/node_modules; do
		[ ! -e "$R$p" ] || die "$p exists in the root: something came from npm"
	done

	# user, groups, conffile, units as Debian Policy and the service want them
	local pw
	pw=$(in_root 'getent passwd strongswan-exporter') || die "postinst made no user strongswan-exporter"
	IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
	[ "$uid" -lt 1000 ] && [ "$home" = /nonexistent ] && [ "$shell" = /usr/sbin/nologin ] ||
		die "strongswan-exporter is not a system user without home and shell: $pw"
	in_root 'id -nG strongswan-exporter' | grep -qw strongswan-vici ||
		die "strongswan-exporter is not in the group strongswan-vici"
	in_root "dpkg-query -W -f='\${Conffiles}' $PKG" | grep -q '^ /etc/default/strongswan_exporter ' ||
		die "/etc/default/strongswan_exporter is not a conffile"
	[ -L "$R/etc/systemd/system/multi-user.target.wants/strongswan_exporter.service" ] ||
		die "postinst did not enable strongswan_exporter.service"
	[ ! -e "$R/etc/systemd/system/sockets.target.wants/strongswan_exporter.socket" ] ||
		die "postinst enabled the socket unit, which is opt-in"
	[ -z "$(root_pids)" ] || die "postinst started something where systemd does not run: $(root_pids | xargs ps -o args= -p)"
	log "user strongswan-exporter (uid $uid) in strongswan-vici, conffile, service enabled and not started"

	# The lab's gateway directory at the same path in the root; its socket handed to the root's
	# strongswan-vici, as deploy/systemd/strongswan-vici-group.conf does after each start of charon.
	mkdir -p "$R$vici_dir"
	mount --bind "$vici_dir" "$R$vici_dir"
	local gid
	gid=$(in_root 'getent group strongswan-vici' | cut -d: -f3)
	chgrp "$gid" "$vici_dir/charon.vici"

	log "starting /usr/bin/strongswan_exporter in the root as strongswan-exporter, on 127.0.0.1:$PORT"
	# chroot itself in the background (not a function, which would fork a shell): every step execs
	# the next, so $! ends up being the exporter's node.
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		setpriv --reuid=strongswan-exporter --regid=strongswan-exporter --init-groups --inh-caps=-all \
		/usr/bin/strongswan_exporter --vici.address "unix://$vici_dir/charon.vici" --web.listen-address "127.0.0.1:$PORT" \
		>"$WORK/exporter.log" 2>&1 &
	local pid=$! m=
	t0=$SECONDS
	until m=$(scrape) && grep -qx 'strongswan_up 1' <<<"$m" && grep -qx 'strongswan_conn_up{conn="site"} 1' <<<"$m"; do
		kill -0 "$pid" 2>/dev/null || {
			tail -n 20 "$WORK/exporter.log" >&2
			die "the installed strongswan_exporter exited before serving the lab's metrics"
		}
		[ $((SECONDS - t0)) -lt 60 ] || {
			tail -n 20 "$WORK/exporter.log" >&2
			die "the installed strongswan_exporter did not serve strongswan_up 1 and the site connection within 60 s"
		}
		sleep 1
	done
	grep -E '^(strongswan_up|strongswan_conn_up\{conn="site"\}|strongswan_info|nodejs_version_info)' <<<"$m" >&2
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$uid" ] || die "the exporter does not run as strongswan-exporter"
	[ "$(readlink "/proc/$pid/exe")" = "$(realpath "$R/usr/bin/node")" ] ||
		die "the exporter runs $(readlink "/proc/$pid/exe"), not the root's /usr/bin/node"
	log "the installed exporter serves the lab after $((SECONDS - t0)) s, as uid $uid on Debian's node"
	kill -TERM "$pid"
	wait "$pid" || true

	# What the service would have made: its StateDirectory, for purge to remove.
	install -d -m 0700 -o "$uid" "$R/var/lib/strongswan_exporter"
	echo '{}' >"$R/var/lib/strongswan_exporter/events.json"

	log "apt-get purge -y $PKG"
	in_root "apt-get purge -y $PKG" >>"$WORK/apt.log" 2>&1 || die "apt-get purge failed: $(tail -n 5 "$WORK/apt.log")"
	in_root "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null" | grep -q . &&
		die "dpkg still knows $PKG after purge: $(in_root "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG")"
	for p in /usr/lib/strongswan-exporter /usr/bin/strongswan_exporter /etc/default/strongswan_exporter \
		/usr/lib/systemd/system/strongswan_exporter.service /usr/lib/systemd/system/strongswan_exporter.socket \
		/usr/lib/sysusers.d/strongswan_exporter.conf /usr/share/doc/$PKG /var/lib/strongswan_exporter \
		/etc/systemd/system/multi-user.target.wants/strongswan_exporter.service; do
		[ ! -e "$R$p" ] && [ ! -L "$R$p" ] || die "$p is still there after purge"
	done
	# Anything else with the package's name, outside what records the history (dpkg and apt logs) and
	# the .deb this script brought in.
	local left
	left=$(cd "$R" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
		-o -path ./var/log -o -path ".$vici_dir" \) -prune -o \( -name '*strongswan-exporter*' -o -name '*strongswan_exporter*' \) -print)
	[ -z "$left" ] || die "purge left: $(tr '\n' ' ' <<<"$left")"
	# What Debian keeps on purge: the system user and groups (README.Debian says why).
	in_root 'getent passwd strongswan-exporter && getent group strongswan-vici' >/dev/null ||
		die "purge removed the system user or the group strongswan-vici"
	log "purge removed every file of the package; the system user strongswan-exporter and the groups stay"
}

if [ -n "$INSIDE" ]; then
	inside "$DEB" "$VICI_DIR"
	exit
fi

# ---------------------------------------------------------------- outside

cleanup() {
	local rc=$? pids
	trap - EXIT
	pids=$(root_pids)
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	sleep 0.2
	if grep -q " ${R}[/ ]" /proc/self/mounts; then
		grep " ${R}[/ ]" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
	fi
	bash "$SRC/scripts/lab.sh" down >/dev/null 2>&1 || true
	if [ -e "$R/proc/self" ]; then
		log "not removing $WORK: $R/proc is still mounted"
	else
		rm -rf --one-file-system -- "$WORK"
	fi
	[ "$rc" = 0 ] || log "FAILED (exit $rc)"
	exit "$rc"
}

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
		die "apt-get install ${need[*]} failed"
fi

T0=$SECONDS
VERSION=$(node -p 'require("./package.json").version')-${DEB_REVISION:-1}
export DEB=$OUTDIR/${PKG}_${VERSION}_all.deb
if [ -n "$BUILD" ]; then
	log "scripts/release/deb.sh all $OUTDIR"
	bash scripts/release/deb.sh all "$OUTDIR" >/dev/null || die "scripts/release/deb.sh all failed"
fi
[ -f "$DEB" ] || die "no $DEB (build it with scripts/release/deb.sh all $OUTDIR)"
DEB=$(realpath "$DEB")
log "$(basename "$DEB"): $(du -k "$DEB" | cut -f1) KiB, Installed-Size $(dpkg-deb -f "$DEB" Installed-Size) KiB"

log "lintian $(lintian --version | awk '{print $2}')"
lint_rc=0
lintian --pedantic --display-info --fail-on error,warning,info "$DEB" >"$OUTDIR/lintian.log" 2>&1 || lint_rc=$?
grep -v -e '^N:' -e 'running with root privileges' "$OUTDIR/lintian.log" >&2 || true
[ "$lint_rc" = 0 ] || die "lintian reports tags that deploy/debian/lintian-overrides does not explain (see above)"
log "lintian: clean but for the overrides in deploy/debian/lintian-overrides"

rm -rf --one-file-system -- "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT
t0=$SECONDS
log "debootstrap --variant=minbase $SUITE"
debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	die "debootstrap failed: $(tail -n 3 "$WORK/debootstrap.log")"
cp "$DEB" "$R/tmp/"
log "$SUITE root made in $((SECONDS - t0)) s"

log "lab up (LAB_DIR=$LAB_DIR LAB_PREFIX=$LAB_PREFIX)"
bash scripts/lab.sh up >"$WORK/lab.log" 2>&1 || die "lab.sh up failed: $(tail -n 3 "$WORK/lab.log")"
vici=$(bash scripts/lab.sh env | sed -n 's/^LAB_GW1_VICI_PATH=//p')
[ -S "$vici" ] || die "the lab's gw1 has no VICI socket at '$vici'"
export VICI_DIR=${vici%/*}

unshare -m --propagation private bash "$SRC/scripts/release/check-deb.sh" --inside
log "passed in $((SECONDS - T0)) s"
