#!/usr/bin/env bash
# Start-up time and idle memory of the x64 single executable against `node dist/...`, for the
# numbers in bench/results/ and the README:
#
#   bash scripts/release/measure-sea.sh [RUNS]        (RUNS per variant, default 10; after
#                                                     `npm run build` and scripts/release/sea.sh x64)
#
# Variants, run interleaved: node dist/src/cli/main.js with its shebang's flags and environment;
# the bundle the executable carries, run by the same node (what bundling alone changes); the
# executable with NODE_OPTIONS and MALLOC_MMAP_THRESHOLD_ as the image sets them; the executable
# with an empty environment. Per run: the time from exec to the first HTTP 200 from /metrics (one
# scrape of a synthetic charon with 10 IKE SAs), to the exit of --version, and VmRSS 1 s after a
# start without any scrape (as bench/run.ts's idle RSS). Prints a Markdown table of medians.
set -euo pipefail
LOG_NAME=measure-sea
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"
RUNS=${1:-10}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
EXE=release/build/sea-x64/strongswan_exporter
BUNDLE=release/build/sea-x64/strongswan_exporter.cjs
{ [ -x "$EXE" ] && [ -f "$BUNDLE" ]; } || die "no $EXE: run scripts/release/sea.sh x64 first"
[ -f dist/src/cli/main.js ] || die "no dist/: run npm run build first"
NODE=$(command -v node) || die "needs node on PATH"

TMP=$(mktemp -d /var/tmp/measure-sea.XXXXXX)
SYN=
cleanup() {
	[ -z "$SYN" ] || kill "$SYN" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
node dist/bench/synthetic-charon.js --ike-sas 10 --children 2 --socket "$TMP/c.vici" --no-certs >"$TMP/syn.log" 2>&1 &
SYN=$!
for ((i = 0; i < 100; i++)); do
	[ -S "$TMP/c.vici" ] && break
	sleep 0.05
done
[ -S "$TMP/c.vici" ] || die "the synthetic charon did not start"
PORT=$((20000 + RANDOM % 20000))
ARGS=(--vici.address "unix://$TMP/c.vici" --web.listen-address "127.0.0.1:$PORT" --log.level error)
FLAGS=(MALLOC_MMAP_THRESHOLD_=131072)
variant() {
	case "$1" in
	node) echo env -i "${FLAGS[@]}" "$NODE" --max-semi-space-size=16 --expose-gc dist/src/cli/main.js ;;
	bundle) echo env -i "${FLAGS[@]}" "$NODE" --max-semi-space-size=16 --expose-gc "$BUNDLE" ;;
	sea) echo env -i "${FLAGS[@]}" NODE_OPTIONS=--max-semi-space-size=16 "$EXE" ;;
	sea-bare) echo env -i "$EXE" ;;
	esac
}
VARIANTS=(node bundle sea sea-bare)
now() { date +%s%N; }
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for ((r = 1; r <= RUNS; r++)); do
	for v in "${VARIANTS[@]}"; do
		read -ra cmd <<<"$(variant "$v")"
		# start-up: exec to the first 200 from /metrics
		t=$(now)
		"${cmd[@]}" "${ARGS[@]}" >/dev/null 2>&1 &
		p=$!
		until curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/metrics"; do
			kill -0 "$p" 2>/dev/null || die "$v exited before serving"
			sleep 0.005
		done
		echo $((($(now) - t) / 1000000)) >>"$TMP/$v.start"
		kill "$p"
		wait "$p" 2>/dev/null || true
		# idle: VmRSS 1 s after a start, no scrape
		"${cmd[@]}" "${ARGS[@]}" >/dev/null 2>&1 &
		p=$!
		sleep 1
		awk '/^VmRSS:/ {print $2}' "/proc/$p/status" >>"$TMP/$v.rss"
		kill "$p"
		wait "$p" 2>/dev/null || true
		# --version
		t=$(now)
		"${cmd[@]}" --version >/dev/null
		echo $((($(now) - t) / 1000000)) >>"$TMP/$v.version"
	done
done
echo "| variant | start-up to first /metrics (ms) | --version (ms) | idle RSS (MiB) |"
echo "| --- | ---: | ---: | ---: |"
for v in "${VARIANTS[@]}"; do
	printf '| %s | %s | %s | %.1f |\n' "$v" "$(median <"$TMP/$v.start")" "$(median <"$TMP/$v.version")" \
		"$(median <"$TMP/$v.rss" | awk '{print $1 / 1024}')"
done
echo
echo "medians of $RUNS runs each, interleaved; node $("$NODE" --version) at $NODE; $(nproc) cores"
