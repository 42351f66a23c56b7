#!/usr/bin/env bash
# Extracts the uncompressed vmlinux (an ELF) from a bzImage, like the kernel's
# scripts/extract-vmlinux: find each compressed payload's magic, decompress from
# there, keep the first result that is an ELF.
#   bash tools/vm/extract-vmlinux.sh BZIMAGE OUT
# Exit 0 with OUT written, or 1 (OUT absent) when no payload decompresses to an ELF.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: extract-vmlinux.sh BZIMAGE OUT" >&2
  exit 2
fi
img=$1 out=$2
[ -r "$img" ] || { echo "extract-vmlinux: cannot read $img" >&2; exit 1; }
tmp=$(mktemp "${out}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

is_elf() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; }

# magic (grep -P byte pattern) and the decompressor reading stdin
try() {
  local magic=$1; shift
  command -v "$1" >/dev/null || return 1
  local off
  for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1); do
    # Trailing data after the payload makes the decompressor complain: ignore
    # its status, judge the output.
    tail -c +"$((off + 1))" "$img" | "$@" >"$tmp" 2>/dev/null || true
    if [ -s "$tmp" ] && is_elf "$tmp"; then
      mv "$tmp" "$out"
      return 0
    fi
  done
  return 1
}

try '\x28\xb5\x2f\xfd' zstd -dcq ||
  try '\xfd\x37\x7a\x58\x5a\x00' xz -dc ||
  try '\x1f\x8b\x08' gzip -dc ||
  try '\x02\x21\x4c\x18' lz4 -dc ||
  try '\x5d\x00\x00\x00' unlzma -c ||
  try 'BZh' bzip2 -dc ||
  { echo "extract-vmlinux: no compressed ELF payload found in $img" >&2; exit 1; }
