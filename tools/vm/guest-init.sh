# PID 1 inside the conntrail VM after switch_root (bash from the host's
# userspace; the initramfs has mounted everything). run.sh copies this file
# into the per-run directory, which the guest sees at /run/conntrail-vm with
# config.sh (cwd, environment, command, limits) next to it. Runs the command
# with its stdout/stderr appended to the run directory's stdout/stderr files
# (the host streams them), writes its exit code to rc, powers off. Only bash
# builtins until the command (every exec of a host binary costs 9p round
# trips under TCG). Never exits: PID 1.
# With CTVM_INIT=systemd it hands PID 1 to the host's systemd instead, which
# runs this file again with --command as the one service of ctvm.target.
# shellcheck shell=bash
R=/run/conntrail-vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

exec </dev/null >/dev/console 2>&1
# shellcheck source=/dev/null
source "$R/config.sh" || echo "conntrail-vm guest: reading $R/config.sh failed" >>"$R/stderr"

power_off() {
  echo o >/proc/sysrq-trigger
  sleep 30 # the power-off is under way (PID 1 must not exit)
  [ -x /bin/busybox ] && /bin/busybox poweroff -f
}

run_command() {
  local rc uptime
  ulimit -Hn "$CTVM_NOFILE_HARD" 2>/dev/null
  ulimit -Sn "$CTVM_NOFILE_SOFT" 2>/dev/null
  ulimit -l "$CTVM_MEMLOCK" 2>/dev/null
  read -r uptime _ </proc/uptime
  echo "$uptime" >"$R/started"
  if cd -- "$CTVM_CWD" 2>/dev/null; then
    (
      # The command's environment is exactly CTVM_ENV.
      for v in $(compgen -e); do unset "$v" 2>/dev/null; done
      export "${CTVM_ENV[@]}"
      exec "${CTVM_CMD[@]}"
    ) </dev/null >>"$R/stdout" 2>>"$R/stderr"
    rc=$?
  else
    echo "conntrail-vm guest: the working directory $CTVM_CWD does not exist inside the VM (on a host tmpfs, which 9p does not show? pass --share DIR)" >>"$R/stderr"
    rc=125
  fi
  echo "$rc" >"$R/rc"
  [ ${#CTVM_SHARES[@]} -eq 0 ] || sync # --share directories: cache=mmap pages
  power_off
}

if [ "${1:-}" = --command ]; then # as systemd's ctvm-command.service
  run_command
  exit 125
fi

if [ -n "${CTVM_NET:-}" ]; then
  # qemu's user network: 10.0.2.15 here, the host's loopback at 10.0.2.2
  modprobe virtio_net 2>>"$R/stderr"
  { ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2; } 2>>"$R/stderr" ||
    echo "conntrail-vm guest: configuring eth0 failed" >>"$R/stderr"
fi

if [ "${CTVM_INIT:-}" = systemd ]; then
  # The overlay's /etc: a target with only basic.target and the command; no
  # fstab (the host's devices are not here), no getty on the console.
  mkdir -p /etc/systemd/system
  : >/etc/fstab
  # What a boot does that a test VM does not need, and what costs minutes over
  # 9p under TCG (systemd-tmpfiles-setup walks the host's /tmp and /var).
  for u in systemd-tmpfiles-setup.service systemd-tmpfiles-clean.timer systemd-udev-trigger.service \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-hwdb-update.service \
    ldconfig.service systemd-journal-catalog-update.service systemd-update-done.service systemd-random-seed.service \
    systemd-update-utmp.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-machine-id-commit.service \
    systemd-firstboot.service systemd-sysusers.service e2scrub_reap.service systemd-pstore.service \
    dev-hugepages.mount sys-kernel-config.mount sys-fs-fuse-connections.mount systemd-modules-load.service \
    systemd-remount-fs.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "/etc/systemd/system/$u"
  done
  cat >/etc/systemd/system/ctvm.target <<UNIT
[Unit]
Description=conntrail-vm: run one command
Requires=basic.target ctvm-command.service
After=basic.target
AllowIsolate=yes
UNIT
  cat >/etc/systemd/system/ctvm-command.service <<UNIT
[Unit]
Description=conntrail-vm: the command
After=basic.target
[Service]
Type=oneshot
TimeoutStartSec=infinity
StandardInput=null
StandardOutput=journal+console
ExecStart=/bin/bash $R/guest-init.sh --command
UNIT
  exec /lib/systemd/systemd --unit=ctvm.target --log-level=warning
fi

run_command
exit 125 # PID 1 exiting panics the kernel: panic=-1 and -no-reboot end qemu
