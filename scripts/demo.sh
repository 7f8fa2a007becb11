#!/usr/bin/env bash
# The first minute: brings up the lab (two real charon gateways with IKEv2 tunnels, in network
# namespaces), pushes some traffic, and serves the exporter against gateway 1 on :9814.
# As root, or through sudo. Stop it with Ctrl-C: that stops the exporter and tears the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-9814}"
[ "$(id -u)" = 0 ] || {
	echo "demo: must run as root (as another user: sudo $0)" >&2
	exit 1
}

bash scripts/setup.sh demo
pid=
pinger=
# Whatever happens from here on (a failed lab, Ctrl-C, the exporter exiting), nothing is left behind.
# shellcheck disable=SC2154 # rc is set by the trap itself
trap 'rc=$?; set +e; [ -z "$pinger" ] || { kill -- -"$pinger" 2>/dev/null; wait "$pinger" 2>/dev/null; }; [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; bash scripts/lab.sh down; exit $rc' EXIT
trap 'exit 0' INT TERM
bash scripts/lab.sh up
eval "$(bash scripts/lab.sh env | grep '^LAB_GW1_VICI=')"

cat >&2 <<MSG

  Lab up: gateway gw1 has the 'site' tunnel (children net1, net2), a connection 'never' that stays down,
  and the address pool 'rw_pool'. A ping a second goes through net1 and net2; more: scripts/lab.sh traffic 10
  Metrics:  curl -s http://localhost:${PORT}/metrics | grep '^strongswan_'
  Stop:     Ctrl-C here (stops the exporter and tears the lab down)

MSG
node dist/src/cli/main.js --vici.address "$LAB_GW1_VICI" --web.listen-address ":${PORT}" "$@" &
pid=$!
# A ping a second through both children while the demo runs, so that the traffic series move (the
# traffic per child config counts from the exporter's first scrape on). A process group of its own,
# so that it ends whole, its sleep and pings too.
# shellcheck disable=SC2016 # $1 is the inner shell's
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do
	bash scripts/lab.sh traffic 1 >/dev/null 2>&1 || true
	sleep 1
done' pinger "$pid" &
pinger=$!
wait "$pid"
