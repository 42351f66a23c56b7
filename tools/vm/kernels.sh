#!/usr/bin/env bash
# The kernels the VM harness boots (tools/vm/kernels.conf).
#   bash tools/vm/kernels.sh fetch [NAME...]   download + prepare (default: all)
#   bash tools/vm/kernels.sh list              names, packages, cached or not
# Cache: ${CONNTRAIL_VM_CACHE:-/var/cache/conntrail/vm}/<name>/ (vmlinux,
# vmlinuz, initramfs.cpio, the unpacked package with its modules). A kernel
# already prepared costs no network.
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  fetch)
    names=("$@")
    [ ${#names[@]} -gt 0 ] || mapfile -t names < <(vm_kernel_names)
    for n in "${names[@]}"; do vm_kernel_lookup "$n"; done # unknown names fail before any download
    for n in "${names[@]}"; do
      vm_kernel_fetch "$n"
      echo "$n: $(cat "$K_DIR/unpacked") $(cat "$K_DIR/release") $K_DIR"
    done
    ;;
  list)
    echo "cache: $VM_CACHE"
    while read -r n; do
      vm_kernel_lookup "$n"
      if vm_kernel_ready; then
        state="cached ($(cut -d' ' -f2 "$K_DIR/unpacked"), $(cat "$K_DIR/release"), $([ -f "$K_DIR/vmlinux" ] && echo pvh-vmlinux || echo bzimage))"
      elif [ -f "$K_DIR/unpacked" ]; then
        state="downloaded, not prepared (fetch rebuilds it offline)"
      else
        state="not cached"
      fi
      printf '%-6s %-34s %s\n' "$n" "$K_PACKAGE" "$state"
    done < <(vm_kernel_names)
    ;;
  *) usage ;;
esac
