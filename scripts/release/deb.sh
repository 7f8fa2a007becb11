#!/usr/bin/env bash
# Debian packages of strongswan_exporter, built with dpkg-deb alone (no debhelper):
#
#   scripts/release/deb.sh all [OUTDIR]
#       OUTDIR/strongswan-exporter_VERSION_all.deb: the compiled program with its production
#       node_modules, run by Debian's nodejs (Depends: nodejs >= the engines.node of package.json).
#   scripts/release/deb.sh amd64|arm64 EXECUTABLE [OUTDIR]
#       OUTDIR/strongswan-exporter_VERSION_ARCH.deb: the same package carrying EXECUTABLE, the single
#       executable with Node.js built in, for releases whose nodejs is too old (Debian 12).
#
# OUTDIR defaults to release/. VERSION is package.json's version with the Debian revision
# DEB_REVISION (default 1) appended: the packaging can then be fixed and rebuilt without a new
# release of the program, and a later revision upgrades an earlier one. Both packages have the same
# name (a system has exactly one of them) and the same files around the program: units, sysusers
# file, conffile, maintainer scripts (deploy/debian), documentation.
#
# Every build starts from the tracked and new files of this checkout (no node_modules, no dist), runs
# `npm ci` and `npm run build` there, and installs the production dependencies with
# `npm ci --omit=dev` in a directory of their own, so nothing of the developer's tree leaks in.
# DEB_BUILD_FROM=DIR takes that build from DIR instead (OUTDIR/build/deb-all of a deb.sh run of this
# checkout: release.sh builds once for its three packages).
# Needs: node and npm (for the build, not on the target), dpkg-deb, git, and for the arch packages
# readelf (binutils). DEB_MAINTAINER overrides the Maintainer field (default: HEAD's author).
# shellcheck disable=SC2015 # [ a ] && [ b ] || die: die when either test fails
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf 'deb: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() { die "usage: scripts/release/deb.sh all [OUTDIR] | scripts/release/deb.sh amd64|arm64 EXECUTABLE [OUTDIR]"; }

PKG=strongswan-exporter
BIN=strongswan_exporter
PREFIX=/usr/lib/$PKG

ARCH=${1:-}
EXECUTABLE=
case "$ARCH" in
all) OUTDIR=${2:-release} ;;
amd64 | arm64)
	[ -n "${2:-}" ] || usage
	EXECUTABLE=$(realpath -e -- "$2" 2>/dev/null) || die "no such executable: $2"
	OUTDIR=${3:-release}
	;;
*) usage ;;
esac
[ $# -le 3 ] || usage

for tool in node npm dpkg-deb git gzip; do
	command -v "$tool" >/dev/null || die "needs $tool"
done
mkdir -p "$OUTDIR"
OUTDIR=$(realpath "$OUTDIR")
WORK=$OUTDIR/build/deb-$ARCH
ROOT=$WORK/root

UPSTREAM_VERSION=$(node -p 'require("./package.json").version')
[[ "$UPSTREAM_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([.~+][0-9A-Za-z.]+)?$ ]] ||
	die "package.json's version '$UPSTREAM_VERSION' is not one Debian can use as is"
REVISION=${DEB_REVISION:-1}
[[ "$REVISION" =~ ^[0-9A-Za-z.+~]+$ ]] || die "DEB_REVISION '$REVISION' is not a Debian revision"
VERSION=$UPSTREAM_VERSION-$REVISION
DEB=$OUTDIR/${PKG}_${VERSION}_$ARCH.deb
MAINTAINER=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>')}
[[ "$MAINTAINER" =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>\ ]+\>$ ]] || die "Maintainer '$MAINTAINER' is not 'Name <address>'"
# One date for the changelog, the man page and every file's mtime: the same commit gives the same
# package (reproducible builds' SOURCE_DATE_EPOCH).
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH=$EPOCH

# The executable for an arch package: an ELF file of that architecture. DEB_STANDIN=1 lets a script
# stand in for it, for trying the packaging before the real executable exists; never for a release.
ELF=
if [ -n "$EXECUTABLE" ]; then
	[ -f "$EXECUTABLE" ] && [ -x "$EXECUTABLE" ] || die "$EXECUTABLE is not an executable file"
	if [ "$(head -c 4 "$EXECUTABLE" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		command -v readelf >/dev/null || die "needs readelf (Debian package binutils) to read $EXECUTABLE"
		ELF=1
		machine=$(LC_ALL=C readelf -h "$EXECUTABLE" | sed -n 's/^ *Machine: *//p')
		case "$ARCH:$machine" in
		amd64:*X86-64* | arm64:AArch64) ;;
		*) die "$EXECUTABLE is built for '$machine', not $ARCH" ;;
		esac
	elif [ "${DEB_STANDIN:-}" != 1 ]; then
		die "$EXECUTABLE is not an ELF executable (DEB_STANDIN=1 accepts a stand-in for local trials)"
	else
		log "warning: $EXECUTABLE is a stand-in, not the single executable: for local trials only"
	fi
fi

# ---------------------------------------------------------------- build from a clean tree

rm -rf -- "$WORK"
mkdir -p "$ROOT"
BUILD=$WORK
if [ -n "${DEB_BUILD_FROM:-}" ]; then
	BUILD=${DEB_BUILD_FROM%/}
	[ -f "$BUILD/src/dist/src/cli/main.js" ] && [ -d "$BUILD/prod/node_modules" ] ||
		die "DEB_BUILD_FROM=$BUILD holds no build of deb.sh (src/dist and prod/node_modules)"
	log "taking the build and the production dependencies from $BUILD"
else
	mkdir -p "$BUILD/src" "$BUILD/prod"
	log "copying the checkout (tracked and new files) to $BUILD/src"
	git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$BUILD/src"
	log "npm ci && npm run build"
	(cd "$BUILD/src" && npm ci --ignore-scripts --no-audit --no-fund >&2 && npm run --silent build >&2) ||
		die "the build failed (see above)"
fi
MAIN=$BUILD/src/dist/src/cli/main.js
[ -f "$MAIN" ] || die "the build made no dist/src/cli/main.js"

# The node flags and environment the program runs with are those of main.ts's shebang, e.g.
# `#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16 --expose-gc`:
# read from there, so that the packages' launcher cannot drift from it.
shebang=$(head -n 1 "$MAIN")
[[ "$shebang" == '#!/usr/bin/env -S '* ]] || die "main.js's first line is not '#!/usr/bin/env -S ...': $shebang"
read -ra words <<<"${shebang#'#!/usr/bin/env -S '}"
ENV_ASSIGN=()
NODE_FLAGS=()
seen_node=
for w in "${words[@]}"; do
	# only plain tokens: they are written into a shell script unquoted
	[[ "$w" =~ ^[A-Za-z0-9_.=/:+,-]+$ ]] || die "unexpected word '$w' in main.js's shebang"
	if [ -z "$seen_node" ]; then
		if [[ "$w" =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]]; then
			ENV_ASSIGN+=("$w")
		elif [ "$w" = node ]; then
			seen_node=1
		else
			die "main.js's shebang runs '$w', not node"
		fi
	else
		[[ "$w" == --* ]] || die "unexpected node argument '$w' in main.js's shebang"
		NODE_FLAGS+=("$w")
	fi
done
[ -n "$seen_node" ] || die "main.js's shebang does not run node"

# Both packages carry the production dependencies: as files, or inside the single executable (whose
# copyright file lists them from here).
[ -n "${DEB_BUILD_FROM:-}" ] || {
	log "npm ci --omit=dev (production dependencies only)"
	cp package.json package-lock.json "$BUILD/prod/"
	# --ignore-scripts: no dependency has install scripts (all are plain JavaScript, hence
	# Architecture: all), and the package's own prepare (tsc) is a devDependency's.
	(cd "$BUILD/prod" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >&2) ||
		die "npm ci --omit=dev failed (see above)"
	for dev in $(node -p 'Object.keys(require("./package.json").devDependencies ?? {}).join(" ")'); do
		[ ! -e "$BUILD/prod/node_modules/$dev" ] || die "devDependency $dev is in the production node_modules"
	done
	if find "$BUILD/prod/node_modules" -name '*.node' -o -name binding.gyp | grep -q .; then
		die "a production dependency has native code: it cannot go into an Architecture: all package"
	fi
}

# ---------------------------------------------------------------- the package's tree

install -d "$ROOT/DEBIAN" "$ROOT$PREFIX" "$ROOT/usr/bin" "$ROOT/usr/lib/systemd/system" \
	"$ROOT/usr/lib/sysusers.d" "$ROOT/etc/default" "$ROOT/usr/share/doc/$PKG" "$ROOT/usr/share/man/man1"

if [ "$ARCH" = all ]; then
	cp package.json "$ROOT$PREFIX/"
	# dist/src without the tests and source maps, as the npm package's "files" has it
	(cd "$BUILD/src/dist" && find src -type f -name '*.js' ! -name '*.test.js' -print0 |
		tar --null -T - -cf -) | tar -xf - -C "$ROOT$PREFIX" --one-top-level=dist
	cp -a "$BUILD/prod/node_modules" "$ROOT$PREFIX/"
	# What runs nothing at run time: the dependencies' tests, benchmarks, examples, CI files, type
	# declarations, source maps, docs, their command-line tools ("bin" of their package.json), and
	# their license files, whose copyright lines and terms the package's copyright file carries
	# (Debian Policy 12.5: that file is where they go).
	nm=$ROOT$PREFIX/node_modules
	rm -rf "$nm/.package-lock.json" "$nm/.bin"
	(cd "$nm" && find . -mindepth 2 -maxdepth 3 -name package.json -printf '%h\0' | xargs -0 -r node -e '
		const fs = require("node:fs"), path = require("node:path");
		for (const dir of process.argv.slice(1)) {
			const bin = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).bin ?? {};
			for (const f of typeof bin === "string" ? [bin] : Object.values(bin)) fs.rmSync(path.join(dir, f), { force: true });
		}')
	find "$nm" -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name benchmarks \
		-o -name benchmark -o -name bench -o -name example -o -name examples -o -name docs -o -name '.?*' \) \
		-exec rm -rf {} +
	find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
		-o -name '*.md' -o -name '*.markdown' -o -name '*.html' -o -name '.?*' -o -name '*.sh' \
		-o -name 'tsconfig*.json' -o -iname 'licen[cs]e*' -o -iname 'copying*' \) -delete
	find "$nm" -depth -type d -empty -delete
	# The shebang of main.js is read above and is the launcher's now: as the first line of a file that
	# is not run directly it would only mislead. A comment keeps the line numbers of stack traces.
	sed -i '1s|^#!.*|// started by /usr/bin/strongswan_exporter, with the flags this line had as its shebang|' \
		"$ROOT$PREFIX/dist/src/cli/main.js"
	# The launcher: Debian's node (not whichever is first on PATH), with main.ts's flags.
	{
		echo '#!/bin/sh'
		echo '# strongswan_exporter on Debian'"'"'s Node.js, with the flags and environment of its own shebang.'
		for e in "${ENV_ASSIGN[@]}"; do echo "export $e"; done
		echo "exec /usr/bin/node ${NODE_FLAGS[*]} $PREFIX/dist/src/cli/main.js \"\$@\""
	} >"$ROOT/usr/bin/$BIN"
else
	install -m 0755 "$EXECUTABLE" "$ROOT$PREFIX/$BIN"
	# Node's flags cannot be given on the command line of a single executable (its arguments are all
	# the program's), so they go into NODE_OPTIONS, before the caller's own so that those win; glibc
	# reads MALLOC_MMAP_THRESHOLD_ only at start-up, so the environment is its only way in as well.
	{
		echo '#!/bin/sh'
		echo '# strongswan_exporter as a single executable, with the flags and environment of its shebang.'
		for e in "${ENV_ASSIGN[@]}"; do echo "export $e"; done
		[ "${#NODE_FLAGS[@]}" -eq 0 ] ||
			echo "export NODE_OPTIONS=\"${NODE_FLAGS[*]}\${NODE_OPTIONS:+ \$NODE_OPTIONS}\""
		echo "exec $PREFIX/$BIN \"\$@\""
	} >"$ROOT/usr/bin/$BIN"
fi

D=deploy/systemd
cp "$D/strongswan_exporter.service" "$D/strongswan_exporter.socket" "$ROOT/usr/lib/systemd/system/"
grep -q "^ExecStart=/usr/bin/$BIN " "$ROOT/usr/lib/systemd/system/strongswan_exporter.service" ||
	die "$D/strongswan_exporter.service does not run /usr/bin/$BIN"
cp "$D/strongswan_exporter.sysusers" "$ROOT/usr/lib/sysusers.d/strongswan_exporter.conf"
cp "$D/strongswan_exporter.default" "$ROOT/etc/default/strongswan_exporter"
DOC=$ROOT/usr/share/doc/$PKG
cp deploy/debian/README.Debian "$D/strongswan-vici-group.conf" "$DOC/"
for s in postinst prerm postrm; do cp "deploy/debian/$s" "$ROOT/DEBIAN/$s"; done
[ ! -f deploy/debian/lintian-overrides ] || {
	install -d "$ROOT/usr/share/lintian/overrides"
	# Each package without the overrides about what it does not have (lintian would call them
	# unused): the arch packages have no node_modules, the _all package no executable of its own.
	awk -v RS= -v ORS='\n\n' -v arch="$ARCH" -v exe="[${PREFIX#/}/$BIN]" \
		'arch == "all" ? !index($0, exe) : !/node_modules/' deploy/debian/lintian-overrides |
		sed '$d' >"$ROOT/usr/share/lintian/overrides/$PKG"
}

# copyright: this program and every bundled npm package with its license
copyright_args=("$BUILD/prod/node_modules" "$PREFIX")
[ "$ARCH" = all ] || copyright_args+=("$PREFIX/$BIN")
node "$BUILD/src/dist/scripts/release/deb-copyright.js" "${copyright_args[@]}" >"$DOC/copyright" ||
	die "could not write the copyright file (see above)"

DATE=$(LC_ALL=C date -u -R -d "@$EPOCH")
{
	echo "$PKG ($VERSION) unstable; urgency=medium"
	echo
	echo "  * strongswan_exporter $UPSTREAM_VERSION, packaged with scripts/release/deb.sh."
	echo
	echo " -- $MAINTAINER  $DATE"
} | gzip -9n >"$DOC/changelog.Debian.gz"

# The man page is the program's --help, so that it says what this version does.
HELP=$(node "$MAIN" --help) || die "$MAIN --help failed"
{
	echo ".TH STRONGSWAN_EXPORTER 1 \"$(date -u -d "@$EPOCH" +%Y-%m-%d)\" \"strongswan_exporter $UPSTREAM_VERSION\" \"User Commands\""
	echo '.SH NAME'
	echo 'strongswan_exporter \- Prometheus exporter for the strongSwan IPsec daemon (charon)'
	echo '.SH DESCRIPTION'
	echo 'The output of'
	echo '.BR "strongswan_exporter \-\-help" :'
	echo '.PP'
	echo '.nf'
	# roff: backslashes escaped, a line starting with . or ' kept as text
	sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/-/\\-/g' <<<"$HELP"
	echo '.fi'
	echo '.SH FILES'
	echo '.TP'
	echo '.I /etc/default/strongswan_exporter'
	echo 'ARGS="..." for strongswan_exporter.service.'
	echo '.TP'
	echo '.I /var/lib/strongswan_exporter'
	echo "The service's state directory: the events collector's counters."
	echo '.SH SEE ALSO'
	echo '.IR /usr/share/doc/strongswan-exporter/README.Debian ,'
	echo '.BR swanctl (8)'
} | gzip -9n >"$ROOT/usr/share/man/man1/$BIN.1.gz"

# ---------------------------------------------------------------- control data

if [ "$ARCH" = all ]; then
	engines=$(node -p 'require("./package.json").engines?.node ?? ""')
	[[ "$engines" =~ ^\>=\ *([0-9]+\.[0-9]+(\.[0-9]+)?)$ ]] ||
		die "package.json's engines.node '$engines' is not '>=X.Y.Z'"
	DEPENDS="nodejs (>= ${BASH_REMATCH[1]}), adduser"
else
	DEPENDS="adduser"
	if [ -n "$ELF" ]; then
		# The shared libraries the executable links, as Debian packages (dpkg-shlibdeps would need a
		# source package around it): glibc at the newest symbol version it uses.
		glibc=$(LC_ALL=C readelf -W -V "$EXECUTABLE" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
		libs=()
		for so in $(LC_ALL=C readelf -d "$EXECUTABLE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case "$so" in
			libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | ld-linux*) libs+=("libc6${glibc:+ (>= $glibc)}") ;;
			libstdc++.so.6) libs+=("libstdc++6") ;;
			libgcc_s.so.1) libs+=("libgcc-s1") ;;
			*) die "$EXECUTABLE links $so: add its Debian package to deb.sh" ;;
			esac
		done
		[ "${#libs[@]}" -eq 0 ] || DEPENDS="$(printf '%s\n' "${libs[@]}" | sort -u | paste -sd, | sed 's/,/, /g'), $DEPENDS"
	fi
fi

# Modes: directories and the launcher 0755, the rest 0644 (the bundled packages' own executable bits
# are for their command-line tools, which nothing here runs); the single executable stays 0755.
find "$ROOT" -type d -exec chmod 0755 {} +
find "$ROOT" -type f ! -path "$ROOT/DEBIAN/*" -exec chmod 0644 {} +
chmod 0755 "$ROOT/usr/bin/$BIN" "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/prerm" "$ROOT/DEBIAN/postrm"
[ -z "$EXECUTABLE" ] || chmod 0755 "$ROOT$PREFIX/$BIN"

echo /etc/default/strongswan_exporter >"$ROOT/DEBIAN/conffiles"
SIZE=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
DESCRIPTION=$(node -p 'require("./package.json").description')
cat >"$ROOT/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $SIZE
Depends: $DEPENDS
Suggests: strongswan-charon | charon-systemd
Section: net
Priority: optional
Description: Prometheus exporter for the strongSwan IPsec daemon
$(fold -s -w 72 <<<"$DESCRIPTION. It serves the state of connections, IKE and CHILD SAs, traffic, certificates, pools and the daemon's counters on :9814 for Prometheus, and counts events from a subscription." | sed 's/ *$//; s/^/ /')
 .
 The service runs as the unprivileged user strongswan-exporter in the group
 strongswan-vici, which is to own charon's VICI socket (see README.Debian).
EOF
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$ROOT/DEBIAN/md5sums"
chmod 0644 "$ROOT/DEBIAN/control" "$ROOT/DEBIAN/conffiles" "$ROOT/DEBIAN/md5sums"
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +

rm -f "$DEB"
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$DEB" >&2 || die "dpkg-deb failed (see above)"
log "$DEB ($(du -k "$DEB" | cut -f1) KiB, installed $SIZE KiB)"
printf '%s\n' "$DEB"
