// Process context: /proc parsing (stat, cgroup container ids) and the cache
// keyed by pid + start time, on a fake /proc tree and on this process.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessContextCache, parseContainerId, parseProcStat } from '../../producer/source/process-context.ts';

const ID = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + 'b'.repeat(4);

test('container ids: docker, containerd, cri-o, podman, kubernetes, cgroup v1 and v2', (t) => {
  const cases: [string, string, string | null][] = [
    ['docker cgroupfs (v1)', `12:memory:/docker/${ID}\n11:cpu:/docker/${ID}\n`, 'docker'],
    ['docker systemd scope', `0::/system.slice/docker-${ID}.scope\n`, 'docker'],
    ['containerd under kubepods (systemd)', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_5678.slice/cri-containerd-${ID}.scope\n`, 'containerd'],
    ['cri-o', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crio-${ID}.scope\n`, 'cri-o'],
    ['cri-o cgroupfs', `0::/crio/${ID}\n`, 'cri-o'],
    ['podman (systemd)', `0::/machine.slice/libpod-${ID}.scope/container\n`, 'podman'],
    ['podman (cgroupfs)', `0::/libpod_parent/libpod-${ID}\n`, 'podman'],
    ['kubepods cgroupfs', `4:pids:/kubepods/besteffort/pod0c8a1f4e-1111-2222-3333-444455556666/${ID}\n`, 'kubernetes'],
  ];
  for (const [name, text, runtime] of cases) {
    t.deepEqual(parseContainerId(text), { id: ID, runtime }, name);
  }
  t.is(parseContainerId('0::/user.slice/user-1000.slice/session-2.scope\n'), null, 'a login session');
  t.is(parseContainerId('0::/\n'), null);
  t.is(parseContainerId(`0::/system.slice/libpod-conmon-${ID}.scope\n`), null, 'conmon is not the container');
  t.is(parseContainerId(`0::/docker/${ID.slice(1)}\n`), null, '63 hex digits');
  t.is(parseContainerId(''), null);
});

test('parseProcStat copes with spaces and parentheses in comm', (t) => {
  const rest = 'S 4321 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615';
  t.deepEqual(parseProcStat(`1234 (a b) c)) ${rest}`), { ppid: 4321, startTicks: 987654n });
  t.is(parseProcStat('garbage'), null);
  t.is(parseProcStat('1 (x) S'), null);
  const self = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
  t.is(self?.ppid, process.ppid);
});

function fakeProc(): { root: string; add(pid: number, ppid: number, startTicks: number, cgroup: string, exe?: string): void; remove(pid: number): void } {
  const root = mkdtempSync(join(tmpdir(), 'conntrail-proc-'));
  return {
    root,
    add(pid, ppid, startTicks, cgroup, exe) {
      const dir = join(root, String(pid));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'stat'), `${pid} (proc ${pid}) S ${ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${startTicks} 0 0`);
      writeFileSync(join(dir, 'cgroup'), cgroup);
      if (exe) symlinkSync(exe, join(dir, 'exe'));
    },
    remove(pid) {
      rmSync(join(root, String(pid)), { recursive: true, force: true });
    },
  };
}

test('the cache is keyed by pid and start time; exited and reused pids give partial context', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  proc.add(100, 1, 500, `0::/system.slice/docker-${ID}.scope\n`, '/usr/bin/curl');
  const cache = new ProcessContextCache({ procRoot: proc.root });
  const start = 500 * 10_000_000 + 1234; // ns; ticks are 10 ms
  const full = cache.get(100, start, 1);
  t.deepEqual(full, { pid: 100, ppid: 1, exe: '/usr/bin/curl', containerId: ID, containerRuntime: 'docker', exited: false });
  proc.remove(100);
  t.is(cache.get(100, start, 1), full, 'cached: /proc is not read again');
  t.is(cache.stats().hits, 1);
  // same pid, a later process (pid reuse) that is gone as well
  const gone = cache.get(100, 900 * 10_000_000, 7);
  t.deepEqual(gone, { pid: 100, ppid: 7, exe: null, containerId: null, containerRuntime: null, exited: true });
  // pid reused by a new process whose start time differs from the record's
  proc.add(100, 2, 950, '0::/\n', '/bin/sh');
  t.true(cache.get(100, 940 * 10_000_000, 0).exited, 'a different process now holds the pid');
  t.deepEqual(cache.get(100, 950n * 10_000_000n, 0).exe, '/bin/sh', 'a bigint start time is accepted too');
  // no exe link (kernel thread or zombie): partial but not exited
  proc.add(200, 2, 10, '0::/\n');
  const noExe = cache.get(200, 10 * 10_000_000);
  t.is(noExe.exe, null);
  t.false(noExe.exited);
  t.is(noExe.ppid, 2);
  // the enricher's adapter
  t.deepEqual(cache.contextFn(100, 0), { ppid: 2, exe: '/bin/sh', containerId: null });
});

test('the cache is bounded (least recently used evicted)', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  const cache = new ProcessContextCache({ procRoot: proc.root, maxEntries: 3 });
  for (let pid = 1; pid <= 5; pid++) {
    proc.add(pid, 1, pid * 10, '0::/\n', `/bin/p${pid}`);
    cache.get(pid, pid * 10 * 10_000_000);
  }
  t.is(cache.stats().size, 3);
  t.is(cache.stats().evictions, 2);
});

test('a reused pid: each process found by its start time, the newest by pid alone; eviction keeps the rest', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  const cache = new ProcessContextCache({ procRoot: proc.root, maxEntries: 3 });
  const ns = (ticks: number): number => ticks * 10_000_000;
  proc.add(7, 1, 100, '0::/\n', '/bin/old');
  t.is(cache.get(7, ns(100)).exe, '/bin/old');
  proc.remove(7);
  proc.add(7, 1, 200, '0::/\n', '/bin/new');
  t.is(cache.get(7, ns(200)).exe, '/bin/new');
  // Both cached: an event of the old process still in the ring finds it.
  t.is(cache.get(7, ns(100) + 9_999_999).exe, '/bin/old');
  t.is(cache.get(7, ns(200)).exe, '/bin/new');
  t.is(cache.getByPid(7).exe, '/bin/new', 'by pid: the newest stored');
  t.deepEqual(cache.stats(), { hits: 3, misses: 2, exited: 0, evictions: 0, size: 2 });
  // Two other processes: the least recently used entry (the old pid 7) goes.
  proc.add(8, 1, 300, '0::/\n', '/bin/p8');
  proc.add(9, 1, 300, '0::/\n', '/bin/p9');
  cache.get(8, ns(300));
  cache.get(9, ns(300));
  t.is(cache.stats().evictions, 1);
  t.is(cache.get(7, ns(200)).exe, '/bin/new', 'kept');
  t.true(cache.get(7, ns(100)).exited, 'evicted: /proc now has the newer process');
});

test('start times above 2^53 ns (104 days of uptime) still match /proc\'s ticks', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  const cache = new ProcessContextCache({ procRoot: proc.root });
  // 231 days: the number is a multiple of 4 ns. The true start is 1 ns before a tick boundary,
  // the nearest number is on it: one tick more than /proc says.
  const ticks = 2_000_000_000;
  const trueNs = BigInt(ticks) * 10_000_000n - 1n;
  proc.add(10, 1, ticks - 1, '0::/\n', '/bin/long');
  const asNumber = Number(trueNs);
  t.true(asNumber > Number.MAX_SAFE_INTEGER);
  t.is(BigInt(asNumber), trueNs + 1n);
  const ctx = cache.get(10, asNumber);
  t.false(ctx.exited);
  t.is(ctx.exe, '/bin/long');
  t.is(cache.get(10, asNumber), ctx, 'cached');
  // A process that started a tick (10 ms) later is another process.
  proc.add(11, 1, ticks + 1, '0::/\n', '/bin/later');
  t.true(cache.get(11, asNumber).exited);
});

test('this process: exe and ppid from /proc', (t) => {
  const cache = new ProcessContextCache();
  const ctx = cache.get(process.pid);
  t.is(ctx.exe, process.execPath);
  t.is(ctx.ppid, process.ppid);
  t.false(ctx.exited);
});
