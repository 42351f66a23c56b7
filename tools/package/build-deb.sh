#!/usr/bin/env bash
# Builds dist/conntrail_<version>_amd64.deb (npm run package): the app with its
# production dependencies, the built addon and its own Node.js 24 runtime under
# /opt/conntrail, /usr/bin/conntrail, the conffile /etc/conntrail/conntrail.jsonc
# and the hardened unit (packaging/deb/). Needs a built tree (npm ci).
#   bash tools/package/build-deb.sh [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
src=$PWD
out=$src/dist
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    *) echo "build-deb: unknown argument $1 (usage: build-deb.sh [--out DIR])" >&2; exit 2 ;;
  esac
done
die() { echo "build-deb: $*" >&2; exit 1; }

node_bin=$src/node_modules/node/bin/node
addon=$src/bpf/build/Release/bpf_native_loader.node
[ -x "$node_bin" ] || die "no Node.js runtime at $node_bin: run npm ci first"
[ -f "$addon" ] || die "the addon is not built ($addon): run npm ci (or npm run build)"
for t in dpkg-deb strip npm; do command -v $t >/dev/null || die "$t is missing"; done
version=$("$node_bin" -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || die "only amd64 is built (this machine is $arch)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/conntrail-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
opt=$root/opt/conntrail
mkdir -p "$opt/bpf/build/Release" "$opt/node/bin" "$root/usr/bin" "$root/etc/conntrail" \
  "$root/lib/systemd/system" "$root/usr/share/doc/conntrail" "$root/DEBIAN"

# The app: what `conntrail run` loads, and the lock file its dependencies come from.
# As JavaScript: tsc strips the types once here, so that the service does not
# load Node's TypeScript stripper at every start (~18 MiB of RSS, measured).
cp -r package.json package-lock.json patches schemas "$opt/"
mkdir -p "$opt/config" && cp -r config/default.json config/examples "$opt/config/"
cp bpf/package.json "$opt/bpf/"
"$src/node_modules/.bin/tsc" -p tools/package/tsconfig.json --outDir "$opt" || die "tsc (the app to JavaScript) failed"
sed -i 's#"main": "lib/index.ts"#"main": "lib/index.js"#' "$opt/bpf/package.json"
grep -q '"main": "lib/index.js"' "$opt/bpf/package.json" || die "bpf/package.json: main is not lib/index.ts"
cp "$addon" "$opt/bpf/build/Release/"
# Production dependencies only, exactly as locked; no install scripts (the addon is
# built already), then the kafkajs patch that postinstall applies in a checkout.
(cd "$opt" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) ||
  die "npm ci --omit=dev failed"
(cd "$opt" && "$src/node_modules/.bin/patch-package" >/dev/null) || die "patch-package failed"
rm -rf "$opt/patches" "$opt/node_modules/.package-lock.json"
cp "$node_bin" "$opt/node/bin/node"
strip --strip-debug "$opt/node/bin/node"

install -m 0755 packaging/deb/conntrail.sh "$root/usr/bin/conntrail"
install -m 0644 packaging/deb/conntrail.jsonc "$root/etc/conntrail/conntrail.jsonc"
install -m 0644 packaging/deb/conntrail.service "$root/lib/systemd/system/conntrail.service"
install -m 0644 packaging/deb/conntrail-bpffs.service "$root/lib/systemd/system/conntrail-bpffs.service"
install -m 0644 README.md "$root/usr/share/doc/conntrail/README.md"
for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$root/DEBIAN/$s"; done
echo /etc/conntrail/conntrail.jsonc >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: conntrail
Version: $version
Architecture: $arch
Maintainer: conntrail developers <conntrail@users.noreply.github.com>
Installed-Size: $size
Depends: libc6 (>= 2.31), libstdc++6, libbpf1 (>= 1:1.1), libelf1, zlib1g, adduser
Section: net
Priority: optional
Homepage: https://github.com/conntrail/conntrail
Description: every outbound connect() on a Linux host, with its DNS names, to Kafka
 conntrail watches every connect() with eBPF, labels each destination with the
 DNS names that resolved to it on the host, and publishes one NetTCPConnect
 record per connection attempt to Kafka (Avro with a schema registry, or ECS
 JSON) for Splunk or Elastic. Runs as a hardened systemd service.
CONTROL
mkdir -p "$out"
deb=$out/conntrail_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "$deb"
