#!/usr/bin/env bash
# Lays out conntrail's runtime tree from a checkout where `npm ci` has run (the
# BPF objects and the addon built, kafkajs patched), as the container image
# ships it:
#
#   <out>/bin/node                 Node 24 (the `node` devDependency's binary)
#   <out>/bin/conntrail            runs <out>/producer/cli.ts with it
#   <out>/package.json, producer/, schemas/
#   <out>/bpf/{package.json,lib/,build/Release/bpf_native_loader.node}
#   <out>/node_modules/            production dependencies only
#
#   deploy/container/assemble.sh <checkout> <out> [--link]
#
# --link hard-links files instead of copying them when <out> is on the
# checkout's filesystem (the test uses it: no space, no time). The checkout is left as it was: the production
# dependencies are chosen in a copy of its node_modules.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: assemble.sh <checkout> <out> [--link]" >&2
  exit 2
fi
src="$(cd "$1" && pwd)"
out="$2"
cp_flags=(-a)
rm -rf "$out"
mkdir -p "$out"
# hard links need one filesystem: else copy
if [[ "${3:-}" == "--link" && "$(stat -c %d "$src")" == "$(stat -c %d "$out")" ]]; then cp_flags=(-al); fi

node_bin="$src/node_modules/node/bin/node"
addon="$src/bpf/build/Release/bpf_native_loader.node"
for f in "$node_bin" "$addon"; do
  [[ -f "$f" ]] || { echo "assemble.sh: $f is missing: run npm ci first" >&2; exit 1; }
done
version="$("$node_bin" --version)"
[[ "$version" == v24.* ]] || { echo "assemble.sh: $node_bin is $version, not Node 24" >&2; exit 1; }

mkdir -p "$out/bin" "$out/bpf/build/Release"
# The files npm writes are always real copies, never links into the checkout.
cp -a "$src/package.json" "$src/package-lock.json" "$out/"
cp "${cp_flags[@]}" "$src/producer" "$src/schemas" "$out/"
cp "${cp_flags[@]}" "$src/bpf/package.json" "$src/bpf/lib" "$out/bpf/"
cp "${cp_flags[@]}" "$addon" "$out/bpf/build/Release/"
cp "${cp_flags[@]}" "$node_bin" "$out/bin/node"
cp "${cp_flags[@]}" "$src/node_modules" "$out/"
rm -f "$out/node_modules/.package-lock.json" # npm writes it anew (as a new file)
# Production dependencies only: npm drops the devDependencies (the Node 24
# package among them, copied above), keeps the patched kafkajs, and leaves the
# workspace link node_modules/bpf-native-loader -> ../bpf (Node strips types
# of bpf/lib/*.ts only outside node_modules, which the link's real path is).
# --link: npm unlinks what it prunes, and every file it writes (package.json,
# package-lock.json, node_modules/.package-lock.json) is this tree's own.
(cd "$out" && PATH="$out/bin:$PATH" npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
[[ -L "$out/node_modules/bpf-native-loader" ]] || { echo "assemble.sh: node_modules/bpf-native-loader is not the workspace link" >&2; exit 1; }
cat > "$out/bin/conntrail" <<'SH'
#!/bin/sh
# conntrail with the Node 24 it ships with.
here="$(dirname "$(readlink -f "$0")")"
# The package's launcher's malloc setting and Node flags (packaging/deb/conntrail.sh says why).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
exec "$here/node" --max-semi-space-size=4 "$here/../producer/cli.ts" "$@"
SH
chmod 0755 "$out/bin/conntrail"
"$out/bin/conntrail" --help >/dev/null
echo "assemble.sh: $out ($version, $(du -sh "$out" | cut -f1))"
