#!/usr/bin/env bash
# The proof of the Debian packages (scripts/release/deb.sh):
#
#   scripts/release/check-deb.sh [--arch all|amd64|arm64[,...]] [--no-build] [OUTDIR]
#       (as root on an amd64 Debian machine; --arch defaults to all, OUTDIR to release/)
#
# For each package asked for:
#   1. build it (with --no-build: take the one in OUTDIR): `deb.sh all`; for amd64 and arm64 first
#      the single executable (`sea.sh x64|arm64 OUTDIR`), then `deb.sh ARCH EXECUTABLE OUTDIR`;
#   2. lintian finds no error, warning or info tag that the package does not override with a reason
#      (deploy/debian/lintian-overrides, explained in deploy/debian/lintian-notes.md);
#   3. all and amd64, in a root made from scratch (debootstrap --variant=minbase): Debian 13 for the
#      _all package, Debian 12 (whose nodejs is too old for it) for the _amd64 one. `apt-get install
#      ./strongswan-exporter_*.deb` installs Debian's nodejs (all) or no Node.js at all (amd64:
#      `command -v node` fails in the root), never npm, creates the user and the VICI group, enables
#      the service without starting it (no systemd runs there);
#   4. the installed /usr/bin/strongswan_exporter, run as the user strongswan-exporter, serves the
#      lab's metrics (strongswan_up 1, the `site` connection up) through a VICI socket handed to
#      the group strongswan-vici, scraped from outside the root; it runs Debian's node (all) or the
#      packaged executable (amd64) with the environment and node flags of main.ts's shebang, and logs
#      no warning about a missing runtime setting;
#   5. `apt-get purge strongswan-exporter` leaves nothing of it but the system user and groups;
#   6. arm64, which needs an arm64 system to be installed: its control data and contents
#      (Architecture: arm64, no nodejs, the launcher, an AArch64 executable), and the packaged launcher,
#      its exec turned into one under qemu user emulation, answers --version and starts the exporter
#      without a warning about a missing runtime setting.
#
# Installs what it needs and lacks with apt-get (debootstrap, lintian, curl, binutils; for arm64
# qemu-user-static and arm64's libc6 and libstdc++6). The roots are debootstrapped in the background
# while the packages are built. The lab runs with LAB_DIR and LAB_PREFIX from the environment
# (defaults /var/tmp/sswdeb-lab, sswdeb-), each root in CHECK_DEB_DIR-SUITE (default
# /var/tmp/sswdeb-fresh-trixie, -bookworm), the exporter on 127.0.0.1:CHECK_DEB_PORT (default
# 39814). All of it is made anew and removed at the end, also on failure; the roots' mounts live in
# mount namespaces of this script's own. The roots get no CA bundle and no npm registry access:
# nothing in them may come from npm. The last line says what failed.
# shellcheck disable=SC2015 # [ a ] && [ b ] || die: die when either test fails
set -euo pipefail
LOG_NAME=check-deb
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"
SRC=$PWD

# lib.sh's die, with the word CI logs are searched for; the reason also goes to FAIL_FILE, for the
# last line of the run (a failure in the roots' mount namespaces is a process of its own).
die() {
	log "FAILED: $*"
	[ -z "${FAIL_FILE:-}" ] || printf '%s\n' "$*" >"$FAIL_FILE"
	exit 1
}
usage="usage: scripts/release/check-deb.sh [--arch all|amd64|arm64[,...]] [--no-build] [OUTDIR]"

INSIDE=
if [ "${1:-}" = --inside ]; then
	INSIDE=${2:?}
	shift 2
fi
BUILD=1
OUTDIR=release
ARCHES=all
while [ $# -gt 0 ]; do
	case "$1" in
	--no-build) BUILD= ;;
	--arch)
		[ $# -ge 2 ] || die "$usage"
		ARCHES=$2
		shift
		;;
	--arch=*) ARCHES=${1#--arch=} ;;
	-*) die "unknown option $1 ($usage)" ;;
	*) OUTDIR=$1 ;;
	esac
	shift
done
IFS=, read -ra ARCH_LIST <<<"$ARCHES"
[ "${#ARCH_LIST[@]}" -gt 0 ] || die "$usage"
for a in "${ARCH_LIST[@]}"; do
	case "$a" in all | amd64 | arm64) ;; *) die "unknown architecture '$a' ($usage)" ;; esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
PORT=${CHECK_DEB_PORT:-39814}
MIRROR=${CHECK_DEB_MIRROR:-http://deb.debian.org/debian}
export LAB_DIR=${LAB_DIR:-/var/tmp/sswdeb-lab} LAB_PREFIX=${LAB_PREFIX:-sswdeb-} LAB_STRONGSWAN=system
LAB_DIR=${LAB_DIR%/}
PKG=strongswan-exporter
BIN=strongswan_exporter
PREFIX=/usr/lib/$PKG

# The Debian release each package is installed in: the _all one needs a nodejs >= engines.node
# (Debian 13), the arch ones are for the release whose nodejs is too old (Debian 12). arm64 is not
# installed on this amd64 machine.
suite_of() {
	case "$1" in
	all) echo trixie ;;
	amd64) echo bookworm ;;
	*) echo ;;
	esac
}
work_of() {
	local w=${CHECK_DEB_DIR:-/var/tmp/sswdeb-fresh}
	echo "${w%/}-$(suite_of "$1")"
}

# Run a command as root in the root $R, with a clean environment (no proxy or CA settings of the host).
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
		DEBIAN_FRONTEND=noninteractive /bin/sh -c "$1"
}

# processes whose root is the directory $1
root_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
	return 0
}

installed() { in_root "dpkg-query -W -f='\${Status}' $1 2>/dev/null" | grep -q 'install ok installed'; }

scrape() { curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" 2>/dev/null; }

# The environment assignments and node flags of main.ts's shebang (what every launcher must give the
# program): SHEBANG_ENV and SHEBANG_FLAGS.
read_shebang() {
	local line w words seen=
	line=$(head -n 1 src/cli/main.ts)
	[[ "$line" == '#!/usr/bin/env -S '* ]] || die "src/cli/main.ts's first line is not '#!/usr/bin/env -S ...': $line"
	read -ra words <<<"${line#'#!/usr/bin/env -S '}"
	SHEBANG_ENV=()
	SHEBANG_FLAGS=()
	for w in "${words[@]}"; do
		if [ -n "$seen" ]; then
			SHEBANG_FLAGS+=("$w")
		elif [ "$w" = node ]; then
			seen=1
		else
			SHEBANG_ENV+=("$w")
		fi
	done
	[ -n "$seen" ] && [ "${#SHEBANG_ENV[@]}" -gt 0 ] && [ "${#SHEBANG_FLAGS[@]}" -gt 0 ] ||
		die "src/cli/main.ts's shebang has no environment or no node flags: $line"
}

# check_runtime LABEL ENVIRON_FILE LOG [CMDLINE_FILE]: the process got the shebang's environment and
# node flags (on its command line, or in NODE_OPTIONS where there is none) and its log has its start
# and no warning of src/cli/sea-runtime.ts about a missing setting.
check_runtime() {
	local label=$1 environ=$2 logf=$3 cmdline=${4:-} e f opts
	read_shebang
	for e in "${SHEBANG_ENV[@]}"; do
		tr '\0' '\n' <"$environ" | grep -qxF -- "$e" || die "$label: $e is not in its environment"
	done
	opts=$(tr '\0' '\n' <"$environ" | sed -n 's/^NODE_OPTIONS=//p')
	for f in "${SHEBANG_FLAGS[@]}"; do
		if [ -n "$cmdline" ] && tr '\0' '\n' <"$cmdline" | grep -qxF -- "$f"; then continue; fi
		grep -qwF -- "$f" <<<"$opts" || die "$label: node flag $f is neither on its command line nor in NODE_OPTIONS ('$opts')"
	done
	grep -q 'starting strongswan_exporter' "$logf" || die "$label: its log has no start line: $(head -c 300 "$logf")"
	! grep -E 'NODE_OPTIONS|MALLOC_MMAP_THRESHOLD_|gc could not be exposed' "$logf" >&2 ||
		die "$label: it warns about a missing runtime setting (above)"
	log "$label: ${SHEBANG_ENV[*]}, ${SHEBANG_FLAGS[*]}; no warning about runtime settings"
}

# ---------------------------------------------------------------- inside a mount namespace of our own

inside() {
	local arch=$1 deb=$2 vici_dir=$3 suite
	suite=$(suite_of "$arch")
	mount --bind "$R" "$R"
	mount -t proc proc "$R/proc"
	mount --rbind /sys "$R/sys"
	mount --rbind /dev "$R/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$R/run"

	log "$arch: apt-get install ./$(basename "$deb") in the fresh $suite root"
	local t0=$SECONDS
	in_root 'apt-get update -qq' >"$WORK/apt.log" 2>&1 || die "apt-get update failed: $(tail -n 3 "$WORK/apt.log")"
	in_root "cd /tmp && apt-get install -y ./$(basename "$deb")" >>"$WORK/apt.log" 2>&1 ||
		die "apt-get install ./$(basename "$deb") failed: $(tail -n 5 "$WORK/apt.log")"
	log "$arch: installed in $((SECONDS - t0)) s: $(grep -o '[0-9]* newly installed' "$WORK/apt.log") packages"
	installed "$PKG" || die "$PKG is not installed after apt-get install"
	local node_exe
	if [ "$arch" = all ]; then
		installed nodejs || die "apt-get install did not install Debian's nodejs"
		log "all: nodejs $(in_root "dpkg-query -W -f='\${Version}' nodejs") from Debian"
		node_exe=$(realpath "$R/usr/bin/node")
	else
		# the point of the arch package: it runs where Debian's nodejs is too old, without it
		! installed nodejs || die "$arch: apt-get install pulled in Debian's nodejs $(in_root "dpkg-query -W -f='\${Version}' nodejs")"
		! in_root 'command -v node || command -v nodejs' >/dev/null || die "$arch: a node command is in the root: $(in_root 'command -v node nodejs')"
		log "$arch: no nodejs package and no node command in the root"
		node_exe=$R$PREFIX/$BIN
	fi
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
	[ -z "$(root_pids "$R")" ] || die "postinst started something where systemd does not run: $(root_pids "$R" | xargs ps -o args= -p)"
	log "$arch: user strongswan-exporter (uid $uid) in strongswan-vici, conffile, service enabled and not started"

	# The lab's gateway directory at the same path in the root; its socket handed to the root's
	# strongswan-vici, as deploy/systemd/strongswan-vici-group.conf does after each start of charon.
	mkdir -p "$R$vici_dir"
	mount --bind "$vici_dir" "$R$vici_dir"
	local gid
	gid=$(in_root 'getent group strongswan-vici' | cut -d: -f3)
	chgrp "$gid" "$vici_dir/charon.vici"

	log "$arch: starting /usr/bin/strongswan_exporter in the root as strongswan-exporter, on 127.0.0.1:$PORT"
	# chroot itself in the background (not a function, which would fork a shell): every step execs
	# the next, so $! ends up being the exporter's process.
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
	[ "$(readlink "/proc/$pid/exe")" = "$node_exe" ] ||
		die "the exporter runs $(readlink "/proc/$pid/exe"), not ${node_exe#"$R"} of the root"
	log "$arch: the installed exporter serves the lab after $((SECONDS - t0)) s, as uid $uid, running ${node_exe#"$R"}"
	check_runtime "$arch: the installed exporter" "/proc/$pid/environ" "$WORK/exporter.log" "/proc/$pid/cmdline"
	kill -TERM "$pid"
	wait "$pid" || true

	# What the service would have made: its StateDirectory, for purge to remove.
	install -d -m 0700 -o "$uid" "$R/var/lib/strongswan_exporter"
	echo '{}' >"$R/var/lib/strongswan_exporter/events.json"

	log "$arch: apt-get purge -y $PKG"
	in_root "apt-get purge -y $PKG" >>"$WORK/apt.log" 2>&1 || die "apt-get purge failed: $(tail -n 5 "$WORK/apt.log")"
	in_root "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null" | grep -q . &&
		die "dpkg still knows $PKG after purge: $(in_root "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG")"
	for p in $PREFIX /usr/bin/$BIN /etc/default/strongswan_exporter \
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
	log "$arch: purge removed every file of the package; the system user strongswan-exporter and the groups stay"
}

if [ -n "$INSIDE" ]; then
	WORK=$(work_of "$INSIDE")
	R=$WORK/root
	inside "$INSIDE" "$DEB" "$VICI_DIR"
	exit
fi

# ---------------------------------------------------------------- outside

# The roots this run makes (arches all and amd64) and the debootstraps filling them.
ROOTED=()
for a in "${ARCH_LIST[@]}"; do [ -z "$(suite_of "$a")" ] || ROOTED+=("$a"); done
declare -A BOOTSTRAP_PID=()
QEMU_PID=

cleanup() {
	local rc=$? a w r pids
	trap - EXIT
	[ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
	for a in "${!BOOTSTRAP_PID[@]}"; do
		# debootstrap runs in a session of its own (setsid): its downloads and dpkg go with it
		kill -KILL -- "-${BOOTSTRAP_PID[$a]}" 2>/dev/null || true
	done
	for a in "${ROOTED[@]}"; do
		r=$(work_of "$a")/root
		pids=$(root_pids "$r")
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	done
	wait 2>/dev/null || true
	sleep 0.2
	bash "$SRC/scripts/lab.sh" down >/dev/null 2>&1 || true
	for a in "${ROOTED[@]}"; do
		w=$(work_of "$a")
		r=$w/root
		if grep -q " ${r}[/ ]" /proc/self/mounts; then
			grep " ${r}[/ ]" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
		fi
		if [ -e "$r/proc/self" ]; then
			log "not removing $w: $r/proc is still mounted"
		else
			rm -rf --one-file-system -- "$w"
		fi
	done
	local why
	why=$(cat "$FAIL_FILE" 2>/dev/null || true)
	[ "$rc" = 0 ] || log "FAILED (exit $rc) after $((SECONDS - T0)) s: ${why:-see the lines above}"
	rm -f "$FAIL_FILE"
	exit "$rc"
}
T0=$SECONDS
FAIL_FILE=$(mktemp)
export FAIL_FILE
trap cleanup EXIT

installed_here() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
command -v lintian >/dev/null || need+=(lintian)
command -v readelf >/dev/null || need+=(binutils)
if [ "${#ROOTED[@]}" -gt 0 ]; then
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v curl >/dev/null || need+=(curl)
fi
QEMU=
WANT_ARM64=
[[ " ${ARCH_LIST[*]} " != *" arm64 "* ]] || WANT_ARM64=1
if [ -n "$WANT_ARM64" ]; then
	QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
	[ -n "$QEMU" ] || need+=(qemu-user-static)
	# Node.js's arm64 binary is linked dynamically: qemu runs it with arm64's loader and libraries.
	if ! installed_here libc6:arm64 || ! installed_here libstdc++6:arm64; then
		dpkg --print-foreign-architectures | grep -qx arm64 || {
			log "dpkg --add-architecture arm64"
			dpkg --add-architecture arm64
		}
		need+=(libc6:arm64 libstdc++6:arm64)
	fi
fi
if [ "${#need[@]}" -gt 0 ]; then
	log "installing ${need[*]}"
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 ||
		die "apt-get install ${need[*]} failed"
fi
[ -z "$WANT_ARM64" ] || QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64) ||
	die "no qemu-aarch64(-static) after installing qemu-user-static"

# The roots first, in the background: debootstrap waits on the mirror while the builds use the CPU.
for a in "${ROOTED[@]}"; do
	w=$(work_of "$a")
	rm -rf --one-file-system -- "$w"
	mkdir -p "$w"
	log "$a: debootstrap --variant=minbase $(suite_of "$a") $w/root (in the background)"
	setsid debootstrap --variant=minbase "$(suite_of "$a")" "$w/root" "$MIRROR" >"$w/debootstrap.log" 2>&1 &
	BOOTSTRAP_PID[$a]=$!
done

UPSTREAM_VERSION=$(node -p 'require("./package.json").version')
VERSION=$UPSTREAM_VERSION-${DEB_REVISION:-1}
mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
declare -A DEB_OF=()
for a in "${ARCH_LIST[@]}"; do
	deb=$OUTDIR/${PKG}_${VERSION}_$a.deb
	if [ -n "$BUILD" ]; then
		t0=$SECONDS
		if [ "$a" = all ]; then
			log "all: scripts/release/deb.sh all $OUTDIR"
			bash scripts/release/deb.sh all "$OUTDIR" >/dev/null || die "scripts/release/deb.sh all failed"
		else
			sea=x64
			[ "$a" = amd64 ] || sea=arm64
			log "$a: scripts/release/sea.sh $sea $OUTDIR"
			bash scripts/release/sea.sh "$sea" "$OUTDIR" || die "scripts/release/sea.sh $sea failed"
			log "$a: scripts/release/deb.sh $a $OUTDIR/build/sea-$sea/$BIN $OUTDIR"
			bash scripts/release/deb.sh "$a" "$OUTDIR/build/sea-$sea/$BIN" "$OUTDIR" >/dev/null ||
				die "scripts/release/deb.sh $a failed"
		fi
		log "$a: built in $((SECONDS - t0)) s"
	fi
	[ -f "$deb" ] || die "no $deb (build it with scripts/release/deb.sh, or leave out --no-build)"
	log "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
	DEB_OF[$a]=$deb

	t0=$SECONDS
	lint_rc=0
	lintian --pedantic --display-info --fail-on error,warning,info "$deb" >"$OUTDIR/lintian-$a.log" 2>&1 || lint_rc=$?
	grep -v -e '^N:' -e 'running with root privileges' "$OUTDIR/lintian-$a.log" >&2 || true
	[ "$lint_rc" = 0 ] || die "$a: lintian reports tags that deploy/debian/lintian-overrides does not explain (see above)"
	log "$a: lintian $(lintian --version | awk '{print $2}') clean but for the overrides, in $((SECONDS - t0)) s"
done

# ---------------------------------------------------------------- arm64: contents, and under qemu

if [ -n "${DEB_OF[arm64]:-}" ]; then
	deb=${DEB_OF[arm64]}
	[ "$(dpkg-deb -f "$deb" Package)" = "$PKG" ] || die "arm64: the package is not named $PKG"
	[ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "arm64: Architecture is '$(dpkg-deb -f "$deb" Architecture)'"
	depends=$(dpkg-deb -f "$deb" Depends)
	! grep -qw nodejs <<<"$depends" || die "arm64: it depends on nodejs: $depends"
	contents=$(dpkg-deb -c "$deb")
	grep -qE "^-rwxr-xr-x root/root .* \./usr/bin/$BIN\$" <<<"$contents" || die "arm64: no executable /usr/bin/$BIN in the package"
	grep -qE "^-rwxr-xr-x root/root .* \.$PREFIX/$BIN\$" <<<"$contents" || die "arm64: no executable $PREFIX/$BIN in the package"
	X=$OUTDIR/build/check-deb-arm64
	rm -rf "$X"
	dpkg-deb -x "$deb" "$X"
	[ "$(elf_machine "$X$PREFIX/$BIN")" = 183 ] || die "arm64: $PREFIX/$BIN is not an AArch64 ELF (e_machine $(elf_machine "$X$PREFIX/$BIN"))"
	launcher=$X/usr/bin/$BIN
	[ "$(head -n 1 "$launcher")" = '#!/bin/sh' ] || die "arm64: /usr/bin/$BIN is not a /bin/sh script"
	[ "$(grep -c "^exec $PREFIX/$BIN \"\\\$@\"\$" "$launcher")" = 1 ] || die "arm64: /usr/bin/$BIN does not end in exec $PREFIX/$BIN"
	log "arm64: Architecture arm64, Depends: $depends; the launcher execs $PREFIX/$BIN, an AArch64 ELF"
	# The launcher as packaged but for its exec, which runs the packaged executable under qemu.
	sed "s|^exec $PREFIX/$BIN |exec $QEMU $X$PREFIX/$BIN |" "$launcher" >"$X/launcher-qemu"
	want="strongswan_exporter $UPSTREAM_VERSION (node v$NODE_VERSION)"
	t0=$SECONDS
	got=$(env -i PATH=/usr/bin:/bin sh "$X/launcher-qemu" --version 2>&1) || die "arm64: the launcher under qemu failed: $got"
	[ "$got" = "$want" ] || die "arm64: the launcher under qemu says '$got' to --version, expected '$want'"
	log "arm64: the launcher under $(basename "$QEMU") answers --version in $((SECONDS - t0)) s: $got"
	# Started, it logs its runtime settings' warnings before it listens; no charon needed for that.
	t0=$SECONDS
	env -i PATH=/usr/bin:/bin sh "$X/launcher-qemu" --vici.address "unix://$X/none.vici" \
		--web.listen-address "127.0.0.1:$PORT" >"$X/exporter.log" 2>&1 &
	QEMU_PID=$!
	until curl -fs --max-time 5 "http://127.0.0.1:$PORT/-/healthy" >/dev/null 2>&1; do
		kill -0 "$QEMU_PID" 2>/dev/null || die "arm64: the exporter under qemu exited: $(tail -n 3 "$X/exporter.log")"
		[ $((SECONDS - t0)) -lt 90 ] || die "arm64: the exporter under qemu did not answer /-/healthy within 90 s"
		sleep 0.5
	done
	check_runtime "arm64: the exporter under qemu" "/proc/$QEMU_PID/environ" "$X/exporter.log"
	log "arm64: started under qemu in $((SECONDS - t0)) s"
	kill "$QEMU_PID"
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=
	rm -rf "$X"
fi

# ---------------------------------------------------------------- all, amd64: install in fresh roots

[ "${#ROOTED[@]}" -gt 0 ] || {
	log "passed in $((SECONDS - T0)) s"
	exit 0
}
log "lab up (LAB_DIR=$LAB_DIR LAB_PREFIX=$LAB_PREFIX)"
bash scripts/lab.sh up >"$OUTDIR/lab.log" 2>&1 || die "lab.sh up failed: $(tail -n 3 "$OUTDIR/lab.log")"
vici=$(bash scripts/lab.sh env | sed -n 's/^LAB_GW1_VICI_PATH=//p')
[ -S "$vici" ] || die "the lab's gw1 has no VICI socket at '$vici'"
export VICI_DIR=${vici%/*}

for a in "${ROOTED[@]}"; do
	w=$(work_of "$a")
	t0=$SECONDS
	wait "${BOOTSTRAP_PID[$a]}" || die "$a: debootstrap $(suite_of "$a") failed: $(tail -n 3 "$w/debootstrap.log")"
	unset "BOOTSTRAP_PID[$a]"
	log "$a: $(suite_of "$a") root ready (waited $((SECONDS - t0)) s for it)"
	cp "${DEB_OF[$a]}" "$w/root/tmp/"
	DEB=${DEB_OF[$a]} unshare -m --propagation private bash "$SRC/scripts/release/check-deb.sh" --inside "$a"
done
log "passed in $((SECONDS - T0)) s"
