# Shared by kernels.sh and run.sh (sourced, not run): the kernel table, the
# cache, and preparing a kernel (download, unpack, vmlinux, initramfs).
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${CONNTRAIL_VM_CACHE:-/var/cache/conntrail/vm}
# Modules the initramfs loads (with their dependencies, from modules.dep) to
# mount the host's root over 9p under an overlay. Built-in ones are skipped.
VM_INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

die() { echo "conntrail-vm: $*" >&2; exit "${VM_DIE_CODE:-1}"; }
note() { [ -n "${VM_QUIET:-}" ] || echo "conntrail-vm: $*" >&2; }

# The names in kernels.conf, in order.
vm_kernel_names() {
  awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$VM_DIR/kernels.conf"
}

# vm_kernel_lookup NAME: sets K_NAME, K_SUITES (comma-separated), K_PACKAGE, K_DIR.
vm_kernel_lookup() {
  local line
  line=$(awk -v n="$1" '!/^[[:space:]]*(#|$)/ && $1 == n { print $2, $3; exit }' "$VM_DIR/kernels.conf")
  [ -n "$line" ] || die "unknown kernel '$1' (known: $(vm_kernel_names | tr '\n' ' '); see $VM_DIR/kernels.conf)"
  K_NAME=$1
  K_SUITES=${line%% *}
  K_PACKAGE=${line#* }
  K_DIR=$VM_CACHE/$1
}

# Hash of everything that shapes the prepared files (vmlinux, initramfs): when
# one of these changes, the next fetch rebuilds them from the unpacked package.
vm_prep_hash() {
  cat "$VM_DIR/lib.sh" "$VM_DIR/extract-vmlinux.sh" "$VM_DIR/initramfs-init" | sha256sum | cut -c1-16
}

vm_kernel_ready() { # NAME (after vm_kernel_lookup)
  [ -f "$K_DIR/ready" ] && [ "$(cat "$K_DIR/ready")" = "$K_PACKAGE $(vm_prep_hash)" ]
}

# The Debian mirror the machine uses (first deb.debian.org-style URI in its
# sources lists), else deb.debian.org. CONNTRAIL_VM_MIRROR and
# CONNTRAIL_VM_SECURITY_MIRROR override.
vm_mirrors() {
  local uris
  uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?|file)://[^ ]+' | sed 's:/*$::' || true)
  MIRROR=${CONNTRAIL_VM_MIRROR:-$(grep -E '/debian$' <<<"$uris" | head -n1 || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SECURITY_MIRROR=${CONNTRAIL_VM_SECURITY_MIRROR:-$(grep -E '/debian-security$' <<<"$uris" | head -n1 || true)}
  SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
}

# Step 1 (network): download the package with a private apt configuration
# (the system's sources and lists are not touched), unpack it, depmod.
vm_download_unpack() {
  local apt="$K_DIR/apt" keyring=/usr/share/keyrings/debian-archive-keyring.gpg suite
  command -v apt-get >/dev/null || die "$K_NAME: apt-get is needed to download $K_PACKAGE"
  command -v dpkg-deb >/dev/null || die "$K_NAME: dpkg-deb is needed to unpack $K_PACKAGE"
  [ -r "$keyring" ] || die "$K_NAME: $keyring is missing (apt-get install debian-archive-keyring)"
  vm_mirrors
  rm -rf "$apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb"
  for suite in ${K_SUITES//,/ }; do
    case $suite in
      *-security) echo "deb [signed-by=$keyring] $SECURITY_MIRROR $suite main" ;;
      *) echo "deb [signed-by=$keyring] $MIRROR $suite main" ;;
    esac
  done >"$apt/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root
    -o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false)
  note "$K_NAME: apt-get update ($(tr '\n' ' ' <"$apt/sources.list" | sed 's/\[[^]]*\] //g'))"
  apt-get "${opts[@]}" -qq update >"$apt/update.log" 2>&1 ||
    { tail -n 5 "$apt/update.log" >&2; die "$K_NAME: apt-get update failed (log: $apt/update.log)"; }
  if ! (cd "$apt/deb" && apt-get "${opts[@]}" -qq download "$K_PACKAGE") >"$apt/download.log" 2>&1; then
    tail -n 5 "$apt/download.log" >&2
    echo "conntrail-vm: $K_NAME: the archive offers these instead:" >&2
    apt-cache "${opts[@]}" search --names-only "^${K_PACKAGE%%.[0-9]*-*}" 2>/dev/null | grep -E -- '-[0-9]+(\+[a-z0-9]+)?-amd64 ' | sort -V | tail -n 5 >&2 || true
    die "$K_NAME: apt-get download $K_PACKAGE failed: pick another package in $VM_DIR/kernels.conf"
  fi
  local deb
  deb=$(ls "$apt/deb"/*.deb)
  note "$K_NAME: unpacking $(basename "$deb")"
  rm -rf "$K_DIR/root" "$K_DIR/root.new"
  dpkg-deb -x "$deb" "$K_DIR/root.new" || die "$K_NAME: dpkg-deb -x $deb failed"
  mv "$K_DIR/root.new" "$K_DIR/root"
  local moddir release
  moddir=$(vm_moddir) || die "$K_NAME: no lib/modules/<release> in $deb"
  release=$(basename "$moddir")
  # The package ships no modules.dep (its postinst runs depmod): make one, with
  # busybox's depmod when kmod's is not installed.
  note "$K_NAME: depmod $release"
  local base="$K_DIR/depmod-base"
  rm -rf "$base"; mkdir -p "$base/lib/modules"; ln -s "$moddir" "$base/lib/modules/$release"
  if command -v depmod >/dev/null; then
    depmod -b "$base" "$release"
  else
    "$(vm_busybox)" depmod -b "$base" "$release"
  fi || die "$K_NAME: depmod for $release failed"
  rm -rf "$base"
  [ -s "$moddir/modules.dep" ] || die "$K_NAME: depmod wrote no $moddir/modules.dep"
  echo "$K_PACKAGE $(dpkg-deb -f "$deb" Version)" >"$K_DIR/unpacked"
  rm -rf "$apt/deb" "$apt/cache" "$apt/lists"
}

vm_moddir() { # the unpacked lib/modules/<release> directory
  local d
  for d in "$K_DIR"/root/lib/modules/* "$K_DIR"/root/usr/lib/modules/*; do
    [ -d "$d/kernel" ] && { echo "$d"; return 0; }
  done
  return 1
}

vm_busybox() { # a static busybox (the initramfs has no libc)
  local b
  for b in /bin/busybox /usr/bin/busybox "$(command -v busybox || true)"; do
    [ -x "$b" ] || continue
    if ! readelf -l "$b" 2>/dev/null | grep -q 'interpreter'; then echo "$b"; return 0; fi
  done
  die "a static busybox is needed (apt-get install busybox-static)"
}

# Step 2 (local): vmlinux for PVH boot, the initramfs.
vm_prepare() {
  local moddir release
  moddir=$(vm_moddir) || die "$K_NAME: unpacked package has no modules"
  release=$(basename "$moddir")
  local bz
  bz=$(ls "$K_DIR/root/boot/vmlinuz-"* 2>/dev/null | head -n1)
  [ -n "$bz" ] || die "$K_NAME: no boot/vmlinuz-* in the package"
  cp "$bz" "$K_DIR/vmlinuz.new" && mv "$K_DIR/vmlinuz.new" "$K_DIR/vmlinuz"
  # An uncompressed vmlinux with a PVH entry note boots about 2x faster under
  # TCG (no decompression by emulated code); else run.sh boots the bzImage.
  if bash "$VM_DIR/extract-vmlinux.sh" "$bz" "$K_DIR/vmlinux.new" &&
    readelf -n "$K_DIR/vmlinux.new" 2>/dev/null | grep -q 'Unknown note type: (0x00000012)'; then
    mv "$K_DIR/vmlinux.new" "$K_DIR/vmlinux"
  else
    rm -f "$K_DIR/vmlinux.new" "$K_DIR/vmlinux"
    note "$K_NAME: no PVH vmlinux could be extracted from $(basename "$bz"): booting the bzImage (slower)"
  fi

  # The initramfs: static busybox, /init, the modules for 9p + overlay.
  local st="$K_DIR/initramfs.d"
  rm -rf "$st"
  mkdir -p "$st"/{bin,dev,proc,sys,run,lower,rw,newroot,modules}
  cp "$(vm_busybox)" "$st/bin/busybox"
  cp "$VM_DIR/initramfs-init" "$st/init"
  chmod 755 "$st/init" "$st/bin/busybox"
  if [ "$(id -u)" -eq 0 ]; then mknod -m 600 "$st/dev/console" c 5 1; fi
  # Resolve the module list with its dependencies (depth first: deps load first).
  local -A seen=()
  local order=()
  local dep="$moddir/modules.dep" builtin="$moddir/modules.builtin"
  vm_mod_visit() {
    local name=${1//-/_} line path d
    [ -z "${seen[$name]:-}" ] || return 0
    seen[$name]=1
    line=$(awk -v n="$name" '{ p = $1; sub(":$", "", p); b = p; sub(".*/", "", b); sub("\\.ko.*", "", b); gsub("-", "_", b); if (b == n) { print; exit } }' "$dep")
    if [ -z "$line" ]; then
      # Built in (nothing to load) or missing (error).
      awk '{ b = $1; sub(".*/", "", b); sub("\\.ko.*", "", b); gsub("-", "_", b); print b }' "$builtin" | grep -qx "$name" ||
        die "$K_NAME: module $name is neither in modules.dep nor built in"
      return 0
    fi
    path=${line%%:*}
    for d in ${line#*:}; do
      d=${d##*/}; vm_mod_visit "${d%%.ko*}"
    done
    order+=("$path")
  }
  local m
  for m in "${VM_INITRAMFS_MODULES[@]}"; do vm_mod_visit "$m"; done
  : >"$st/modules/order"
  for m in "${order[@]}"; do
    local base=${m##*/} out
    out="$st/modules/${base%%.ko*}.ko"
    case $m in
      *.ko) cp "$moddir/$m" "$out" ;;
      *.ko.xz) xz -dc "$moddir/$m" >"$out" ;;
      *.ko.zst) zstd -dcq "$moddir/$m" >"$out" ;;
      *.ko.gz) gzip -dc "$moddir/$m" >"$out" ;;
      *) die "$K_NAME: unknown module compression: $m" ;;
    esac || die "$K_NAME: could not decompress $m"
    echo "${base%%.ko*}.ko" >>"$st/modules/order"
  done
  (cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$K_DIR/initramfs.cpio.new" ||
    die "$K_NAME: cpio (building the initramfs) failed"
  mv "$K_DIR/initramfs.cpio.new" "$K_DIR/initramfs.cpio"
  rm -rf "$st"
  echo "$release" >"$K_DIR/release"
  echo "$K_PACKAGE $(vm_prep_hash)" >"$K_DIR/ready"
}

# Download (when needed) and prepare one kernel; fast and offline when ready.
vm_kernel_fetch() { # NAME
  vm_kernel_lookup "$1"
  vm_kernel_ready && return 0
  mkdir -p "$K_DIR" || die "cannot create the cache directory $K_DIR (set CONNTRAIL_VM_CACHE)"
  exec {lock}>"$K_DIR/.lock"
  flock "$lock" # another fetch of the same kernel may be running
  if ! vm_kernel_ready; then
    if [ ! -f "$K_DIR/unpacked" ] || [ "$(cut -d' ' -f1 "$K_DIR/unpacked")" != "$K_PACKAGE" ] || ! vm_moddir >/dev/null; then
      rm -f "$K_DIR/ready"
      vm_download_unpack
    fi
    note "$K_NAME: preparing vmlinux and initramfs"
    vm_prepare
    note "$K_NAME: ready ($(cat "$K_DIR/unpacked"), $(cat "$K_DIR/release")) in $K_DIR"
  fi
  exec {lock}>&-
}
