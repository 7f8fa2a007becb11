#!/usr/bin/env bash
# Real-strongSwan test lab: two charon gateways in network namespaces,
# joined by a veth pair, with a site-to-site tunnel between them.
#
#   scripts/lab.sh up                 build the lab, establish `site` (net1 + net2)
#   scripts/lab.sh down               tear everything down (always succeeds)
#   scripts/lab.sh traffic [COUNT] [all]
#                                     ping through net1/net2 (and extras with `all`)
#   scripts/lab.sh add N              add N extra tunnels extra<i>/extra<i>net
#   scripts/lab.sh status [gw1|gw2]   swanctl --list-sas (for humans)
#   scripts/lab.sh env                KEY=VALUE lines for tests
#   scripts/lab.sh stop-charon|start-charon|restart-charon|kill-charon gw1|gw2
#   scripts/lab.sh swanctl gw1|gw2 --COMMAND [options]
#                                     that gateway's swanctl (of the lab's strongSwan)
#   scripts/lab.sh check              a charon of the lab's configuration loads every plugin
#                                     and swanctl parses the lab's certificates (one line if not)
#   scripts/lab.sh root               make (or refresh) the Debian root of LAB_STRONGSWAN
#   scripts/lab.sh rw-up [N]          road warriors: connection `rw` on gw1, N users u1..uN (default 3),
#                                     each its own namespace + charon, EAP-MD5, virtual IP from rw_pool
#   scripts/lab.sh rw-down            take the road warriors down (the rest of the lab stays)
#   scripts/lab.sh rw-traffic K [COUNT]  COUNT pings (84 bytes) from user K's virtual IP through its tunnel
#   scripts/lab.sh rw-reconnect K     user K: terminate its IKE SA and initiate a new one
#   scripts/lab.sh rw-rekey K [child|ike|both]  user K rekeys its CHILD SA and/or IKE SA
#   scripts/lab.sh rw-fail K auth|proposal  user K tries once with a wrong EAP secret / a proposal gw1
#                                     rejects (the attempt must fail), then gets its own config back
#
# Environment: LAB_DIR (default /var/tmp/sswlab; must NOT be under /run, the
# charons get a private tmpfs on /run), LAB_PREFIX (default sswlab-), LAB_RW_PROPOSALS and
# LAB_RW_ESP_PROPOSALS (rw-up's IKE and ESP proposals, default those of the lab),
# LAB_TIMEOUT (seconds for wait loops, default 30), LAB_STRONGSWAN (system:
# this machine's strongSwan, the default; or a Debian suite such as trixie or
# sid: strongSwan from a Debian root of that suite, made with debootstrap under
# LAB_ROOTS, default /var/tmp/sswlab-roots).
# See test/e2e/README.md.
# shellcheck disable=SC2015,SC2016
set -euo pipefail

LAB_DIR=${LAB_DIR:-/var/tmp/sswlab}
LAB_DIR=${LAB_DIR%/}
LAB_PREFIX=${LAB_PREFIX:-sswlab-}
LAB_TIMEOUT=${LAB_TIMEOUT:-30}
LAB_STRONGSWAN=${LAB_STRONGSWAN:-system}
LAB_ROOTS=${LAB_ROOTS:-/var/tmp/sswlab-roots}
LAB_ROOTS=${LAB_ROOTS%/}
# the Debian root whose strongSwan the gateways run ("" = this machine's)
ROOT=""
[ "$LAB_STRONGSWAN" = system ] || ROOT=$LAB_ROOTS/$LAB_STRONGSWAN

NS1=${LAB_PREFIX}gw1
NS2=${LAB_PREFIX}gw2
VETH1=${LAB_PREFIX}v1
VETH2=${LAB_PREFIX}v2
IKE1=192.168.251.1
IKE2=192.168.251.2
NEVER_PEER=192.168.251.99
# certificate-based connection gw1 <-> gw2 (pubkey auth, certificates of the lab's own CA)
CERT_CONN=certconn
CERT_CHILD=certnet
CERT_TS1=10.91.3.0/24
CERT_TS2=10.92.3.0/24
POOL_ADDRS=10.93.0.0/28
# road warriors (rw-up): users u1..uN, each in a namespace of its own with its own charon, on a
# bridge in gw1's namespace (gw1 .1, user K .(10+K)); EAP-MD5 (EAP identity userK@sswlab, IKE
# identity its address), a virtual IP from rw_pool, the CHILD SA `rw` to RW_TS behind gw1
RW_CONN=rw
RW_CHILD=rw
RW_POOL=rw_pool
RW_NET=192.168.252
RW_GW_ADDR=$RW_NET.1
RW_TS=10.96.0.0/24
RW_TARGET=10.96.0.1
RW_BRIDGE=${LAB_PREFIX}rw
RW_MAX=14
CHARON=/usr/lib/ipsec/charon
PLUGINS="random nonce aes sha1 sha2 hmac kdf gcm pem pkcs1 pkcs8 x509 pubkey revocation constraints gmp openssl curve25519 kernel-libipsec kernel-netlink socket-default vici updown counters attr eap-identity eap-md5"
# Debian packages of the plugins that do not come with strongswan-charon and strongswan-swanctl
PLUGIN_PACKAGES="gcm:libstrongswan-standard-plugins openssl:libstrongswan-standard-plugins curve25519:libstrongswan-extra-plugins kernel-libipsec:libcharon-extra-plugins eap-identity:libcharon-extra-plugins eap-md5:libcharon-extra-plugins"
# what a Debian root of LAB_STRONGSWAN gets besides debootstrap's minimal base
ROOT_PACKAGES="strongswan-charon strongswan-swanctl libstrongswan-standard-plugins libstrongswan-extra-plugins libcharon-extra-plugins"
IKE_PROPOSALS=aes128-sha256-ecp256
ESP_PROPOSALS=aes128-sha256

log() { printf 'lab: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ns_of() {
	case "$1" in
	gw1) echo "$NS1" ;;
	gw2) echo "$NS2" ;;
	u[1-9] | u1[0-9]) echo "${LAB_PREFIX}$1" ;; # road-warrior user K (rw-up)
	*) die "unknown gateway '$1' (gw1|gw2, or a road-warrior user u1..u$RW_MAX)" ;;
	esac
}
gw_dir() { echo "$LAB_DIR/$1"; }
vici_path() { echo "$LAB_DIR/$1/charon.vici"; }

# swanctl against one gateway (sw GW --COMMAND [options]); uses a minimal strongswan.conf (fast start-up)
# and the lab's swanctl directory.
sw() {
	local gw=$1 op=$2
	shift 2
	if [ -n "$ROOT" ]; then
		# the root's swanctl, with LAB_DIR at the same path inside the root, in a mount namespace of its own
		STRONGSWAN_CONF="$LAB_DIR/swanctl-client.conf" SWANCTL_DIR="$LAB_DIR/$gw/swanctl" \
			unshare -m --propagation private sh -c 'r=$1 d=$2; shift 2
				mkdir -p "$r$d" && mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" && mount --bind "$d" "$r$d" &&
				exec chroot "$r" swanctl "$@"' sh "$ROOT" "$LAB_DIR" "$op" --uri "unix://$(vici_path "$gw")" "$@"
		return
	fi
	STRONGSWAN_CONF="$LAB_DIR/swanctl-client.conf" SWANCTL_DIR="$LAB_DIR/$gw/swanctl" \
		swanctl "$op" --uri "unix://$(vici_path "$gw")" "$@"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

check_settings() {
	case "$LAB_DIR" in
	"" | / | /run | /run/* | /var/run | /var/run/*)
		die "LAB_DIR=$LAB_DIR is not usable (must not be / or under /run: charon gets a private tmpfs on /run)" ;;
	esac
	[[ "$LAB_DIR" =~ ^/[A-Za-z0-9_./-]+$ ]] || die "LAB_DIR must be an absolute path of [A-Za-z0-9_./-]"
	[ "${#LAB_DIR}" -le 80 ] || die "LAB_DIR too long (the VICI unix socket path must fit in 108 bytes)"
	[[ "$LAB_TIMEOUT" =~ ^[0-9]+$ ]] || die "LAB_TIMEOUT must be an integer (seconds)"
	[ "${#VETH1}" -le 15 ] || die "LAB_PREFIX too long (veth name $VETH1 > 15 chars)"
	[[ "$LAB_PREFIX" =~ ^[A-Za-z0-9_.-]+$ ]] || die "LAB_PREFIX may only contain [A-Za-z0-9_.-]"
	[[ "$LAB_STRONGSWAN" =~ ^[a-z][a-z0-9-]*$ ]] || die "LAB_STRONGSWAN must be 'system' or a Debian suite (trixie, sid, ...)"
	[[ "$LAB_ROOTS" =~ ^/[A-Za-z0-9_./-]+$ ]] && [ "$LAB_ROOTS" != / ] || die "LAB_ROOTS must be an absolute path of [A-Za-z0-9_./-]"
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# ---------------------------------------------------------------- tools and Debian roots

# The tools the lab runs, named when missing (scripts/setup.sh installs them; the lab installs nothing).
require_tools() {
	local c
	for c in ip ping openssl unshare setsid; do
		command -v "$c" >/dev/null || die "'$c' not found (run scripts/setup.sh demo, or install iproute2, iputils-ping, openssl)"
	done
	if [ -n "$ROOT" ]; then
		ensure_root
		return 0
	fi
	[ -x "$CHARON" ] || die "$CHARON not found (Debian package strongswan-charon; scripts/setup.sh demo installs it)"
	command -v swanctl >/dev/null || die "swanctl not found (Debian package strongswan-swanctl; scripts/setup.sh demo installs it)"
}

root_stamp() { echo "sswlab-root v1 $LAB_STRONGSWAN $ROOT_PACKAGES"; }

# A Debian root of LAB_STRONGSWAN with strongSwan in it: made once with debootstrap (minbase), made
# anew when the package list changes; nothing in it runs but the lab's charons and swanctl.
ensure_root() {
	[ -f "$ROOT/.sswlab-root" ] && [ "$(cat "$ROOT/.sswlab-root")" = "$(root_stamp)" ] && return 0
	command -v debootstrap >/dev/null || die "LAB_STRONGSWAN=$LAB_STRONGSWAN needs debootstrap (Debian package debootstrap)"
	mkdir -p "$LAB_ROOTS"
	# one builder at a time; the others wait and use what it made
	exec 9>"$LAB_ROOTS/.lock"
	flock 9
	if [ -f "$ROOT/.sswlab-root" ] && [ "$(cat "$ROOT/.sswlab-root")" = "$(root_stamp)" ]; then
		exec 9>&-
		return 0
	fi
	local tmp=$ROOT.new logf=$LAB_ROOTS/$LAB_STRONGSWAN.log t0=$SECONDS
	log "making a Debian $LAB_STRONGSWAN root for strongSwan in $ROOT (log: $logf)"
	rm -rf -- "$tmp"
	# shellcheck disable=SC2086
	debootstrap --variant=minbase "$LAB_STRONGSWAN" "$tmp" ${LAB_MIRROR:-} >"$logf" 2>&1 ||
		die "debootstrap $LAB_STRONGSWAN failed: $(tail -n 1 "$logf")"
	# no service starts in the root; unstable's Release may be older than its Valid-Until
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	# shellcheck disable=SC2086 # the package list is words
	unshare -m --propagation private sh -c 'r=$1; shift; mount -t proc proc "$r/proc" &&
		chroot "$r" env DEBIAN_FRONTEND=noninteractive sh -c "apt-get -o Acquire::Check-Valid-Until=false update -qq &&
			apt-get install -y -qq --no-install-recommends $* && apt-get clean"' sh "$tmp" $ROOT_PACKAGES >>"$logf" 2>&1 ||
		die "installing strongSwan in the $LAB_STRONGSWAN root failed: $(tail -n 1 "$logf")"
	root_stamp >"$tmp/.sswlab-root"
	rm -rf -- "$ROOT"
	mv "$tmp" "$ROOT"
	exec 9>&-
	log "$LAB_STRONGSWAN root ready in $((SECONDS - t0)) s: $(strongswan_version)"
}

# "strongSwan X.Y.Z" of the charon the lab runs
strongswan_version() {
	if [ -n "$ROOT" ]; then
		chroot "$ROOT" dpkg-query -W -f='strongSwan ${Version}' strongswan-charon 2>/dev/null
	else
		dpkg-query -W -f='strongSwan ${Version}' strongswan-charon 2>/dev/null || swanctl --version 2>/dev/null | head -n 1
	fi
}

ensure_tun() {
	if [ ! -c /dev/net/tun ]; then
		mkdir -p /dev/net
		mknod /dev/net/tun c 10 200
		chmod 0666 /dev/net/tun
	fi
}

# ---------------------------------------------------------------- certificates

ca_cert() { echo "$LAB_DIR/ca/ca.pem"; }
gw_cert() { echo "$LAB_DIR/$1/swanctl/x509/$1.pem"; }
cert_id() { echo "$1.sswlab"; }

# A fresh CA (no CRL, no CRL distribution point) and one ECDSA P-256 key + certificate per
# gateway, in swanctl's directories (x509ca/, x509/, private/) where --load-all finds them.
# Keys are generated per lab and removed by `down`.
make_certs() {
	local gw d ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	(umask 077 && mkdir -p "$LAB_DIR/ca")
	(umask 077 && openssl req -x509 -new "${ec[@]}" -keyout "$LAB_DIR/ca/ca.key" -out "$(ca_cert)" -days 3650 \
		-subj "/O=sswlab/CN=sswlab CA" -addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null) || die "openssl: CA certificate"
	for gw in gw1 gw2; do
		d=$(gw_dir "$gw")/swanctl
		mkdir -p "$d/x509ca" "$d/x509" "$d/private"
		cp "$(ca_cert)" "$d/x509ca/ca.pem"
		(umask 077 && openssl req -x509 -new "${ec[@]}" -keyout "$d/private/$gw.key" -out "$(gw_cert "$gw")" \
			-days 365 -subj "/O=sswlab/CN=$(cert_id "$gw")" -CA "$(ca_cert)" -CAkey "$LAB_DIR/ca/ca.key" \
			-addext "subjectAltName=DNS:$(cert_id "$gw")" -addext basicConstraints=CA:FALSE \
			-addext keyUsage=digitalSignature 2>/dev/null) || die "openssl: $gw certificate"
	done
}

# ---------------------------------------------------------------- configs

write_charon_conf() {
	local gw=$1 d vip=no
	# a road-warrior user installs the virtual IP it gets (on its own interface)
	[[ "$gw" == u* ]] && vip=yes
	d=$(gw_dir "$gw")
	mkdir -p "$d"
	cat >"$d/strongswan.conf" <<EOF
# generated by scripts/lab.sh
charon {
	load_modular = no
	load = $PLUGINS
	# libipsec: userspace ESP over a TUN device, needs routes via that device
	install_routes = yes
	install_virtual_ip = $vip
	# many SAs from one peer
	dos_protection = no
	block_threshold = 100000
	cookie_threshold = 100000
	init_limit_half_open = 0
	retransmit_tries = 3
	retransmit_timeout = 1.0
	port = 500
	port_nat_t = 4500
	plugins {
		vici {
			socket = unix://$(vici_path "$gw")
		}
		socket-default {
			use_ipv6 = no
		}
	}
	filelog {
		lab {
			path = $d/charon.log
			time_format = %H:%M:%S
			ike_name = yes
			append = yes
			flush_line = yes
			default = 1
			ike = 1
			cfg = 1
			knl = 1
			net = 1
		}
	}
	syslog {
		# no syslog output
	}
}
EOF
}

write_swanctl_conf() {
	local gw=$1 d me peer my_ike peer_ike ts_l1 ts_l2 ts_r1 ts_r2 ts_lc ts_rc
	d=$(gw_dir "$gw")
	mkdir -p "$d/swanctl/conf.d"
	if [ "$gw" = gw1 ]; then
		me=gw1 peer=gw2 my_ike=$IKE1 peer_ike=$IKE2
		ts_l1=10.91.1.0/24 ts_l2=10.91.2.0/24 ts_r1=10.92.1.0/24 ts_r2=10.92.2.0/24
		ts_lc=$CERT_TS1 ts_rc=$CERT_TS2
	else
		me=gw2 peer=gw1 my_ike=$IKE2 peer_ike=$IKE1
		ts_l1=10.92.1.0/24 ts_l2=10.92.2.0/24 ts_r1=10.91.1.0/24 ts_r2=10.91.2.0/24
		ts_lc=$CERT_TS2 ts_rc=$CERT_TS1
	fi
	{
		echo "# generated by scripts/lab.sh"
		echo "connections {"
		cat <<EOF
	site {
		version = 2
		local_addrs = $my_ike
		remote_addrs = $peer_ike
		proposals = $IKE_PROPOSALS
		local {
			auth = psk
			id = $me-site@sswlab
		}
		remote {
			auth = psk
			id = $peer-site@sswlab
		}
		children {
			net1 {
				local_ts = $ts_l1
				remote_ts = $ts_r1
				esp_proposals = $ESP_PROPOSALS
				start_action = none
			}
			net2 {
				local_ts = $ts_l2
				remote_ts = $ts_r2
				esp_proposals = $ESP_PROPOSALS
				start_action = none
			}
		}
	}
	# certificate-based: ECDSA certificates of the lab CA, identities from the subjectAltName
	$CERT_CONN {
		version = 2
		local_addrs = $my_ike
		remote_addrs = $peer_ike
		proposals = $IKE_PROPOSALS
		# no certs/cacerts here: charon picks the certificate matching the id, and any loaded CA is
		# trusted (so that list-conns shows no DN, whose ", " swanctl --raw cannot delimit in a list)
		local {
			auth = pubkey
			id = $(cert_id "$me")
		}
		remote {
			auth = pubkey
			id = $(cert_id "$peer")
		}
		children {
			$CERT_CHILD {
				local_ts = $ts_lc
				remote_ts = $ts_rc
				esp_proposals = $ESP_PROPOSALS
				start_action = none
			}
		}
	}
EOF
		if [ "$gw" = gw1 ]; then
			cat <<EOF
	# configured but never initiated; the peer address has no IKE daemon
	never {
		version = 2
		local_addrs = $IKE1
		remote_addrs = $NEVER_PEER
		proposals = $IKE_PROPOSALS
		local {
			auth = psk
			id = gw1-never@sswlab
		}
		remote {
			auth = psk
			id = never@sswlab
		}
		children {
			nevernet {
				local_ts = 10.91.9.0/24
				remote_ts = 10.92.9.0/24
				esp_proposals = $ESP_PROPOSALS
				start_action = none
			}
		}
	}
EOF
		fi
		echo "}"
		cat <<EOF
pools {
	rw_pool {
		addrs = $POOL_ADDRS
	}
}
secrets {
	ike-lab {
		secret = 0x$(cat "$LAB_DIR/psk")
	}
}
include conf.d/*.conf
EOF
	} >"$d/swanctl/swanctl.conf"
	chmod 0600 "$d/swanctl/swanctl.conf"
}

# extra tunnel i: gw1 10.94.x.y/32 <-> gw2 10.95.x.y/32
extra_octets() { local i=$1; echo "$(((i - 1) / 250)).$(((i - 1) % 250 + 1))"; }

write_extras_conf() {
	local gw=$1 count=$2 d i o me peer my_ike peer_ike lnet rnet
	d=$(gw_dir "$gw")
	if [ "$gw" = gw1 ]; then
		me=gw1 peer=gw2 my_ike=$IKE1 peer_ike=$IKE2 lnet=10.94 rnet=10.95
	else
		me=gw2 peer=gw1 my_ike=$IKE2 peer_ike=$IKE1 lnet=10.95 rnet=10.94
	fi
	{
		echo "# generated by scripts/lab.sh ($count extra tunnels)"
		echo "connections {"
		for ((i = 1; i <= count; i++)); do
			o=$(extra_octets "$i")
			cat <<EOF
	extra$i {
		version = 2
		local_addrs = $my_ike
		remote_addrs = $peer_ike
		proposals = $IKE_PROPOSALS
		local {
			auth = psk
			id = $me-extra$i@sswlab
		}
		remote {
			auth = psk
			id = $peer-extra$i@sswlab
		}
		children {
			extra${i}net {
				local_ts = $lnet.$o/32
				remote_ts = $rnet.$o/32
				esp_proposals = $ESP_PROPOSALS
				start_action = none
			}
		}
	}
EOF
		done
		echo "}"
	} >"$d/swanctl/conf.d/extras.conf"
}

extra_count() {
	if [ -f "$LAB_DIR/extras.count" ]; then cat "$LAB_DIR/extras.count"; else echo 0; fi
}

# ---------------------------------------------------------------- network

setup_network() {
	ip netns add "$NS1"
	ip netns add "$NS2"
	# create the veth pair directly inside the namespaces (nothing in the root ns)
	ip link add "$VETH1" netns "$NS1" type veth peer name "$VETH2" netns "$NS2"
	local ns
	for ns in "$NS1" "$NS2"; do
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
		ip -n "$ns" link set lo up
	done
	ip -n "$NS1" addr add "$IKE1/24" dev "$VETH1"
	ip -n "$NS2" addr add "$IKE2/24" dev "$VETH2"
	ip -n "$NS1" link set "$VETH1" up
	ip -n "$NS2" link set "$VETH2" up
	ip -n "$NS1" addr add 10.91.1.1/24 dev lo
	ip -n "$NS1" addr add 10.91.2.1/24 dev lo
	ip -n "$NS1" addr add "${CERT_TS1%.0/24}.1/24" dev lo
	ip -n "$NS2" addr add 10.92.1.1/24 dev lo
	ip -n "$NS2" addr add 10.92.2.1/24 dev lo
	ip -n "$NS2" addr add "${CERT_TS2%.0/24}.1/24" dev lo
}

add_extra_addrs() {
	local from=$1 to=$2 i o
	for ((i = from; i <= to; i++)); do
		o=$(extra_octets "$i")
		echo "addr replace 10.94.$o/32 dev lo"
	done | ip -n "$NS1" -batch -
	for ((i = from; i <= to; i++)); do
		o=$(extra_octets "$i")
		echo "addr replace 10.95.$o/32 dev lo"
	done | ip -n "$NS2" -batch -
}

# ---------------------------------------------------------------- charon processes

# pid of this gateway's charon if it is running (verified: right netns, is charon)
charon_pid() {
	local gw=$1 pid ns
	ns=$(ns_of "$gw")
	[ -f "$LAB_DIR/$gw/charon.pid" ] || return 1
	pid=$(cat "$LAB_DIR/$gw/charon.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[ -d "/proc/$pid" ] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = charon ] || return 1
	[ "$(ip netns identify "$pid" 2>/dev/null)" = "$ns" ] || return 1
	echo "$pid"
}

# true while the process exists and is not a zombie (PID 1 here may be slow to reap)
proc_alive() {
	local st
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait (at most ~0.5 s) until the given dead processes have been reaped
wait_reaped() {
	local i pid left
	for ((i = 0; i < 25; i++)); do
		left=""
		for pid in "$@"; do [ -d "/proc/$pid" ] && left=1; done
		[ -z "$left" ] && return 0
		sleep 0.02
	done
	return 0
}

log_tail() {
	local gw
	for gw in gw1 gw2; do
		if [ -f "$LAB_DIR/$gw/charon.log" ]; then
			echo "----- $gw: tail $LAB_DIR/$gw/charon.log -----" >&2
			tail -n 40 "$LAB_DIR/$gw/charon.log" >&2 || true
		fi
		if [ -s "$LAB_DIR/$gw/charon.out" ]; then
			echo "----- $gw: tail $LAB_DIR/$gw/charon.out -----" >&2
			tail -n 20 "$LAB_DIR/$gw/charon.out" >&2 || true
		fi
	done
}

# wait_for DESCRIPTION CMD... : poll every 0.2 s up to LAB_TIMEOUT seconds
wait_for() {
	local desc=$1 tries
	shift
	tries=$((LAB_TIMEOUT * 5))
	while ! "$@"; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			log "timeout after ${LAB_TIMEOUT}s waiting for: $desc"
			log_tail
			exit 1
		fi
		sleep 0.2
	done
}

# the lab's plugins that this gateway's charon has not loaded (it goes on without them)
missing_plugins() {
	local loaded p missing=""
	loaded=" $(sw "$1" --stats 2>/dev/null | sed -n 's/^ *loaded plugins: //p') "
	for p in $PLUGINS; do [[ "$loaded" == *" $p "* ]] || missing="$missing $p"; done
	echo "${missing# }"
}

# one line: which plugins, where they come from
plugins_line() {
	local p pkg pkgs="" files=""
	for p in $1; do
		files="$files libstrongswan-$p.so"
		pkg=$(tr ' ' '\n' <<<"$PLUGIN_PACKAGES" | sed -n "s/^$p://p")
		[ -n "$pkg" ] && [[ " $pkgs " != *" $pkg "* ]] && pkgs="$pkgs $pkg"
	done
	echo "charon ($(strongswan_version)) cannot load the plugin(s) the lab needs: $1 (${files# } in ${ROOT}/usr/lib/ipsec/plugins${pkgs:+; Debian package(s):$pkgs})"
}

vici_ready() {
	local gw=$1 pid
	if [ -S "$(vici_path "$gw")" ] && sw "$gw" --stats >/dev/null 2>&1; then
		return 0
	fi
	# fail fast if charon already died
	pid=$(cat "$LAB_DIR/$gw/charon.pid" 2>/dev/null) || return 1
	if [[ "$pid" =~ ^[0-9]+$ ]] && ! proc_alive "$pid"; then
		log "$gw charon (pid $pid) exited during start-up"
		log_tail
		exit 1
	fi
	return 1
}

start_charon_proc() {
	local gw=$1 ns d
	ns=$(ns_of "$gw")
	d=$(gw_dir "$gw")
	ns_exists "$ns" || die "namespace $ns does not exist (run: scripts/lab.sh up)"
	[ -f "$d/strongswan.conf" ] || die "no config in $d (run: scripts/lab.sh up)"
	if charon_pid "$gw" >/dev/null; then
		return 0
	fi
	rm -f "$d/charon.pid" "$(vici_path "$gw")"
	echo "=== $(date '+%F %T') starting charon ===" >>"$d/charon.out"
	# Private mount namespace with a tmpfs on /run, so that each charon has its
	# own /run/charon.pid etc.; LAB_DIR (not under /run) stays visible.
	# The inner `sh` writes its pid and then execs charon, so the pid file is
	# charon's pid. The outer `sh` only waits for charon, so that a dead charon
	# is reaped at once (PID 1 on these machines reaps orphans only every ~1.5 s,
	# leaving `[charon] <defunct>` entries behind).
	if [ -n "$ROOT" ]; then
		# The same in the Debian root: its /proc, /sys, /dev and LAB_DIR (at the same path) are
		# mounted in charon's own mount namespace, so they go away with it.
		setsid sh -c '"$@" & wait' sh ip netns exec "$ns" unshare -m --propagation private sh -c \
			'echo $$ >"$1/charon.pid" && r=$2 d=$3 && mkdir -p "$r$d" && mount -t proc proc "$r/proc" &&
			mount --rbind /sys "$r/sys" && mount --rbind /dev "$r/dev" && mount -t tmpfs none "$r/run" &&
			mount --bind "$d" "$r$d" && STRONGSWAN_CONF="$1/strongswan.conf" exec chroot "$r" '"$CHARON" \
			sh "$d" "$ROOT" "$LAB_DIR" </dev/null >>"$d/charon.out" 2>&1 &
	else
		setsid sh -c '"$@" & wait' sh ip netns exec "$ns" unshare -m --propagation private sh -c \
			'echo $$ >"$1/charon.pid" && mount -t tmpfs none /run && STRONGSWAN_CONF="$1/strongswan.conf" exec '"$CHARON" \
			sh "$d" </dev/null >>"$d/charon.out" 2>&1 &
	fi
	wait_for "$gw charon VICI socket $(vici_path "$gw")" vici_ready "$gw"
	charon_pid "$gw" >/dev/null || die "$gw charon is not running"
	# a missing plugin would show only as tunnels that never come up
	local missing
	missing=$(missing_plugins "$gw")
	[ -z "$missing" ] || die "$(plugins_line "$missing")"
}

stop_charon_proc() {
	local gw=$1 pid
	pid=$(charon_pid "$gw") || { rm -f "$LAB_DIR/$gw/charon.pid" "$(vici_path "$gw")"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	wait_dead "$pid" 100
	if proc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_dead "$pid" 40
	fi
	wait_reaped "$pid"
	rm -f "$LAB_DIR/$gw/charon.pid" "$(vici_path "$gw")"
}

# wait until process PID is gone, at most N times 50 ms
wait_dead() {
	local i
	for ((i = 0; i < $2; i++)); do
		proc_alive "$1" || return 0
		sleep 0.05
	done
}

load_all() {
	local gw=$1
	sw "$gw" --load-all >>"$LAB_DIR/$gw/swanctl.log" 2>&1 || {
		log "swanctl --load-all failed on $gw:"
		tail -n 20 "$LAB_DIR/$gw/swanctl.log" >&2
		exit 1
	}
}

# ---------------------------------------------------------------- SA state

# prints "IKE_NAME CHILD_NAME" for every INSTALLED child SA of an ESTABLISHED IKE SA
installed_children() {
	sw "$1" --list-sas --raw 2>/dev/null | awk '
	{
		if (!match($0, /^list-sa event \{[^ {}]+ \{/)) next
		ike = substr($0, 16, RLENGTH - 17)
		if ($0 !~ /state=ESTABLISHED/) next
		s = $0
		while (match(s, /name=[^ {}]+ [^{}]*state=[A-Z_]+/)) {
			m = substr(s, RSTART, RLENGTH)
			s = substr(s, RSTART + RLENGTH)
			split(m, a, " ")
			n = substr(a[1], 6)
			st = m
			sub(/.*state=/, "", st)
			if (st == "INSTALLED") print ike, n
		}
	}' | sort -u
}

# wanted "IKE CHILD" pairs
wanted_pairs() {
	local i n
	echo "site net1"
	echo "site net2"
	echo "$CERT_CONN $CERT_CHILD"
	n=$(extra_count)
	for ((i = 1; i <= n; i++)); do echo "extra$i extra${i}net"; done
}

# missing pairs on a gateway
missing_on() {
	local gw=$1
	comm -23 <(wanted_pairs | sort -u) <(installed_children "$gw")
}

all_up() {
	local gw
	for gw in gw1 gw2; do
		[ -z "$(missing_on "$gw")" ] || return 1
	done
}

# initiate from gw1 whatever is not installed there, then wait for both sides
ensure_tunnels() {
	local missing extras
	missing=$(missing_on gw1)
	if [ -n "$missing" ]; then
		# site children one after the other (so they share one IKE SA)
		if grep -q '^site net1$' <<<"$missing"; then
			sw gw1 --initiate --ike site --child net1 --timeout 15 >>"$LAB_DIR/gw1/swanctl.log" 2>&1 || true
		fi
		if grep -q '^site net2$' <<<"$missing"; then
			sw gw1 --initiate --ike site --child net2 --timeout 15 >>"$LAB_DIR/gw1/swanctl.log" 2>&1 || true
		fi
		# certconn (its own IKE SA) asynchronously, after site so that site keeps the first unique ids
		if grep -q "^$CERT_CONN $CERT_CHILD\$" <<<"$missing"; then
			sw gw1 --initiate --ike "$CERT_CONN" --child "$CERT_CHILD" --timeout -1 </dev/null >>"$LAB_DIR/gw1/swanctl.log" 2>&1 || true
		fi
		extras=$(grep '^extra' <<<"$missing" || true)
		if [ -n "$extras" ]; then
			# Each extra is its own IKE SA. Initiate asynchronously (--timeout -1
			# makes charon queue the job and reply at once): many concurrent
			# *synchronous* initiates tie up charon's worker threads and stall it.
			while read -r ike child; do
				sw gw1 --initiate --ike "$ike" --child "$child" --timeout -1 </dev/null >>"$LAB_DIR/gw1/swanctl.log" 2>&1 || true
			done <<<"$extras"
		fi
	fi
	wait_for "all tunnels INSTALLED on gw1 and gw2 ($(wanted_pairs | wc -l) child SAs)" all_up
}

# ---------------------------------------------------------------- commands

cmd_down() {
	set +e
	local ns pids pid i gw
	cmd_rw_down fast
	set +e
	pids=""
	for ns in "$NS1" "$NS2"; do
		if ns_exists "$ns"; then
			pids="$pids $(ip netns pids "$ns" 2>/dev/null)"
		fi
	done
	for gw in gw1 gw2; do
		pid=$(charon_pid "$gw" 2>/dev/null) && pids="$pids $pid"
	done
	pids=$(echo "$pids" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -u)
	if [ -n "$pids" ]; then
		# SIGKILL: fast, and nothing survives the namespaces anyway (the TUN
		# devices and the private /run tmpfs go away with the processes).
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			local alive=""
			for pid in $pids; do proc_alive "$pid" && alive="$alive $pid"; done
			[ -z "$alive" ] && break
			sleep 0.05
		done
		# shellcheck disable=SC2086
		wait_reaped $pids
	fi
	for ns in "$NS1" "$NS2"; do
		ns_exists "$ns" && ip netns del "$ns" 2>/dev/null
	done
	# leftovers in the root namespace (should not exist: created inside the namespaces)
	ip link show "$VETH1" >/dev/null 2>&1 && ip link del "$VETH1" 2>/dev/null
	ip link show "$VETH2" >/dev/null 2>&1 && ip link del "$VETH2" 2>/dev/null
	[ -d "$LAB_DIR" ] && rm -rf -- "$LAB_DIR"
	return 0
}

# the lab's directory with what both gateways share: PSK, swanctl's client configuration
prepare_dir() {
	mkdir -p "$LAB_DIR/gw1" "$LAB_DIR/gw2"
	chmod 0700 "$LAB_DIR"
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$LAB_DIR/psk")
	echo 0 >"$LAB_DIR/extras.count"
	cat >"$LAB_DIR/swanctl-client.conf" <<EOF
# strongswan.conf for the swanctl client used by scripts/lab.sh (fast start-up)
swanctl {
	load = random nonce pem pkcs1 pkcs8 x509 pubkey openssl
}
EOF
}

# After a failed `up`: keep the logs next to LAB_DIR, take down what was started.
up_failed() {
	local kept=$LAB_DIR.failed gw f
	rm -rf -- "$kept"
	for gw in gw1 gw2; do
		for f in charon.log charon.out swanctl.log; do
			[ -f "$LAB_DIR/$gw/$f" ] && mkdir -p "$kept/$gw" && cp "$LAB_DIR/$gw/$f" "$kept/$gw/"
		done
	done
	cmd_down
	log "up failed: the lab is torn down (logs kept in $kept)"
}

cmd_up() {
	need_root
	local t0=${EPOCHREALTIME//[!0-9]/}
	if ns_exists "$NS1" || ns_exists "$NS2" || [ -e "$LAB_DIR" ]; then
		log "lab already (partly) up: tearing it down first"
		cmd_down
		set -e
	fi
	require_tools
	trap 'rc=$?; trap - EXIT; [ "$rc" = 0 ] || up_failed' EXIT
	ensure_tun
	prepare_dir
	make_certs
	local gw
	for gw in gw1 gw2; do
		write_charon_conf "$gw"
		write_swanctl_conf "$gw"
		write_extras_conf "$gw" 0
	done
	setup_network
	start_charon_proc gw1 &
	local p1=$!
	start_charon_proc gw2 &
	local p2=$!
	# each prints why it failed
	wait "$p1" || exit 1
	wait "$p2" || exit 1
	load_all gw2
	load_all gw1
	ensure_tunnels
	trap - EXIT
	log "lab up in $(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000)) ms on $(strongswan_version) (gw1 VICI unix://$(vici_path gw1), gw2 VICI unix://$(vici_path gw2))"
}

# A charon of the lab's configuration, in a directory and namespace of its own, must load every
# plugin of the lab, and swanctl must load the lab's certificates and key; else one line says what.
cmd_check() {
	need_root
	if [ -z "${LAB_CHECKING:-}" ]; then
		LAB_CHECKING=1 LAB_DIR=$LAB_DIR-check LAB_PREFIX=${LAB_PREFIX}c exec bash "$0" check
	fi
	require_tools
	cmd_down >/dev/null 2>&1
	set -e
	trap 'cmd_down >/dev/null 2>&1' EXIT
	ensure_tun
	prepare_dir
	make_certs
	write_charon_conf gw1
	write_swanctl_conf gw1
	ip netns add "$NS1"
	ip -n "$NS1" link set lo up
	# dies naming the plugins it lacks
	start_charon_proc gw1
	local out f
	out=$(sw gw1 --load-creds --noprompt 2>&1) || die "swanctl cannot load the lab's certificates: $(grep -iE -m1 'fail|error|unable' <<<"$out" || tail -n 1 <<<"$out")"
	for f in x509ca/ca.pem x509/gw1.pem private/gw1.key; do
		grep -q "^loaded .*/swanctl/$f'" <<<"$out" ||
			die "swanctl ($(strongswan_version)) did not parse the lab's $f: $(grep -iE -m1 'fail|error|unable' <<<"$out" || echo "$out" | tr '\n' ' ')"
	done
	log "check: $(strongswan_version): charon loads all $(wc -w <<<"$PLUGINS") plugins of the lab, swanctl parses its certificates"
}

cmd_root() {
	need_root
	[ -n "$ROOT" ] || die "LAB_STRONGSWAN=system uses this machine's strongSwan: no root to make"
	ensure_root
	log "$ROOT: $(strongswan_version)"
}

cmd_swanctl() {
	local gw=${1:-}
	ns_of "$gw" >/dev/null
	[ $# -ge 2 ] || die "usage: lab.sh swanctl gw1|gw2 --COMMAND [options]"
	shift
	sw "$gw" "$@"
}

require_up() {
	ns_exists "$NS1" && ns_exists "$NS2" && [ -d "$LAB_DIR/gw1" ] || die "lab is not up (run: scripts/lab.sh up)"
}

cmd_traffic() {
	need_root
	require_up
	local count=${1:-5} mode=${2:-} pids=() rc=0 pid i o n
	[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -gt 0 ] || die "COUNT must be a positive integer"
	ip netns exec "$NS1" ping -q -n -c "$count" -i 0.2 -W 2 -I 10.91.1.1 10.92.1.1 >&2 &
	pids+=($!)
	ip netns exec "$NS1" ping -q -n -c "$count" -i 0.2 -W 2 -I 10.91.2.1 10.92.2.1 >&2 &
	pids+=($!)
	if [ "$mode" = all ]; then
		n=$(extra_count)
		for ((i = 1; i <= n; i++)); do
			o=$(extra_octets "$i")
			ip netns exec "$NS1" ping -q -n -c "$count" -i 0.2 -W 2 -I "10.94.$o" "10.95.$o" >/dev/null &
			pids+=($!)
		done
	fi
	for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
	[ "$rc" = 0 ] || die "some pings through the tunnel failed"
}

cmd_add() {
	need_root
	require_up
	local n=${1:-} old new gw
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "usage: lab.sh add N (N > 0)"
	old=$(extra_count)
	new=$((old + n))
	add_extra_addrs $((old + 1)) "$new"
	for gw in gw1 gw2; do
		write_extras_conf "$gw" "$new"
	done
	echo "$new" >"$LAB_DIR/extras.count"
	for gw in gw2 gw1; do
		if charon_pid "$gw" >/dev/null; then
			sw "$gw" --load-conns >>"$LAB_DIR/$gw/swanctl.log" 2>&1 || die "swanctl --load-conns failed on $gw"
		fi
	done
	charon_pid gw1 >/dev/null && charon_pid gw2 >/dev/null || die "a charon is not running; extras configured but not initiated"
	ensure_tunnels
}

# ---------------------------------------------------------------- road warriors (rw-up)

rw_count() {
	if [ -f "$LAB_DIR/rw.count" ]; then cat "$LAB_DIR/rw.count"; else echo 0; fi
}
rw_user_id() { echo "user$1@sswlab"; }
rw_user_addr() { echo "$RW_NET.$((10 + $1))"; }
# rw-up's proposals: LAB_RW_PROPOSALS / LAB_RW_ESP_PROPOSALS, else those rw-up was given (kept in
# $LAB_DIR/rw, so that rw-fail rewrites a user's configuration with them), else the lab's
rw_proposals() { rw_saved_proposals "${LAB_RW_PROPOSALS:-}" ike "$IKE_PROPOSALS"; }
rw_esp_proposals() { rw_saved_proposals "${LAB_RW_ESP_PROPOSALS:-}" esp "$ESP_PROPOSALS"; }
rw_saved_proposals() {
	if [ -n "$1" ]; then
		echo "$1"
	elif [ -s "$LAB_DIR/rw/$2.proposals" ]; then
		cat "$LAB_DIR/rw/$2.proposals"
	else
		echo "$3"
	fi
}
# an IKE proposal that gw1's `rw` does not accept (rw-fail K proposal)
RW_BAD_PROPOSALS=aes192-sha384-modp3072

# the road-warrior namespaces of this lab: from rw.count, and any left by a lab whose LAB_DIR is gone
rw_namespaces() {
	local i n
	n=$(rw_count)
	for ((i = 1; i <= n; i++)); do echo "${LAB_PREFIX}u$i"; done
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX//./\\.}u[0-9]+\$" || true
}

# gw1's side: the connection `rw` and every user's EAP secret (conf.d/rw.conf)
write_rw_gw_conf() {
	local n=$1 i d
	d=$(gw_dir gw1)
	{
		echo "# generated by scripts/lab.sh rw-up ($n users)"
		cat <<EOF
connections {
	$RW_CONN {
		version = 2
		local_addrs = $RW_GW_ADDR
		proposals = $(rw_proposals)
		pools = $RW_POOL
		local {
			auth = pubkey
			id = $(cert_id gw1)
		}
		remote {
			auth = eap-md5
			# ask for the EAP identity (eap-identity): the IKE identity is the user's address
			eap_id = %any
		}
		children {
			$RW_CHILD {
				local_ts = $RW_TS
				esp_proposals = $(rw_esp_proposals)
			}
		}
	}
}
secrets {
EOF
		for ((i = 1; i <= n; i++)); do
			printf '\teap-user%s {\n\t\tid = %s\n\t\tsecret = 0x%s\n\t}\n' "$i" "$(rw_user_id "$i")" "$(cat "$LAB_DIR/rw/user$i.secret")"
		done
		echo "}"
	} >"$d/swanctl/conf.d/rw.conf"
	chmod 0600 "$d/swanctl/conf.d/rw.conf"
}

# user K's charon configuration; MODE ok (default), badauth (a wrong EAP secret) or badprop (an IKE
# proposal gw1 does not accept)
write_rw_user_conf() {
	local k=$1 mode=${2:-ok} d secret proposals
	d=$(gw_dir "u$k")
	secret=$(cat "$LAB_DIR/rw/user$k.secret")
	proposals=$(rw_proposals)
	[ "$mode" = badauth ] && secret=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	[ "$mode" = badprop ] && proposals=$RW_BAD_PROPOSALS
	mkdir -p "$d/swanctl/x509ca"
	cp "$(ca_cert)" "$d/swanctl/x509ca/ca.pem"
	cat >"$d/swanctl/swanctl.conf" <<EOF
# generated by scripts/lab.sh rw-up (user $k, $mode)
connections {
	$RW_CONN {
		version = 2
		local_addrs = $(rw_user_addr "$k")
		remote_addrs = $RW_GW_ADDR
		proposals = $proposals
		vips = 0.0.0.0
		local {
			auth = eap-md5
			eap_id = $(rw_user_id "$k")
		}
		remote {
			auth = pubkey
			id = $(cert_id gw1)
		}
		children {
			$RW_CHILD {
				remote_ts = $RW_TS
				esp_proposals = $(rw_esp_proposals)
				start_action = none
			}
		}
	}
}
secrets {
	eap-user$k {
		id = $(rw_user_id "$k")
		secret = 0x$secret
	}
}
EOF
	chmod 0600 "$d/swanctl/swanctl.conf"
}

# user K's namespace, joined to the bridge in gw1's namespace
setup_rw_user_net() {
	local k=$1 ns=${LAB_PREFIX}u$1
	ip netns add "$ns"
	ip link add "${LAB_PREFIX}b$k" netns "$NS1" type veth peer name "${LAB_PREFIX}u$k" netns "$ns"
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$(rw_user_addr "$k")/24" dev "${LAB_PREFIX}u$k"
	ip -n "$ns" link set "${LAB_PREFIX}u$k" up
	ip -n "$NS1" link set "${LAB_PREFIX}b$k" master "$RW_BRIDGE"
	ip -n "$NS1" link set "${LAB_PREFIX}b$k" up
}

# the IKE SA `rw` of user K, ESTABLISHED with its CHILD SA INSTALLED, seen by user K
rw_user_up() {
	sw "u$1" --list-sas --ike "$RW_CONN" --raw 2>/dev/null |
		grep -q "^list-sa event {$RW_CONN {.*state=ESTABLISHED.*child-sas {.*state=INSTALLED"
}

# "IKE-ID CHILD-ID VIP" of user K's INSTALLED CHILD SA (as user K sees it)
rw_user_sa() {
	sw "u$1" --list-sas --ike "$RW_CONN" --raw 2>/dev/null | awk '
	/^list-sa event \{/ && /state=ESTABLISHED/ {
		ike = $0; sub(/^list-sa event \{[^ ]+ \{uniqueid=/, "", ike); sub(/ .*/, "", ike)
		vip = $0; if (sub(/.*local-vips=\[/, "", vip)) sub(/[] ].*/, "", vip); else vip = "-"
		s = $0
		while (match(s, /uniqueid=[0-9]+ reqid=[0-9]+ state=INSTALLED/)) {
			m = substr(s, RSTART + 9, RLENGTH - 9); sub(/ .*/, "", m)
			print ike, m, vip
			s = substr(s, RSTART + RLENGTH)
		}
	}' | tail -n 1
}

# number of road warriors up on gw1: ESTABLISHED `rw` IKE SAs with an INSTALLED child
rw_gw_up_count() {
	sw gw1 --list-sas --ike "$RW_CONN" --raw 2>/dev/null |
		grep -c "^list-sa event {$RW_CONN {.*state=ESTABLISHED.*child-sas {.*state=INSTALLED" || true
}

rw_all_up() {
	local i n
	n=$(rw_count)
	for ((i = 1; i <= n; i++)); do rw_user_up "$i" || return 1; done
	[ "$(rw_gw_up_count)" -ge "$n" ]
}

rw_initiate() {
	sw "u$1" --initiate --ike "$RW_CONN" --child "$RW_CHILD" --timeout 15 >>"$LAB_DIR/u$1/swanctl.log" 2>&1
}

require_rw() {
	require_up
	local k=${1:-} n
	n=$(rw_count)
	[ "$n" -gt 0 ] || die "no road warriors (run: scripts/lab.sh rw-up [N])"
	[ -z "$k" ] && return 0
	[[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le "$n" ] || die "user '$k' is not one of 1..$n"
	charon_pid "u$k" >/dev/null || die "user $k's charon is not running"
}

cmd_rw_up() {
	need_root
	require_up
	local n=${1:-3} i pids=() pid
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$RW_MAX" ] || die "usage: lab.sh rw-up [N] (1 <= N <= $RW_MAX, the addresses of $RW_POOL)"
	[ $((${#LAB_PREFIX} + 1 + ${#n})) -le 15 ] || die "LAB_PREFIX too long for the users' interface names (${LAB_PREFIX}u$n > 15 chars)"
	charon_pid gw1 >/dev/null || die "gw1's charon is not running"
	[ "$(rw_count)" = 0 ] || cmd_rw_down
	rm -f -- "$LAB_DIR/rw/ike.proposals" "$LAB_DIR/rw/esp.proposals"
	log "road warriors: $n users on $(strongswan_version), IKE $(rw_proposals), ESP $(rw_esp_proposals)"
	(umask 077 && mkdir -p "$LAB_DIR/rw")
	# (an empty file reads as absent: the redirection creates it before rw_proposals looks)
	rw_proposals >"$LAB_DIR/rw/ike.proposals"
	rw_esp_proposals >"$LAB_DIR/rw/esp.proposals"
	for ((i = 1; i <= n; i++)); do
		(umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$LAB_DIR/rw/user$i.secret")
	done
	echo "$n" >"$LAB_DIR/rw.count"
	ip -n "$NS1" link show "$RW_BRIDGE" >/dev/null 2>&1 || {
		ip -n "$NS1" link add "$RW_BRIDGE" type bridge
		ip -n "$NS1" addr add "$RW_GW_ADDR/24" dev "$RW_BRIDGE"
		ip -n "$NS1" link set "$RW_BRIDGE" up
	}
	ip -n "$NS1" addr replace "$RW_TARGET/24" dev lo
	write_rw_gw_conf "$n"
	sw gw1 --load-all --noprompt >>"$LAB_DIR/gw1/swanctl.log" 2>&1 || die "swanctl --load-all failed on gw1 (rw)"
	for ((i = 1; i <= n; i++)); do
		setup_rw_user_net "$i"
		write_charon_conf "u$i"
		write_rw_user_conf "$i"
		start_charon_proc "u$i" &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
	for ((i = 1; i <= n; i++)); do
		load_all "u$i"
		rw_initiate "$i" || true
	done
	wait_for "$n road warriors up (ESTABLISHED, CHILD SA INSTALLED) on the users and gw1" rw_all_up
	for ((i = 1; i <= n; i++)); do log "user $i: $(rw_user_id "$i") at $(rw_user_addr "$i"), IKE/CHILD/VIP $(rw_user_sa "$i")"; done
}

cmd_rw_down() {
	set +e
	local fast=${1:-} ns victims="" pid i n
	n=$(rw_count)
	# each user terminates its IKE SA (gw1 sees it go), then the users go away with their namespaces;
	# `down` (fast) only kills them
	if [ -z "$fast" ] && [ "$n" -gt 0 ] && charon_pid gw1 >/dev/null 2>&1; then
		for ((i = 1; i <= n; i++)); do
			charon_pid "u$i" >/dev/null 2>&1 && sw "u$i" --terminate --ike "$RW_CONN" --timeout 5 >/dev/null 2>&1
		done
	fi
	for ns in $(rw_namespaces | sort -u); do
		ns_exists "$ns" && victims="$victims $(ip netns pids "$ns" 2>/dev/null)"
	done
	for ((i = 1; i <= n; i++)); do
		pid=$(charon_pid "u$i" 2>/dev/null) && victims="$victims $pid"
	done
	victims=$(echo "$victims" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -u)
	if [ -n "$victims" ]; then
		# shellcheck disable=SC2086
		kill -KILL $victims 2>/dev/null
		for pid in $victims; do wait_dead "$pid" 40; done
		# shellcheck disable=SC2086
		wait_reaped $victims
	fi
	for ns in $(rw_namespaces | sort -u); do
		ns_exists "$ns" && ip netns del "$ns" 2>/dev/null
	done
	# `down` removes LAB_DIR and gw1 with it
	if [ -z "$fast" ] && [ -d "$LAB_DIR/gw1" ]; then
		for ((i = 1; i <= n; i++)); do rm -rf -- "${LAB_DIR:?}/u$i"; done
		rm -rf -- "$LAB_DIR/rw" "$LAB_DIR/rw.count"
		if [ -f "$LAB_DIR/gw1/swanctl/conf.d/rw.conf" ]; then
			rm -f -- "$LAB_DIR/gw1/swanctl/conf.d/rw.conf"
			if charon_pid gw1 >/dev/null 2>&1; then
				# unload `rw` and the users' secrets; whatever is left of their IKE SAs on gw1 goes
				sw gw1 --load-conns >>"$LAB_DIR/gw1/swanctl.log" 2>&1
				sw gw1 --load-creds --clear --noprompt >>"$LAB_DIR/gw1/swanctl.log" 2>&1
				sw gw1 --terminate --ike "$RW_CONN" --force >/dev/null 2>&1
			fi
		fi
	fi
	ns_exists "$NS1" && ip -n "$NS1" link del "$RW_BRIDGE" 2>/dev/null
	set -e
	return 0
}

# COUNT pings from user K's virtual IP to RW_TARGET through its tunnel; ping's summary on stdout
cmd_rw_traffic() {
	need_root
	local k=${1:-} count=${2:-5} vip
	require_rw "$k"
	[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -gt 0 ] || die "COUNT must be a positive integer"
	vip=$(rw_user_sa "$k" | awk '{print $3}')
	[[ "$vip" =~ ^[0-9.]+$ ]] || die "user $k has no virtual IP (its SA is not up)"
	ip netns exec "${LAB_PREFIX}u$k" ping -q -n -c "$count" -i 0.2 -W 2 -I "$vip" "$RW_TARGET" | tail -n 2 ||
		die "pings of user $k through its tunnel failed"
}

cmd_rw_reconnect() {
	need_root
	local k=${1:-} before
	require_rw "$k"
	before=$(rw_user_sa "$k")
	sw "u$k" --terminate --ike "$RW_CONN" --timeout 15 >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || true
	rw_initiate "$k" || true
	wait_for "$(rw_count) road warriors up (user $k again)" rw_all_up
	log "user $k reconnected: IKE/CHILD/VIP $before -> $(rw_user_sa "$k")"
}

# user K's SA is up and its CHILD (or IKE) SA id is no longer the one of OLD ("IKE CHILD VIP")
rw_user_changed() {
	local k=$1 what=$2 old=$3 now
	rw_user_up "$k" || return 1
	now=$(rw_user_sa "$k")
	case "$what" in
	child) [ "$(awk '{print $2}' <<<"$now")" != "$(awk '{print $2}' <<<"$old")" ] ;;
	ike) [ "$(awk '{print $1}' <<<"$now")" != "$(awk '{print $1}' <<<"$old")" ] ;;
	esac
}

cmd_rw_rekey() {
	need_root
	local k=${1:-} what=${2:-both} before w
	require_rw "$k"
	case "$what" in child | ike | both) ;; *) die "usage: lab.sh rw-rekey K [child|ike|both]" ;; esac
	for w in child ike; do
		[ "$what" = both ] || [ "$what" = "$w" ] || continue
		before=$(rw_user_sa "$k")
		if [ "$w" = child ]; then
			sw "u$k" --rekey --child "$RW_CHILD" >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || die "swanctl --rekey --child failed on user $k"
		else
			sw "u$k" --rekey --ike "$RW_CONN" >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || die "swanctl --rekey --ike failed on user $k"
		fi
		wait_for "user $k's $w SA rekeyed" rw_user_changed "$k" "$w" "$before"
		log "user $k: $w SA rekeyed: IKE/CHILD/VIP $before -> $(rw_user_sa "$k")"
	done
}

# one attempt of user K that must fail (a wrong EAP secret, or an IKE proposal gw1 rejects); its
# IKE SA is terminated first and initiated again afterwards with its own configuration
cmd_rw_fail() {
	need_root
	local k=${1:-} how=${2:-} mode
	require_rw "$k"
	case "$how" in auth) mode=badauth ;; proposal) mode=badprop ;; *) die "usage: lab.sh rw-fail K auth|proposal" ;; esac
	sw "u$k" --terminate --ike "$RW_CONN" --timeout 15 >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || true
	write_rw_user_conf "$k" "$mode"
	sw "u$k" --load-all --clear --noprompt >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || die "swanctl --load-all failed on user $k"
	if rw_initiate "$k"; then
		write_rw_user_conf "$k"
		die "user $k: the $how attempt succeeded, it should have failed"
	fi
	log "user $k: the $how attempt failed, as it should"
	write_rw_user_conf "$k"
	sw "u$k" --load-all --clear --noprompt >>"$LAB_DIR/u$k/swanctl.log" 2>&1 || die "swanctl --load-all failed on user $k"
	rw_initiate "$k" || true
	wait_for "user $k up again" rw_user_up "$k"
}

cmd_status() {
	local gw=${1:-gw1}
	ns_of "$gw" >/dev/null
	sw "$gw" --list-sas
}

cmd_env() {
	local kv
	for kv in \
		"LAB_DIR=$LAB_DIR" \
		"LAB_PREFIX=$LAB_PREFIX" \
		"LAB_STRONGSWAN=$LAB_STRONGSWAN" \
		"LAB_STRONGSWAN_VERSION=$(strongswan_version | sed -n 's/^strongSwan \([0-9.]*\).*/\1/p')" \
		"LAB_GW1_NS=$NS1" \
		"LAB_GW2_NS=$NS2" \
		"LAB_GW1_VICI=unix://$(vici_path gw1)" \
		"LAB_GW2_VICI=unix://$(vici_path gw2)" \
		"LAB_GW1_VICI_PATH=$(vici_path gw1)" \
		"LAB_GW2_VICI_PATH=$(vici_path gw2)" \
		"LAB_GW1_LOG=$LAB_DIR/gw1/charon.log" \
		"LAB_GW2_LOG=$LAB_DIR/gw2/charon.log" \
		"LAB_GW1_IKE_ADDR=$IKE1" \
		"LAB_GW2_IKE_ADDR=$IKE2" \
		"LAB_SITE_CONN=site" \
		"LAB_SITE_CHILDREN=net1,net2" \
		"LAB_SITE_CHILD1=net1" \
		"LAB_SITE_CHILD2=net2" \
		"LAB_SITE_GW1_TS=10.91.1.0/24,10.91.2.0/24" \
		"LAB_SITE_GW2_TS=10.92.1.0/24,10.92.2.0/24" \
		"LAB_NEVER_CONN=never" \
		"LAB_NEVER_CHILD=nevernet" \
		"LAB_POOL=rw_pool" \
		"LAB_POOL_ADDRS=$POOL_ADDRS" \
		"LAB_CERT_CONN=$CERT_CONN" \
		"LAB_CERT_CHILD=$CERT_CHILD" \
		"LAB_CERT_GW1_TS=$CERT_TS1" \
		"LAB_CERT_GW2_TS=$CERT_TS2" \
		"LAB_GW1_CERT_ID=$(cert_id gw1)" \
		"LAB_GW2_CERT_ID=$(cert_id gw2)" \
		"LAB_CA_CERT=$(ca_cert)" \
		"LAB_GW1_CERT=$(gw_cert gw1)" \
		"LAB_GW2_CERT=$(gw_cert gw2)" \
		"LAB_EXTRA_PREFIX=extra" \
		"LAB_EXTRA_COUNT=$(extra_count)"; do
		printf '%s\n' "$kv"
	done
	local k n
	n=$(rw_count)
	printf '%s\n' "LAB_RW_CONN=$RW_CONN" "LAB_RW_CHILD=$RW_CHILD" "LAB_RW_POOL=$RW_POOL" "LAB_RW_POOL_ADDRS=$POOL_ADDRS" \
		"LAB_RW_GW_ADDR=$RW_GW_ADDR" "LAB_RW_TS=$RW_TS" "LAB_RW_TARGET=$RW_TARGET" "LAB_RW_AUTH=eap-md5" \
		"LAB_RW_PROPOSALS=$(rw_proposals)" "LAB_RW_ESP_PROPOSALS=$(rw_esp_proposals)" "LAB_RW_COUNT=$n" \
		"LAB_RW_USERS=$(for ((k = 1; k <= n; k++)); do printf '%s%s' "$([ "$k" = 1 ] || echo ,)" "$(rw_user_id "$k")"; done)"
	for ((k = 1; k <= n; k++)); do
		printf '%s\n' "LAB_RW_USER${k}_EAP_ID=$(rw_user_id "$k")" "LAB_RW_USER${k}_ADDR=$(rw_user_addr "$k")" \
			"LAB_RW_USER${k}_NS=${LAB_PREFIX}u$k" "LAB_RW_USER${k}_VICI=unix://$(vici_path "u$k")" \
			"LAB_RW_USER${k}_VICI_PATH=$(vici_path "u$k")" "LAB_RW_USER${k}_LOG=$LAB_DIR/u$k/charon.log"
	done
}

cmd_stop_charon() {
	need_root
	local gw=${1:-}
	ns_of "$gw" >/dev/null
	stop_charon_proc "$gw"
}

# SIGKILL: the daemon ends without a word (no down events, no last reading of its counters).
cmd_kill_charon() {
	need_root
	local gw=${1:-} pid
	ns_of "$gw" >/dev/null
	pid=$(charon_pid "$gw") || die "$gw charon is not running"
	kill -KILL "$pid"
	wait_dead "$pid" 40
	wait_reaped "$pid"
	rm -f "$LAB_DIR/$gw/charon.pid" "$(vici_path "$gw")"
}

cmd_start_charon() {
	need_root
	local gw=${1:-}
	ns_of "$gw" >/dev/null
	require_up
	start_charon_proc "$gw"
	load_all "$gw"
	# re-initiate from gw1 if both sides are running
	if charon_pid gw1 >/dev/null && charon_pid gw2 >/dev/null; then
		ensure_tunnels
	fi
}

usage() {
	sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

main() {
	check_settings
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case "$cmd" in
	up) cmd_up ;;
	down) cmd_down ;;
	traffic) cmd_traffic "$@" ;;
	add) cmd_add "$@" ;;
	status) cmd_status "$@" ;;
	env) cmd_env ;;
	check) cmd_check ;;
	root) cmd_root ;;
	swanctl) cmd_swanctl "$@" ;;
	stop-charon) cmd_stop_charon "$@" ;;
	start-charon) cmd_start_charon "$@" ;;
	kill-charon) cmd_kill_charon "$@" ;;
	restart-charon)
		cmd_stop_charon "$@"
		cmd_start_charon "$@"
		;;
	rw-up) cmd_rw_up "$@" ;;
	rw-down)
		need_root
		cmd_rw_down
		;;
	rw-traffic) cmd_rw_traffic "$@" ;;
	rw-reconnect) cmd_rw_reconnect "$@" ;;
	rw-rekey) cmd_rw_rekey "$@" ;;
	rw-fail) cmd_rw_fail "$@" ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"
