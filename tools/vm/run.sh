#!/usr/bin/env bash
# Boots a Debian kernel (tools/vm/kernels.conf) under qemu with the host's own
# userspace (its / over 9p, read-only, under a tmpfs overlay: the guest can
# write anywhere, the writes vanish) and runs ONE command in it as root, in the
# caller's working directory; streams its stdout/stderr; exits with its code.
#   bash tools/vm/run.sh --kernel NAME [--lsm bpf|default|nobpf] [--env KEY=VALUE]...
#        [--share DIR]... [--timeout SECONDS] [--mem 4G] [--smp N] [--init systemd] [--net]
#        [--verbose] -- COMMAND [ARGS...]
# --lsm bpf (default): lsm=lockdown,capability,landlock,yama,bpf; default: the
#   kernel's built-in list; nobpf: the bpf list without bpf.
# --share DIR: DIR read-write at the same path inside (results written back).
# --timeout: the whole run, boot included (default 3600; 0: none).
# --init systemd: boot the host's systemd as PID 1 (ctvm.target: basic.target
#   and the command as a service), for tests of the packaged unit.
# --net: a virtio NIC on qemu's user network: the host's loopback is 10.0.2.2.
# --verbose: the kernel console on stderr (full log level) and the boot time.
# Exit: COMMAND's code; 124 timeout; 125 the VM failed (boot never reached the
# command, kernel panic, qemu error), with the last console lines.
# Environment: CONNTRAIL_VM_ACCEL=kvm (default tcg), CONNTRAIL_VM_CACHE,
# CONNTRAIL_VM_BOOT_TIMEOUT (seconds to reach the command, default 180),
# CONNTRAIL_VM_BOOT_TRIES (boots tried before the command starts, default 3).
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VM_DIE_CODE=125 # the harness's own failures (arguments, fetch, qemu) exit 125

usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

kernel= lsm=bpf timeout=3600 mem=${CONNTRAIL_VM_MEM:-4G} smp=${CONNTRAIL_VM_SMP:-2}
verbose=${CONNTRAIL_VM_VERBOSE:-}
init= net=
envs=() shares=()
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a name}; shift 2 ;;
    --lsm) lsm=${2:?--lsm needs bpf, default or nobpf}; shift 2 ;;
    --env)
      [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env needs KEY=VALUE, got '${2:-}'"
      envs+=("$2"); shift 2 ;;
    --share)
      [ -d "${2:-}" ] || die "--share needs an existing directory, got '${2:-}'"
      shares+=("$(cd "$2" && pwd -P)"); shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --mem) mem=${2:?--mem needs a size}; shift 2 ;;
    --smp) smp=${2:?--smp needs a count}; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --init)
      [ "${2:-}" = systemd ] || die "--init takes systemd, got '${2:-}'"
      init=systemd; shift 2 ;;
    --net) net=1; shift ;;
    --) shift; break ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see the top of $0)" ;;
    *) break ;;
  esac
done
[ -n "$kernel" ] || die "--kernel NAME is required (one of: $(vm_kernel_names | tr '\n' ' '))"
[ $# -gt 0 ] || die "no command given (… -- COMMAND [ARGS...])"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout needs whole seconds, got '$timeout'"
boot_timeout=${CONNTRAIL_VM_BOOT_TIMEOUT:-180}
case $lsm in
  bpf) lsm_arg=" lsm=lockdown,capability,landlock,yama,bpf" ;;
  nobpf) lsm_arg=" lsm=lockdown,capability,landlock,yama" ;;
  default) lsm_arg= ;;
  *) die "--lsm takes bpf, default or nobpf, got '$lsm'" ;;
esac
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"

vm_kernel_fetch "$kernel"
vm_kernel_lookup "$kernel"
release=$(cat "$K_DIR/release")
moddir=$(vm_moddir)
boot_image=$K_DIR/vmlinux
[ -f "$boot_image" ] || boot_image=$K_DIR/vmlinuz

run=$(mktemp -d "${TMPDIR:-/tmp}/conntrail-vm.XXXXXX") || die "cannot create a run directory"
qpid= tails=()
cleanup() {
  local p
  [ -z "$qpid" ] || kill -KILL "$qpid" 2>/dev/null || true
  for p in "${tails[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
trap 'echo "conntrail-vm: $kernel: interrupted" >&2; exit 130' INT
trap 'echo "conntrail-vm: $kernel: terminated" >&2; exit 143' TERM

# The guest's side: guest-init.sh (PID 1 after the initramfs) and its config.
cp "$VM_DIR/guest-init.sh" "$run/guest-init.sh"
: >"$run/stdout"
: >"$run/stderr"
{
  printf 'CTVM_CWD=%q\n' "$PWD"
  printf 'CTVM_ENV=('
  printf ' %q' PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root \
    LOGNAME=root SHELL=/bin/bash "CONNTRAIL_VM=$kernel" ${envs[@]+"${envs[@]}"}
  printf ' )\nCTVM_CMD=('
  printf ' %q' "$@"
  printf ' )\nCTVM_SHARES=('
  for s in ${shares[@]+"${shares[@]}"}; do printf ' %q' "$s"; done
  printf ' )\n'
  printf 'CTVM_INIT=%q CTVM_NET=%q\n' "$init" "$net"
  printf 'CTVM_NOFILE_SOFT=%q CTVM_NOFILE_HARD=%q CTVM_MEMLOCK=%q\n' "$(ulimit -Sn)" "$(ulimit -Hn)" "$(ulimit -l)"
} >"$run/config.sh"
for s in ${shares[@]+"${shares[@]}"}; do
  [[ $s != *$'\n'* ]] || die "--share: a path with a newline is not supported"
  echo "$s"
done >"$run/shares"

if [ "${CONNTRAIL_VM_ACCEL:-tcg}" = kvm ]; then
  accel=(-accel kvm -cpu host)
else
  accel=(-accel tcg,thread=multi -cpu max)
fi
# loglevel=5: the console (a file, shown on failure) gets warnings and worse,
# so a WARN/BUG/Oops during the run is reported even when the command passes.
if [ -n "$verbose" ]; then loglevel="loglevel=7"; else loglevel="loglevel=5"; fi
loglevel=${CONNTRAIL_VM_LOGLEVEL:-$loglevel}
# tsc=reliable: under TCG the TSC is the host's monotonic clock, but 5.10 and
# 6.1 distrust it on a 2-CPU AMD-vendor guest and fall back to the HPET, each
# read an emulated MMIO access (bpf_ktime_get_ns too). cryptomgr.notests: the
# boot-time crypto self-tests cost 0.5 s under TCG.
kargs="tsc=reliable cryptomgr.notests"
# --net: eth0 keeps its name (guest-init.sh configures it before udev could rename it)
[ -z "$net" ] || kargs+=" net.ifnames=0"
p9=(security_model=none)
qesc() { printf '%s' "${1//,/,,}"; } # a comma in a qemu option value is doubled
# q35: 0.4-0.9 s faster to boot than the default i440fx (measured, all three).
qemu=(qemu-system-x86_64 -M q35 -nodefaults -no-user-config -display none -monitor none -no-reboot
  "${accel[@]}" -smp "$smp" -m "$mem"
  -kernel "$boot_image" -initrd "$K_DIR/initramfs.cpio"
  -append "console=ttyS0 $loglevel panic=-1 rdinit=/init$lsm_arg $kargs${CONNTRAIL_VM_APPEND:+ $CONNTRAIL_VM_APPEND}"
  -serial "file:$run/console.log"
  -fsdev "local,id=root,path=/,readonly=on,multidevs=remap,${p9[*]}" -device virtio-9p-pci,fsdev=root,mount_tag=root
  -fsdev "local,id=run,path=$(qesc "$run"),${p9[*]}" -device virtio-9p-pci,fsdev=run,mount_tag=ctvm_run
  -fsdev "local,id=modules,path=$(qesc "$moddir"),readonly=on,${p9[*]}" -device virtio-9p-pci,fsdev=modules,mount_tag=modules)
if [ -n "$net" ]; then qemu+=(-nic user,model=virtio-net-pci); else qemu+=(-nic none); fi
for i in "${!shares[@]}"; do
  qemu+=(-fsdev "local,id=share$i,path=$(qesc "${shares[$i]}"),multidevs=remap,${p9[*]}" -device "virtio-9p-pci,fsdev=share$i,mount_tag=share$i")
done

# shellcheck disable=SC2206 # extra qemu arguments (experiments), split on spaces
qemu+=(${CONNTRAIL_VM_QEMU_ARGS:-})

# Failure: say which kernel, keep the console log, show its last lines.
vm_report() { # MESSAGE [WHAT NEXT]
  local logs="$VM_CACHE/logs" log
  mkdir -p "$logs" && find "$logs" -name '*.log' -mtime +7 -delete 2>/dev/null || true
  log="$logs/$kernel-$(date +%Y%m%dT%H%M%S)-$$-$try.console.log"
  { cat "$run/console.log" 2>/dev/null; echo "--- qemu (exit $qrc):"; cat "$run/qemu.log"; } >"$log" 2>/dev/null || log="(not kept)"
  local panic
  panic=$(grep -m1 -o 'Kernel panic.*' "$run/console.log" 2>/dev/null || true)
  echo "conntrail-vm: $kernel ($release): $1${panic:+ ($panic)}${2:+; $2}; console log: $log; its last lines:" >&2
  { grep -hv '^\s*$' "$run/console.log" "$run/qemu.log" 2>/dev/null || echo '(none)'; } | tail -n 15 | sed 's/^/  | /' >&2 || true
}
vm_fail() { vm_report "$2"; exit "$1"; } # CODE MESSAGE

# A boot that fails before the command starts is tried again (nothing of the
# command has run): under multi-threaded TCG a 2-CPU guest now and then takes
# an int3 Oops while the kernel patches its own text at boot (seen once in ~50
# boots of 6.12, in sched_clock_cpu), which is qemu's, not the code under test.
boot_tries=${CONNTRAIL_VM_BOOT_TRIES:-3}
[[ $boot_tries =~ ^[1-9][0-9]*$ ]] || die "CONNTRAIL_VM_BOOT_TRIES needs a count >= 1, got '$boot_tries'"
elapsed() { echo $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000000 )); }
check_started() {
  if [ -z "$started" ] && [ -s "$run/started" ]; then
    started=$EPOCHREALTIME
    [ -z "$verbose" ] || printf 'conntrail-vm: %s: command started %.1f s after qemu started (guest uptime %s s)\n' \
      "$kernel" "$(( (${started/./} - ${t0/./}) / 1000 ))e-3" "$(cat "$run/started")" >&2
  fi
}
try=1
while :; do
  t0=$EPOCHREALTIME
  "${qemu[@]}" </dev/null >"$run/qemu.log" 2>&1 &
  qpid=$!
  tail -c +1 -s 0.2 -f --pid="$qpid" "$run/stdout" &
  tails+=($!)
  tail -c +1 -s 0.2 -f --pid="$qpid" "$run/stderr" >&2 &
  tails+=($!)
  if [ -n "$verbose" ]; then
    : >>"$run/console.log"
    tail -c +1 -s 0.2 -f --pid="$qpid" "$run/console.log" >&2 &
    tails+=($!)
  fi
  killed= started=
  while kill -0 "$qpid" 2>/dev/null; do
    check_started
    if [ "$timeout" -gt 0 ] && [ "$(elapsed)" -ge "$timeout" ]; then killed=timeout; break; fi
    if [ -z "$started" ] && [ "$(elapsed)" -ge "$boot_timeout" ]; then killed=boot; break; fi
    sleep 0.2
  done
  if [ -n "$killed" ]; then
    kill -TERM "$qpid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$qpid" 2>/dev/null || true
  fi
  qrc=0
  wait "$qpid" 2>/dev/null || qrc=$? # (no "Aborted" job notice: qrc says it)
  check_started
  [ -z "$verbose" ] || printf 'conntrail-vm: %s: qemu exited %.1f s after it started\n' "$kernel" "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))e-3" >&2
  qpid=
  for p in "${tails[@]}"; do wait "$p" 2>/dev/null || true; done
  tails=()
  if [ "$killed" = timeout ] || [ -n "$started" ] || [ -f "$run/rc" ]; then break; fi
  if [ "$killed" = boot ]; then why="the boot did not reach the command in ${boot_timeout} s"
  else why="the VM stopped before reaching the command (qemu exit $qrc)"; fi
  [ "$try" -lt "$boot_tries" ] || break
  vm_report "$why" "booting again (try $((try + 1)) of $boot_tries)"
  : >"$run/console.log"; : >"$run/qemu.log"; rm -f "$run/started"
  try=$((try + 1))
done

case $killed in
  timeout) vm_fail 124 "timed out after ${timeout} s$([ -n "$started" ] || echo ' (the command never started)')" ;;
  boot) vm_fail 125 "the boot did not reach the command in ${boot_timeout} s" ;;
esac
if [ ! -f "$run/rc" ]; then
  if [ -n "$started" ]; then
    vm_fail 125 "the VM stopped while the command ran (qemu exit $qrc)"
  else
    vm_fail 125 "the VM stopped before reaching the command (qemu exit $qrc)"
  fi
fi
if grep -qE 'Kernel panic|BUG: |Oops|general protection fault|WARNING: CPU' "$run/console.log" 2>/dev/null; then
  echo "conntrail-vm: $kernel: the kernel logged a BUG/WARNING/Oops during the run:" >&2
  grep -E -A3 'Kernel panic|BUG: |Oops|general protection fault|WARNING: CPU' "$run/console.log" | head -n 20 | sed 's/^/  | /' >&2
fi
exit "$(cat "$run/rc")"
