# PID 1 inside the conntrail VM after switch_root (bash from the host's
# userspace; the initramfs has mounted everything). run.sh copies this file
# into the per-run directory, which the guest sees at /run/conntrail-vm with
# config.sh (cwd, environment, command, limits) next to it. Runs the command
# with its stdout/stderr appended to the run directory's stdout/stderr files
# (the host streams them), writes its exit code to rc, powers off. Only bash
# builtins until the command (every exec of a host binary costs 9p round
# trips under TCG). Never exits: PID 1.
# shellcheck shell=bash
R=/run/conntrail-vm
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

exec </dev/null >/dev/console 2>&1
# shellcheck source=/dev/null
source "$R/config.sh" || echo "conntrail-vm guest: reading $R/config.sh failed" >>"$R/stderr"
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
echo o >/proc/sysrq-trigger
sleep 30 # the power-off is under way (PID 1 must not exit)
[ -x /bin/busybox ] && /bin/busybox poweroff -f
exit 125 # PID 1 exiting panics the kernel: panic=-1 and -no-reboot end qemu
