#!/usr/bin/env bash
# The README's two commands, unchanged, in a Debian root made from scratch, where nothing was
# installed by hand: a minimal root (debootstrap --variant=minbase) gets a copy of this checkout, the
# demo must serve the lab's `site` tunnel with traffic on both children, then the whole test suite
# must pass, both on that release's own strongSwan and Node.js. With `--expect-refusal`, the demo
# must instead stop at once with the one line that says which Node.js to install (Debian 12).
#
#   scripts/fresh-root.sh [SUITE] [--expect-refusal]     (as root; SUITE defaults to trixie)
#
# Every run starts from a root of its own, made anew and removed at the end, also on failure. The
# root's /proc, /sys, /dev and /run are mounted in a mount namespace of this script's own, so they
# (and the lab's network namespaces, whose names live in the root's /run) go away with it.
# What these machines need and a user's do not: the CA bundle named by NODE_EXTRA_CA_CERTS (npm's
# registry is reached through a TLS proxy) is handed into the root, as the host has it.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD

log() { printf 'fresh-root: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

INSIDE=
[ "${1:-}" != --inside ] || {
	INSIDE=1
	shift
}
SUITE=trixie
EXPECT_REFUSAL=
for a in "$@"; do
	case "$a" in
	--expect-refusal) EXPECT_REFUSAL=1 ;;
	-*) die "unknown option $a" ;;
	*) SUITE=$a ;;
	esac
done
[[ "$SUITE" =~ ^[a-z]+$ ]] || die "SUITE must be a Debian suite name"
[ "$(id -u)" = 0 ] || die "must run as root"
WORK=${FRESH_ROOT_DIR:-/var/tmp/sswfresh-$SUITE}
R=$WORK/root
PORT=9814
DEMO_WAIT=${FRESH_DEMO_WAIT:-900}

# ---------------------------------------------------------------- inside our own mount namespace

# Run a command as root in the fresh root, with a clean environment.
in_root() {
	local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)
	[ -z "${CI:-}" ] || env+=("CI=$CI")
	[ ! -f "$R/etc/host-ca-bundle.crt" ] || env+=(NODE_EXTRA_CA_CERTS=/etc/host-ca-bundle.crt)
	chroot "$R" /usr/bin/env -i "${env[@]}" /bin/bash -c "cd /src && $1"
}

# processes whose root is the fresh root (started by us, in it)
root_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && echo "${p#/proc/}"
	done
	return 0
}

scrape() { curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" 2>/dev/null; }

# strongswan_conn_up{conn="site"} 1, and bytes both ways on both children of site
demo_serves() {
	local m
	m=$(scrape) || return 1
	grep -qx 'strongswan_conn_up{conn="site"} 1' <<<"$m" || return 1
	local child dir
	for child in net1 net2; do
		for dir in in out; do
			awk -v c="$child" -v d="$dir" '
				index($0, "strongswan_conn_child_bytes_total{") == 1 && index($0, "conn=\"site\"") &&
				index($0, "child=\"" c "\"") && index($0, "direction=\"" d "\"") && $NF > 0 { ok = 1 }
				END { exit !ok }' <<<"$m" || return 1
		done
	done
}

inside() {
	mount --bind "$R" "$R" # `ip netns` in the root wants its /run on a mount of its own
	mount -t proc proc "$R/proc"
	mount --rbind /sys "$R/sys"
	mount --rbind /dev "$R/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$R/run"

	if [ -n "$EXPECT_REFUSAL" ]; then
		local out rc=0
		out=$(in_root 'scripts/demo.sh' 2>&1) || rc=$?
		printf '%s\n' "$out" | tail -n 5 >&2
		[ "$rc" != 0 ] || die "the demo ran where it should have refused"
		grep -q '^setup: needs Node.js >= ' <<<"$(tail -n 1 <<<"$out")" ||
			die "the demo's last line does not say which Node.js to install"
		log "$SUITE: the demo refused with one line, as it should (exit $rc)"
		return 0
	fi

	log "$SUITE: scripts/demo.sh"
	local t0=$SECONDS demo
	setsid bash -c "$(declare -f in_root); R=$R CI=${CI:-}; in_root 'scripts/demo.sh'" >"$WORK/demo.log" 2>&1 &
	demo=$!
	until demo_serves; do
		if ! kill -0 "$demo" 2>/dev/null; then
			tail -n 40 "$WORK/demo.log" >&2
			die "the demo exited before serving the lab's metrics"
		fi
		if [ $((SECONDS - t0)) -ge "$DEMO_WAIT" ]; then
			tail -n 40 "$WORK/demo.log" >&2
			die "the demo did not serve the lab's metrics within $DEMO_WAIT s"
		fi
		sleep 2
	done
	log "$SUITE: the demo serves after $((SECONDS - t0)) s:"
	scrape | grep -E '^strongswan_conn_(up\{conn="site"\}|child_bytes_total\{conn="site")' >&2
	# Ctrl-C, as a user would: the demo stops the exporter and tears the lab down
	kill -INT -- -"$demo"
	local i rc=0
	for ((i = 0; i < 150; i++)); do
		kill -0 "$demo" 2>/dev/null || break
		sleep 0.2
	done
	kill -0 "$demo" 2>/dev/null && die "the demo did not stop within 30 s of Ctrl-C"
	wait "$demo" || rc=$?
	[ "$rc" = 0 ] || {
		tail -n 20 "$WORK/demo.log" >&2
		die "the demo exited with $rc after Ctrl-C"
	}
	[ -z "$(ls -A "$R/run/netns" 2>/dev/null)" ] || die "the demo left network namespaces: $(ls "$R/run/netns")"
	# (what it killed on the way out may take a moment to go)
	for ((i = 0; i < 20; i++)); do
		[ -z "$(root_pids)" ] && break
		sleep 0.1
	done
	[ -z "$(root_pids)" ] || die "the demo left processes: $(root_pids | xargs ps -o pid=,args= -p)"
	log "$SUITE: Ctrl-C stopped the demo and took the lab down"

	log "$SUITE: scripts/test.sh"
	t0=$SECONDS
	rc=0
	in_root 'scripts/test.sh' || rc=$?
	[ -z "$(ls -A "$R/run/netns" 2>/dev/null)" ] || die "the tests left network namespaces: $(ls "$R/run/netns")"
	[ "$rc" = 0 ] || die "the test suite failed in the fresh $SUITE root (exit $rc)"
	log "$SUITE: the whole test suite passed in $((SECONDS - t0)) s"
}

if [ -n "$INSIDE" ]; then
	inside
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
		log "unmounting what is left under $R"
		grep " ${R}[/ ]" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l || true
	fi
	if [ -e "$R/proc/self" ]; then
		log "not removing $WORK: $R/proc is still mounted"
	else
		rm -rf --one-file-system -- "$WORK"
	fi
	exit "$rc"
}

command -v debootstrap >/dev/null || {
	log "installing debootstrap"
	apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}
command -v curl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >&2
rm -rf --one-file-system -- "$WORK"
mkdir -p "$WORK"
trap cleanup EXIT
t0=$SECONDS
log "debootstrap --variant=minbase $SUITE"
# shellcheck disable=SC2086
debootstrap --variant=minbase "$SUITE" "$R" ${LAB_MIRROR:-} >"$WORK/debootstrap.log" 2>&1 ||
	die "debootstrap failed: $(tail -n 3 "$WORK/debootstrap.log")"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d" # no service starts in the root
chmod 0755 "$R/usr/sbin/policy-rc.d"
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] || cp "$NODE_EXTRA_CA_CERTS" "$R/etc/host-ca-bundle.crt"
# the checkout as a clone has it: tracked and new files and .git, no node_modules, no dist
mkdir "$R/src"
{
	git ls-files -z -co --exclude-standard
	printf '.git\0'
} | tar --null -T - -cf - | tar -xf - -C "$R/src"
log "$SUITE root made in $((SECONDS - t0)) s"
args=("$SUITE")
[ -z "$EXPECT_REFUSAL" ] || args+=(--expect-refusal)
unshare -m --propagation private bash "$SRC/scripts/fresh-root.sh" --inside "${args[@]}"
log "$SUITE: done in $((SECONDS - t0)) s"
