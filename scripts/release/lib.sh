# shellcheck shell=bash
# shellcheck disable=SC2034 # (the variables are for the scripts that source this file)
# Shared by the release scripts (sourced): logging, the version, the output directory, checksums.

# The Node.js every executable embeds, from npm's node-linux-ARCH packages, pinned by their
# integrity as the registry states it (npm view node-linux-ARCH@VERSION dist.integrity).
NODE_VERSION=20.20.2
declare -A NODE_INTEGRITY=(
	[x64]=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
	[arm64]=sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==
)
# the fuse Node.js looks for to know a blob was injected (Node 20's single-executable docs)
SEA_FUSE=NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

log() { printf '%s: %s\n' "${LOG_NAME:-release}" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# A check's failure: its reason becomes the last line (check_exit), whatever runs on the way out.
fail() {
	FAILED=$*
	exit 1
}

# A check's last line, and its exit status rc: passed, or what failed (started at CHECK_T0)
check_exit() {
	local rc=$1
	if [ "$rc" = 0 ]; then
		log "passed in $((SECONDS - CHECK_T0)) s"
	else
		log "FAILED (exit $rc) after $((SECONDS - CHECK_T0)) s: ${FAILED:-see the lines above}"
	fi
	exit "$rc"
}

# VERSION from package.json, checked to be a plain version (it becomes part of file names)
project_version() {
	local v
	v=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$REPO/package.json")
	[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "package.json: no usable \"version\" (found '$v')"
	printf '%s\n' "$v"
}

# OUTDIR as an absolute path (relative ones are taken from where the script was called), created
out_dir() {
	local d=${1:-$REPO/release}
	mkdir -p "$d" || die "cannot create $d"
	(cd "$d" && pwd)
}

# SHA256SUMS over every release artefact now in OUTDIR, so that builds of several architectures
# (run one after the other into the same OUTDIR) end with one file that lists them all.
write_sums() {
	local d=$1 files
	files=$(cd "$d" && find . -maxdepth 1 -type f \( -name 'strongswan_exporter-*.tar.gz' -o -name 'strongswan_exporter-*.tar' \
		-o -name 'strongswan_exporter-*.tgz' -o -name 'strongswan-exporter_*.deb' \) -printf '%f\n' | LC_ALL=C sort)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	(cd "$d" && sha256sum $files >SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS) || die "cannot write $d/SHA256SUMS"
	log "$d/SHA256SUMS: $(wc -l <"$d/SHA256SUMS") files"
}

# e_machine of an ELF file: 62 is x86-64, 183 AArch64
elf_machine() { od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '; }

# when the sources last changed: the time stamp of the files in the archives
source_epoch() { git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0; }

# A check's lab (LAB_DIR, LAB_PREFIX of its own), its log in $WORK/lab.log: VICI_PATH is gw1's socket.
lab_up() {
	log "lab.sh up (LAB_DIR=$LAB_DIR LAB_PREFIX=$LAB_PREFIX)"
	bash "$REPO/scripts/lab.sh" up >"$WORK/lab.log" 2>&1 || {
		tail -n 20 "$WORK/lab.log" >&2
		fail "lab.sh up failed"
	}
	VICI_PATH=$(bash "$REPO/scripts/lab.sh" env | sed -n 's/^LAB_GW1_VICI_PATH=//p')
	[ -S "$VICI_PATH" ] || fail "the lab's gw1 has no VICI socket at '$VICI_PATH'"
}
