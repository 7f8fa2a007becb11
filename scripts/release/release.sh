#!/usr/bin/env bash
# Every release artefact, built from this checkout into release/ (or OUTDIR), with one SHA256SUMS:
#
#   npm run release            (as root: the image is built with buildah in a debootstrapped root)
#   bash scripts/release/release.sh [OUTDIR]
#
#   strongswan_exporter-VERSION-linux-x64.tar.gz, -linux-arm64.tar.gz   single executables
#   strongswan-exporter_VERSION-1_all.deb                               on Debian's nodejs (Debian 13)
#   strongswan-exporter_VERSION-1_amd64.deb, _arm64.deb                 with the executable (Debian 12)
#   strongswan_exporter-VERSION-image-amd64.tar                         the container image (docker archive)
#   strongswan_exporter-VERSION.tgz                                     the npm package
#   SHA256SUMS
#
# Needs `npm ci` done; installs what the steps need and lack (see each script).
set -euo pipefail
LOG_NAME=release
# shellcheck source=scripts/release/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"
[ "$(id -u)" = 0 ] || die "must run as root (the image is built with buildah in a debootstrapped root; try: sudo npm run release)"
OUT=$(out_dir "${1:-}")
VERSION=$(project_version)
t0=$SECONDS
step() { log "$* (at $((SECONDS - t0)) s)"; }

# Artefacts of an earlier build (another version, say) would be listed in SHA256SUMS too.
rm -f "$OUT"/strongswan_exporter-*.tar.gz "$OUT"/strongswan_exporter-*.tar "$OUT"/strongswan_exporter-*.tgz \
	"$OUT"/strongswan-exporter_*.deb "$OUT/SHA256SUMS"

step "single executables"
bash scripts/release/sea.sh x64 "$OUT"
bash scripts/release/sea.sh arm64 "$OUT"
step "Debian packages"
bash scripts/release/deb.sh all "$OUT"
# (the build of the _all package serves the other two)
DEB_BUILD_FROM=$OUT/build/deb-all bash scripts/release/deb.sh amd64 "$OUT/build/sea-x64/strongswan_exporter" "$OUT"
DEB_BUILD_FROM=$OUT/build/deb-all bash scripts/release/deb.sh arm64 "$OUT/build/sea-arm64/strongswan_exporter" "$OUT"
step "container image"
bash scripts/release/image.sh "$OUT"
step "npm package"
# (its prepare script compiles; the tarball holds dist/src without tests, as package.json's files say)
npm pack --silent --pack-destination "$OUT" >/dev/null
write_sums "$OUT"

want=(
	"strongswan_exporter-$VERSION-linux-x64.tar.gz"
	"strongswan_exporter-$VERSION-linux-arm64.tar.gz"
	"strongswan-exporter_$VERSION-1_all.deb"
	"strongswan-exporter_$VERSION-1_amd64.deb"
	"strongswan-exporter_$VERSION-1_arm64.deb"
	"strongswan_exporter-$VERSION-image-amd64.tar"
	"strongswan_exporter-$VERSION.tgz"
)
for f in "${want[@]}"; do
	grep -q "  $f\$" "$OUT/SHA256SUMS" || die "$f was not made, or is not in SHA256SUMS"
done
(cd "$OUT" && sha256sum -c --quiet SHA256SUMS) || die "SHA256SUMS does not match"
step "done: ${#want[@]} artefacts in $OUT"
(cd "$OUT" && ls -l "${want[@]}" SHA256SUMS) >&2
