#!/usr/bin/env bash
# Builds bpf-native-loader: vmlinux.h (from the running kernel's BTF), the CO-RE
# BPF object, its skeleton, and the Node-API addon (node-gyp).
# Run by `npm ci` (the package's install script) and by `npm run build`.
# Missing tools -> ONE line naming them and the Debian packages, exit 1.
# CONNTRAIL_SKIP_BPF_BUILD=1 skips the build (machines that never capture).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

if [[ "${CONNTRAIL_SKIP_BPF_BUILD:-}" == "1" ]]; then
  echo "bpf-native-loader: CONNTRAIL_SKIP_BPF_BUILD=1, not building (capture will be unavailable)"
  exit 0
fi

missing=()
pkgs=()
need() { # need <what> <debian package> <test...>
  local what="$1" pkg="$2"; shift 2
  if ! "$@" >/dev/null 2>&1; then missing+=("$what"); pkgs+=("$pkg"); fi
}
CLANG="${CLANG:-clang}"
BPFTOOL="${BPFTOOL:-bpftool}"
need clang clang command -v "$CLANG"
need bpftool bpftool command -v "$BPFTOOL"
need pkg-config pkg-config command -v pkg-config
need "libbpf headers" libbpf-dev pkg-config --exists libbpf
need "libelf headers" libelf-dev pkg-config --exists libelf
need "zlib headers" zlib1g-dev pkg-config --exists zlib
need "C compiler (cc)" build-essential command -v cc
need make make command -v make
need python3 python3 command -v python3
if (( ${#missing[@]} )); then
  echo "bpf-native-loader: cannot build, missing ${missing[*]}: install with 'apt-get install ${pkgs[*]}' (or set CONNTRAIL_SKIP_BPF_BUILD=1 to skip)" >&2
  exit 1
fi
BTF="${CONNTRAIL_VMLINUX_BTF:-/sys/kernel/btf/vmlinux}"
if [[ ! -r "$BTF" ]]; then
  echo "bpf-native-loader: cannot build, kernel BTF $BTF is not readable (needs CONFIG_DEBUG_INFO_BTF; or set CONNTRAIL_VMLINUX_BTF to a BTF file)" >&2
  exit 1
fi

out="$here/.output"
mkdir -p "$out"
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac

# vmlinux.h: only rewritten when the BTF changed, so rebuilds stay incremental
"$BPFTOOL" btf dump file "$BTF" format c > "$out/vmlinux.h.new"
if cmp -s "$out/vmlinux.h.new" "$out/vmlinux.h"; then rm "$out/vmlinux.h.new"; else mv "$out/vmlinux.h.new" "$out/vmlinux.h"; fi

# maps.bpf.c (the map definitions) must come first: the linker resolves the
# other files' extern maps against it
objs=()
for src in src/maps.bpf.c $(ls src/*.bpf.c | grep -v '^src/maps.bpf.c$'); do
  obj="$out/$(basename "${src%.c}").o"
  "$CLANG" -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_"$arch" \
    -I"$out" -Isrc $(pkg-config --cflags libbpf) -c "$src" -o "$obj"
  objs+=("$obj")
done
"$BPFTOOL" gen object "$out/conntrail.bpf.o" "${objs[@]}"
"$BPFTOOL" gen skeleton "$out/conntrail.bpf.o" name conntrail_bpf > "$out/conntrail.skel.h"

# the connect() generator of the capture tests and the benchmarks (bench/lib/gen.ts runs it)
cc -O2 -Wall -o "$out/connect-flood" tools/connect-flood.c
# the TOCTOU test's connect() under an address rewritten by another thread
cc -O2 -Wall -pthread -o "$out/toctou-connect" tools/toctou-connect.c

# node-gyp: npm passes the one it bundles in npm_config_node_gyp; else the workspace's
if [[ -n "${npm_config_node_gyp:-}" && -f "${npm_config_node_gyp}" ]]; then
  gyp=(node "$npm_config_node_gyp")
elif [[ -x "$here/node_modules/.bin/node-gyp" ]]; then
  gyp=("$here/node_modules/.bin/node-gyp")
elif [[ -x "$here/../node_modules/.bin/node-gyp" ]]; then
  gyp=("$here/../node_modules/.bin/node-gyp")
else
  gyp=(npm exec --yes -- node-gyp)
fi
gyp_args=(rebuild --silent)
# Build against headers on this machine (Node-API is ABI-stable): never download.
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node_api.h ]]; then
  gyp_args+=(--nodedir=/usr)
fi
"${gyp[@]}" "${gyp_args[@]}"
echo "bpf-native-loader: built $(basename "$out")/conntrail.bpf.o and build/Release/bpf_native_loader.node"
