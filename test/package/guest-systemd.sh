#!/usr/bin/env bash
# Inside a VM booted with systemd as PID 1 (tools/vm/run.sh --init systemd --net):
# installs the .deb, starts the unit against the host's local stack, checks
# the running service, stops it, upgrades and purges, writing what it saw to
# RESULTS/*.  Usage: guest-systemd.sh DEB TOPIC MARKER_PORT RESULTS
set -uo pipefail
deb=$1 topic=$2 marker=$3 results=$4
node=$PWD/node_modules/.bin/node
log() { echo "guest-systemd: $*" >&2; }
put() { printf '%s\n' "$2" >"$results/$1"; }

"$node" test/package/forward.ts 9092 8081 &
put install-rc "$(dpkg -i "$deb" >"$results/install.log" 2>&1; echo $?)"
put user "$(id conntrail 2>&1)"
put unit-enabled "$(systemctl is-enabled conntrail 2>&1)"
cat >/etc/conntrail/conntrail.jsonc <<CONFIG
// written by the package test (kept across the upgrade below)
{
  "kafka": { "brokers": ["127.0.0.1:9092"], "topic": "$topic", "batch": { "lingerMs": 5 } },
  "registry": { "url": "http://127.0.0.1:8081/apis/ccompat/v7" },
  "log": { "statsIntervalSec": 1 },
  "capture": { "persist": true, "pinPath": "/run/conntrail/bpf/capture" }
}
CONFIG
put config-check "$(conntrail config --config /etc/conntrail/conntrail.jsonc >/dev/null 2>&1; echo $?)"
systemctl start conntrail
ready=
for _ in $(seq 240); do
  if conntrail status --config /etc/conntrail/conntrail.jsonc --json >"$results/status.json" 2>/dev/null; then ready=1; break; fi
  [ "$(systemctl is-active conntrail)" = failed ] && break
  sleep 1
done
put ready "${ready:-no}"
pid=$(systemctl show -p MainPID --value conntrail)
put main-pid "$pid"
cat "/proc/$pid/status" >"$results/proc-status" 2>&1
for t in /proc/"$pid"/task/*; do cat "$t/status"; echo; done >"$results/task-status" 2>&1
# Three connect attempts by root (one bash) to a port nothing listens on: one
# record each. The bash stays a while, so its /proc entry is there when the
# service reads it (a process gone by then has no exe: issue 12's exec capture).
bash -c "for i in 1 2 3; do echo >/dev/tcp/127.0.0.1/$marker; done 2>/dev/null; sleep 6"
systemd-analyze security conntrail.service --no-pager >"$results/security.txt" 2>&1
systemctl stop conntrail
put stop-result "$(systemctl show -p Result --value conntrail) $(systemctl show -p ExecMainStatus --value conntrail)"
# capture.persist: the stopped service's capture stays pinned and catches connects
# made while none runs; the next start adopts it and publishes them
put pinned-after-stop "$(ls /run/conntrail/bpf/capture/tag 2>/dev/null | wc -l)"
bash -c "for i in 1 2 3; do echo >/dev/tcp/127.0.0.1/$((marker + 1)); done 2>/dev/null"
systemctl start conntrail
ready2=
for _ in $(seq 240); do
  if conntrail status --config /etc/conntrail/conntrail.jsonc --json >/dev/null 2>&1; then ready2=1; break; fi
  [ "$(systemctl is-active conntrail)" = failed ] && break
  sleep 1
done
put ready-again "${ready2:-no}"
sleep 3
systemctl stop conntrail
journalctl _SYSTEMD_UNIT=conntrail.service -o cat --no-pager >"$results/journal.txt" 2>&1

# An upgrade (the same package again): the edited conffile stays.
put upgrade-rc "$(dpkg -i "$deb" >"$results/upgrade.log" 2>&1; echo $?)"
put config-kept "$(grep -c 'written by the package test' /etc/conntrail/conntrail.jsonc)"
put purge-rc "$(dpkg --purge conntrail >"$results/purge.log" 2>&1; echo $?)"
put after-purge-pins "$(mountpoint -q /run/conntrail/bpf && echo mounted || echo unmounted) $(bpftool link show 2>/dev/null | grep -c ct_ || true)"
put after-purge "$(ls -d /etc/conntrail /opt/conntrail /lib/systemd/system/conntrail.service /var/lib/conntrail 2>&1 | grep -vc 'No such file'; getent passwd conntrail >/dev/null && echo user-left || echo user-gone)"
log done
