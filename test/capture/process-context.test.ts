// Process context: /proc parsing (stat, cgroup container ids) and the cache
// keyed by pid + start time, on a fake /proc tree and on this process.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessContextCache, entityIdOf, parseCmdline, parseContainerId, parseProcStat } from '../../producer/source/process-context.ts';
import { Collector, FLOOD, captureTest, refusedPort, run } from './support.ts';

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
  t.deepEqual(parseProcStat(`1234 (a b) c)) ${rest}`), { comm: 'a b) c)', ppid: 4321, startTicks: 987654n });
  t.is(parseProcStat('garbage'), null);
  t.is(parseProcStat('1 (x) S'), null);
  const self = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
  t.is(self?.ppid, process.ppid);
});

function fakeProc(): { root: string; add(pid: number, ppid: number, startTicks: number, cgroup: string, exe?: string, cmdline?: Buffer | string): void; remove(pid: number): void } {
  const root = mkdtempSync(join(tmpdir(), 'conntrail-proc-'));
  return {
    root,
    add(pid, ppid, startTicks, cgroup, exe, cmdline) {
      const dir = join(root, String(pid));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'stat'), `${pid} (proc ${pid}) S ${ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${startTicks} 0 0`);
      writeFileSync(join(dir, 'cgroup'), cgroup);
      if (exe) symlinkSync(exe, join(dir, 'exe'));
      if (cmdline !== undefined) writeFileSync(join(dir, 'cmdline'), cmdline);
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
  const cache = new ProcessContextCache({ procRoot: proc.root, bootId: 'boot' });
  const start = 500 * 10_000_000 + 1234; // ns; ticks are 10 ms
  const full = cache.get(100, start, 1);
  const unknownLineage = { parentComm: null, parentExe: null, ancestors: null };
  t.deepEqual(full, {
    pid: 100, ppid: 1, comm: 'proc 100', exe: '/usr/bin/curl', containerId: ID, containerRuntime: 'docker', args: null,
    entityId: entityIdOf('boot', 100, 500), ...unknownLineage, exited: false,
  });
  proc.remove(100);
  t.is(cache.get(100, start, 1), full, 'cached: /proc is not read again');
  t.is(cache.stats().hits, 1);
  // same pid, a later process (pid reuse) that is gone as well
  const gone = cache.get(100, 900 * 10_000_000, 7);
  t.deepEqual(gone, {
    pid: 100, ppid: 7, comm: null, exe: null, containerId: null, containerRuntime: null, args: null,
    entityId: entityIdOf('boot', 100, 900), ...unknownLineage, exited: true,
  }, 'the entity id comes from the kernel\'s start time: known after the exit');
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
  const adapted = cache.contextFn(100, 0);
  t.deepEqual([adapted.ppid, adapted.exe, adapted.containerId], [2, '/bin/sh', null]);
});

test('an exec record describes the image that connected: /proc is used while it still runs that image, the record once the process has exec\'d again', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  const cache = new ProcessContextCache({ procRoot: proc.root, bootId: 'boot' });
  const exec = (pid: number, comm: string, filename: string, argv: string[]): void => {
    const args = Buffer.from(argv.join('\0') + '\0');
    cache.noteExec({ kind: 'exec', ktimeNs: 1, pid, ppid: 1, procStartNs: 700 * 10_000_000, uid: 0, gid: 0, comm, filename, args, argsSize: args.length });
  };
  // `bash -c '...; sleep 5'`: bash connected, then exec'd sleep before the first lookup
  proc.add(300, 1, 700, `0::/system.slice/docker-${ID}.scope\n`, '/usr/bin/sleep', 'sleep\x005\x00');
  exec(300, 'bash', '/usr/bin/bash', ['bash', '-c', 'echo; sleep 5']);
  const bash = cache.get(300, 700 * 10_000_000, 1);
  t.is(bash.exe, '/usr/bin/bash', "the exec record's path, not the later image's");
  t.deepEqual(bash.args?.args, ['bash', '-c', 'echo; sleep 5']);
  t.is(bash.comm, 'bash');
  t.is(bash.containerId, ID, '/proc still gives the container');
  t.false(bash.exited);
  t.is(cache.stats().fromExec, 1);
  // the same image still running: /proc's view (the resolved executable)
  proc.add(301, 1, 700, '0::/\n', '/usr/bin/python3.13', 'python3\x00-c\x00pass\x00');
  exec(301, 'proc 301', '/usr/bin/python3', ['python3', '-c', 'pass']);
  const py = cache.get(301, 700 * 10_000_000, 1);
  t.is(py.exe, '/usr/bin/python3.13');
  t.deepEqual(py.args?.args, ['python3', '-c', 'pass']);
  t.is(cache.stats().fromExec, 1, 'nothing came from the record');
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
  // each new process also looks its parent up: pid 1, not in this fake tree (not stored, found gone)
  t.deepEqual(cache.stats(), { hits: 3, misses: 4, exited: 2, fromExec: 0, evictions: 0, size: 2 });
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

test('argv: bounded by count and bytes, whole arguments first, the first one cut at a character boundary, invalid UTF-8 replaced', (t) => {
  const nul = (...a: string[]): Buffer => Buffer.from(a.join('\0') + '\0');
  t.deepEqual(parseCmdline(nul('curl', '-s', 'https://x/'), 64, 2048), { args: ['curl', '-s', 'https://x/'], count: 3, truncated: false, commandLine: 'curl -s https://x/' });
  t.deepEqual(parseCmdline(nul('a', 'b', 'c', 'd'), 2, 2048), { args: ['a', 'b'], count: 4, truncated: true, commandLine: 'a b' });
  t.deepEqual(parseCmdline(nul('aaaa', 'bbbb', 'cccc'), 64, 10), { args: ['aaaa', 'bbbb'], count: 3, truncated: true, commandLine: 'aaaa bbbb' });
  // one argument longer than the bound: cut, not split inside "é" (2 bytes)
  const cut = parseCmdline(nul('x'.repeat(5) + 'é'.repeat(10)), 64, 8);
  t.deepEqual(cut?.args, ['xxxxxé']);
  t.true(cut?.truncated);
  t.is(Buffer.byteLength(cut!.args[0]!), 7);
  t.deepEqual(parseCmdline(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0]), 64, 2048)?.args, ['a\ufffd\ufffdb'], 'invalid UTF-8 as U+FFFD');
  t.deepEqual(parseCmdline(Buffer.from('no-nul-end'), 64, 2048)?.args, ['no-nul-end'], 'a process that rewrote its argv');
  t.deepEqual(parseCmdline(nul('', 'x'), 64, 2048)?.args, ['', 'x'], 'empty arguments are arguments');
  t.is(parseCmdline(Buffer.alloc(0), 64, 2048), null, 'kernel thread or zombie: nothing');
  t.deepEqual(parseCmdline(Buffer.from('a'.repeat(200_000) + '\0'), 64, 2048)?.args[0]?.length, 2048, 'a huge argv is cut to the bound');
});

test('lineage: the parent\'s name and executable and the ancestors above it, from their own cached contexts; a loop or a missing parent ends it', (t) => {
  const proc = fakeProc();
  t.teardown(() => rmSync(proc.root, { recursive: true, force: true }));
  proc.add(1, 0, 1, '0::/\n', '/usr/lib/systemd/systemd', 'systemd\0');
  proc.add(50, 1, 2, '0::/\n', '/usr/sbin/sshd', 'sshd\0');
  proc.add(60, 50, 3, '0::/\n', '/usr/bin/bash', 'bash\0');
  proc.add(70, 60, 4, '0::/\n', '/usr/bin/curl', 'curl\0-s\0https://x/\0');
  const cache = new ProcessContextCache({ procRoot: proc.root, bootId: 'b' });
  const c = cache.get(70, 4 * 10_000_000);
  t.is(c.parentComm, 'proc 60');
  t.is(c.parentExe, '/usr/bin/bash');
  t.deepEqual(c.ancestors, ['/usr/sbin/sshd', '/usr/lib/systemd/systemd']);
  t.deepEqual(c.args?.args, ['curl', '-s', 'https://x/']);
  // a sibling reads none of its ancestors again
  proc.add(71, 60, 5, '0::/\n', '/usr/bin/wget', 'wget\0');
  const misses = cache.stats().misses;
  cache.get(71, 5 * 10_000_000);
  t.is(cache.stats().misses, misses + 1, 'only the new process was read');
  // bounded ancestors
  const short = new ProcessContextCache({ procRoot: proc.root, maxAncestors: 1 });
  t.deepEqual(short.get(70, 4 * 10_000_000).ancestors, ['/usr/sbin/sshd']);
  // a parent gone from /proc: no parent, no ancestors (the kernel's ppid stays)
  proc.add(80, 999, 6, '0::/\n', '/bin/orphan');
  const orphan = cache.get(80, 6 * 10_000_000);
  t.deepEqual([orphan.ppid, orphan.parentComm, orphan.parentExe, orphan.ancestors], [999, null, null, null]);
  // a loop made by pid reuse between reads ends (90 -> 91 -> 90)
  proc.add(90, 91, 7, '0::/\n', '/bin/a');
  proc.add(91, 90, 8, '0::/\n', '/bin/b');
  const looped = cache.get(90, 7 * 10_000_000);
  t.is(looped.parentExe, '/bin/b');
  t.deepEqual(looped.ancestors, []);
  // an exited process keeps what the kernel knew: its parent is still looked up
  const exited = cache.get(72, 9 * 10_000_000, 60);
  t.true(exited.exited);
  t.is(exited.args, null);
  t.is(exited.parentExe, '/usr/bin/bash');
  t.not(exited.entityId, null);
});

test('entity ids differ by boot, pid and start time, and are stable', (t) => {
  const id = entityIdOf('boot-a', 100, 500);
  t.is(id, entityIdOf('boot-a', 100, 500));
  t.regex(id, /^[A-Za-z0-9_-]{22}$/);
  t.not(id, entityIdOf('boot-b', 100, 500));
  t.not(id, entityIdOf('boot-a', 101, 500));
  t.not(id, entityIdOf('boot-a', 100, 501));
});

// A process that connects and exits before the capture is drained: /proc has it no longer at
// its first lookup, and its path, argv and parent come from its exec record (sched_process_exec).
for (const captureExec of [true, false]) {
  await captureTest(`a process gone before its first lookup: ${captureExec ? 'path, argv and parent from its exec record' : 'without the exec probe, none'}`, async (t) => {
    const closed = await refusedPort();
    const c = new Collector({ paused: true, captureExec });
    t.teardown(() => c.stop());
    t.is(c.source.exec.attached, captureExec, c.source.exec.reason ?? '');
    const r = await run(FLOOD, ['-a', '127.0.0.1', '-p', String(closed)]);
    t.is(r.code, 0, r.stderr);
    c.source.resume(); // only now: the process has exited
    const ev = await c.waitFor('its connect', () => c.connects((e) => e.pid === r.pid).at(0));
    const ctx = ev.context!;
    t.true(ctx.exited, '/proc no longer had the process');
    if (captureExec) {
      t.is(ctx.exe, FLOOD);
      t.deepEqual(ctx.args?.args, [FLOOD, '-a', '127.0.0.1', '-p', String(closed)]);
      t.false(ctx.args?.truncated);
      t.is(ctx.ppid, process.pid);
      t.is(ctx.parentComm, readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
      t.is(ctx.parentExe, process.execPath);
      t.truthy(ctx.entityId);
      t.true(c.source.processContext!.stats().fromExec >= 1);
    } else {
      t.is(ctx.exe, null);
      t.is(ctx.args, null);
    }
  });
}
