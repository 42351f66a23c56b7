// Leaving root after the attach (producer/privileges.ts, bpf/native/privileges.c),
// measured per thread in /proc: the main thread keeps bpf + sys_ptrace, every
// other thread leaves root with at most those, and capture still works: the
// consumer thread (made after the drop) reads the kernel's counters, and a root
// process's exe is still read from /proc.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { CAPABILITIES } from 'bpf-native-loader';
import { capabilityNames, threadCredentials } from '../../producer/privileges.ts';
import { captureTest, listener, NODE } from './support.ts';

const FIXTURE = new URL('./fixtures/leave-root.ts', import.meta.url).pathname;
const KEPT = (1n << BigInt(CAPABILITIES.bpf)) | (1n << BigInt(CAPABILITIES.sys_ptrace));

interface Thread { tid: number; name: string; uid: number; gid: number; capEff: string; capPrm: string; capBnd: string; capAmb: string; noNewPrivs: boolean }
interface Result { self: number; parent: number; parentExe?: string | null; batchConnectSeen: number; mainConnectSeen: number; threads: Thread[] }

function expectedUser(): { user: string; uid: number } {
  for (const user of ['conntrail', 'nobody']) {
    try {
      return { user, uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) };
    } catch {
      // no such user
    }
  }
  throw new Error('neither a conntrail nor a nobody user exists');
}

/** The fixture's JSON lines, one per call; throws when it exits first. */
function fixtureReplies(child: { stdout: Readable }): () => Promise<Record<string, unknown>> {
  const out = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return async () => {
    const r = await out.next();
    if (r.done) throw new Error('the fixture exited early');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
}

await captureTest('privileges: after the attach, root is left on every thread, bpf + sys_ptrace kept, capture still works', async (t) => {
  const { user, uid } = expectedUser();
  const server = await listener('127.0.0.1');
  const child = spawn(NODE, [FIXTURE], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const next = fixtureReplies(child);
  const ready = await next() as { ready: boolean; log: string[] };
  t.true(ready.ready);
  t.true(ready.log.some((l) => l.startsWith(`left root after attaching: running as ${user} (uid ${uid})`)), ready.log.join('\n'));

  // This process (root) connects after the drop: its exe must still be readable.
  const connect = async (): Promise<void> => {
    const { connect: tcp } = await import('node:net');
    await new Promise<void>((resolve) => {
      const s = tcp(server.port, '127.0.0.1');
      const done = (): void => { s.destroy(); resolve(); };
      s.once('connect', done);
      s.once('error', done);
    });
  };
  for (let i = 0; i < 10; i++) await connect();
  child.stdin.write(`go ${server.port}\n`);
  const r = await next() as unknown as Result;
  await server.close();

  t.is(r.self, 10, 'its own connects, made after the drop, are captured');
  t.is(r.parent, 10, "a root process's connects are captured");
  t.is(r.parentExe, fs.realpathSync(process.execPath), "a root process's exe is read from /proc (sys_ptrace kept)");
  t.true(r.batchConnectSeen >= 20, `the consumer thread reads the kernel counters (connectSeen ${r.batchConnectSeen})`);
  t.true(r.mainConnectSeen >= 20, `the main thread reads them too (${r.mainConnectSeen})`);

  const threads = r.threads.map((th) => ({ ...th, eff: BigInt(th.capEff), prm: BigInt(th.capPrm), bnd: BigInt(th.capBnd), amb: BigInt(th.capAmb) }));
  const main = threads.find((th) => th.tid === child.pid);
  if (!main) return t.fail('no main thread in /proc');
  t.is(main.eff, KEPT, `main thread CapEff: ${capabilityNames(main.eff).join(',')}`);
  t.is(main.prm, KEPT);
  t.is(main.bnd, KEPT, 'bounding set cut to what is kept');
  t.is(main.amb, 0n);
  t.true(main.noNewPrivs);
  t.true(threads.length > 3, `${threads.length} threads checked`);
  for (const th of threads) {
    t.is(th.uid, uid, `thread ${th.tid} (${th.name}) runs as ${user}`);
    t.not(th.gid, 0, `thread ${th.tid} left group root`);
    t.is(th.eff & ~KEPT, 0n, `thread ${th.tid} (${th.name}) has nothing beyond bpf, sys_ptrace: ${capabilityNames(th.eff).join(',')}`);
    t.is(th.prm & ~KEPT, 0n);
  }
  t.true(threads.some((th) => th.tid !== child.pid && th.eff === KEPT), 'a thread made after the drop (the consumer) holds what the main thread kept');
  t.is(await new Promise((resolve) => child.on('exit', resolve)), 0);
});

await captureTest('privileges: root without setuid/setgid/setpcap (a restricted container) stays as started, says so, and captures', async (t) => {
  // sys_resource: before 5.11 BPF maps are charged to RLIMIT_MEMLOCK, which libbpf raises with it
  const keep = 'bpf,perfmon,net_admin,sys_ptrace,sys_resource';
  const server = await listener('127.0.0.1');
  const child = spawn('setpriv', ['--inh-caps=-all', `--bounding-set=-all,${keep.split(',').map((k) => '+' + k).join(',')}`, '--', NODE, FIXTURE], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(async () => { if (child.exitCode === null) child.kill('SIGKILL'); await server.close().catch(() => {}); });
  const next = fixtureReplies(child);
  const ready = await next() as { ready: boolean; log: string[] };
  t.true(ready.log.some((l) => l.startsWith('started as root without setgid, setuid, setpcap: staying root')), ready.log.join('\n'));
  child.stdin.write(`go ${server.port}\n`);
  const r = await next() as unknown as Result;
  t.is(r.self, 10, 'capture works');
  const main = r.threads.find((th) => th.tid === child.pid);
  t.is(main?.uid, 0);
  // what setpriv could keep: the named ones this (root) test process holds itself
  const own = threadCredentials().find((th) => th.tid === process.pid)?.capEff ?? 0n;
  const expected = keep.split(',').filter((k) => (own & (1n << BigInt(CAPABILITIES[k as keyof typeof CAPABILITIES]))) !== 0n);
  t.deepEqual(capabilityNames(BigInt(main?.capEff ?? '0')).sort(), expected.sort());
});
