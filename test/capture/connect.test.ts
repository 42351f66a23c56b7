// Connect capture with real sockets, as root: TCP to 127.0.0.1 and ::1
// (listening and refused), IPv4-mapped IPv6, UDP connect, a child process,
// a network namespace, excludes.
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { Collector, FLOOD, captureTest, flood, listener, refusedPort, run, sh } from './support.ts';
import type { ConnectEvent, ConnectOutcomeEvent } from '../../producer/source/types.ts';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** Connects from this process and waits for the outcome (connected or refused). */
async function tcp(host: string, port: number): Promise<'connected' | 'refused'> {
  const s: Socket = tcpConnect(port, host);
  try {
    return await new Promise((resolve) => {
      s.once('connect', () => resolve('connected'));
      s.once('error', () => resolve('refused'));
    });
  } finally {
    s.destroy();
  }
}

await captureTest('TCP connects to 127.0.0.1 and ::1, listening and refused, and IPv4-mapped ::ffff:127.0.0.1', async (t) => {
  // servers closed by their own teardowns: a capture that fails to open must not leave them holding the worker
  const l4 = await listener('127.0.0.1');
  t.teardown(() => l4.close());
  const l6 = await listener('::1');
  t.teardown(() => l6.close());
  const closed4 = await refusedPort('127.0.0.1');
  const closed6 = await refusedPort('::1');
  const c = new Collector();
  t.teardown(() => c.stop());
  const cases: [string, number, 'connected' | 'refused', number, string][] = [
    ['127.0.0.1', l4.port, 'connected', AF_INET, '127.0.0.1'],
    ['127.0.0.1', closed4, 'refused', AF_INET, '127.0.0.1'],
    ['::1', l6.port, 'connected', AF_INET6, '::1'],
    ['::1', closed6, 'refused', AF_INET6, '::1'],
    ['::ffff:127.0.0.1', l4.port, 'connected', AF_INET6, '127.0.0.1'],
  ];
  for (const [host, port, outcome, family, shown] of cases) {
    t.is(await tcp(host, port), outcome, `${host}:${port}`);
    const ev = await c.waitFor(`connect to ${host}:${port}`, () =>
      c.connects((e) => e.pid === process.pid && e.dstPort === port && e.family === family).at(0));
    t.is(ev.dstIP, shown, host);
    t.is(ev.sockType, SOCK_STREAM);
    t.is(ev.protocol, 6);
    t.is(ev.transport, 'tcp');
    t.is(ev.tid, process.pid, 'node connects on its main thread');
    t.is(ev.uid, 0);
    t.is(ev.gid, 0);
    t.is(ev.ppid, process.ppid);
    t.true(ev.netnsCookie > 0, 'netns cookie');
    t.true(ev.cgroupId > 0, 'cgroup id');
    t.false(ev.toctou);
    t.is(ev.exe, process.execPath);
    t.truthy(ev.probe);
    if (ev.probe === 'cgroup') t.true(ev.socketCookieValid && ev.socketCookie > 0, 'cgroup hook gives the socket cookie');
    // the event time is now, on the wall clock
    const ms = Math.floor(ev.timestampUs / 1000);
    t.true(Math.abs(ms - Date.now()) < 5000, `timestamp ${new Date(ms).toISOString()}`);
  }
});

await captureTest('UDP connect() is captured and marked as UDP, not as a TCP connect', async (t) => {
  const c = new Collector();
  t.teardown(() => c.stop());
  const port = await refusedPort();
  for (const [type, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
    const u = createSocket(type);
    u.connect(port, host);
    await once(u, 'connect');
    u.close();
    const ev = await c.waitFor(`udp connect ${host}`, () =>
      c.connects((e) => e.pid === process.pid && e.dstPort === port && e.dstIP === host).at(0));
    t.is(ev.sockType, SOCK_DGRAM);
    t.is(ev.protocol, 17);
    t.is(ev.transport, 'udp');
  }
  // and the C flood tool's UDP mode from a child
  const r = await flood('127.0.0.1', port, ['-u']);
  const ev = await c.waitFor('udp connect from child', () => c.connects((e) => e.pid === r.pid).at(0));
  t.is(ev.transport, 'udp');
});

await captureTest('a connect from a child process has its pid, ppid, comm and exe', async (t) => {
  const c = new Collector();
  t.teardown(() => c.stop());
  const port = await refusedPort();
  const r = await flood('127.0.0.1', port);
  t.is(r.code, 0, r.stderr);
  const ev = await c.waitFor('child connect', () => c.connects((e) => e.pid === r.pid).at(0));
  t.is(ev.tid, r.pid);
  t.is(ev.ppid, process.pid);
  t.is(ev.comm, 'connect-flood');
  t.is(ev.dstPort, port);
  // the child has exited by now: exe comes from /proc only while it lives, so
  // the context may be partial but never an error
  t.true(ev.exe === FLOOD || ev.exe === null, String(ev.exe));

  // a child still running when its batch is decoded: exe is known
  const alive = spawn(FLOOD, ['-a', '127.0.0.1', '-p', String(port), '-w', '5'], { stdio: 'ignore' });
  t.teardown(() => alive.kill());
  const ev2 = await c.waitFor('live child connect', () => c.connects((e) => e.pid === alive.pid).at(0));
  t.is(ev2.exe, FLOOD);
  t.is(ev2.ppid, process.pid);
  t.is(ev2.containerId, null);
});

await captureTest('a connect inside a network namespace carries that namespace\'s cookie', async (t) => {
  const ns = `conntrail-test-${randomBytes(4).toString('hex')}`;
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => { try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ } });
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  const c = new Collector();
  t.teardown(() => c.stop());
  const port = await refusedPort();
  await tcp('127.0.0.1', port);
  const host = await c.waitFor('host connect', () => c.connects((e) => e.pid === process.pid && e.dstPort === port).at(0));
  const r = await run('ip', ['netns', 'exec', ns, FLOOD, '-a', '127.0.0.1', '-p', String(port)]);
  t.is(r.code, 0, r.stderr);
  const inNs = await c.waitFor('netns connect', () => c.connects((e) => e.comm === 'connect-flood' && e.pid === r.pid).at(0));
  t.not(inNs.netnsCookie, host.netnsCookie);
  t.true(inNs.netnsCookie > 0);
  t.is(inNs.dstIP, '127.0.0.1');
  t.is(inNs.dstPort, port);
});

await captureTest('excludes: own process (default), destination ports and CIDRs are filtered in the kernel', async (t) => {
  const keep = await refusedPort();
  const dropPort = await refusedPort();
  const c = new Collector({ excludeSelf: true, excludePorts: [dropPort], excludeCidrs: ['127.0.0.66/32', '::1/128'] });
  t.teardown(() => c.stop());
  await tcp('127.0.0.1', keep); // own process: excluded
  const child = await flood('127.0.0.1', keep);
  const childPort = await flood('127.0.0.1', dropPort);
  const child4 = await flood('127.0.0.66', keep);
  const child6 = await flood('::1', keep);
  const seen = await c.waitFor('the kept child connect', () => c.connects((e) => e.pid === child.pid).at(0));
  t.is(seen.dstPort, keep);
  await c.source.stop();
  const all = c.connects();
  t.is(all.filter((e) => e.pid === process.pid).length, 0, 'own connects never captured');
  t.is(all.filter((e) => e.pid === childPort.pid).length, 0, 'excluded port');
  t.is(all.filter((e) => e.pid === child4.pid || e.pid === child6.pid).length, 0, 'excluded CIDRs');
  const k = c.source.counters().kernel;
  t.true(k.excludedSelf >= 1, `excludedSelf ${k.excludedSelf}`);
  t.true(k.excludedPort >= 1, `excludedPort ${k.excludedPort}`);
  t.true(k.excludedCidr >= 2, `excludedCidr ${k.excludedCidr}`);
  // their handshake ends (refused) are skipped in the kernel too: no outcome record to orphan
  const outcomes = c.events.filter((e): e is ConnectOutcomeEvent => e.kind === 'outcome' && e.source === 'state');
  t.true(outcomes.some((o) => o.socketCookieValid && o.socketCookie === seen.socketCookie), 'the kept connect\'s outcome came');
  t.is(outcomes.filter((o) => o.dstPort === dropPort).length, 0, 'no outcome for the excluded port');
  t.is(outcomes.filter((o) => o.dstIP === '127.0.0.66' || o.dstIP === '::1').length, 0, 'no outcome for the excluded CIDRs');
  t.true(k.outcomeExcluded >= 3, `outcomeExcluded ${k.outcomeExcluded}`);
});

await captureTest('records reach JS in batches: many records per crossing', async (t) => {
  const c = new Collector({ pollIntervalMs: 20 });
  t.teardown(() => c.stop());
  const port = await refusedPort();
  const r = await flood('127.0.0.1', port, ['-n', '2000']);
  await c.waitFor('2000 connects', () => c.connects((e: ConnectEvent) => e.pid === r.pid).length >= 2000, 5000);
  const n = c.source.counters();
  t.true(n.batches < 200, `${n.batches} batches for >= 2000 records`);
  t.is(n.drops.connectRingFull, 0);
});
