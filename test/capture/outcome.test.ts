// What became of each connect, from the outcome probes (connect_outcome.bpf.c)
// beside whichever rung the ladder picks, with real sockets: accepted (the
// source port the kernel chose), refused (blocking or not: the state probe
// alone speaks), no route (only connect() says it), and a SYN that nothing
// answers (no outcome until the socket is closed).
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Collector, FLOOD, NODE, captureTest, listener, refusedPort, run, sh, sleep } from './support.ts';
import type { ConnectEvent, ConnectOutcomeEvent } from '../../producer/source/types.ts';
import { kernelExpectation } from './kernels.ts';

/** connect exit on every kernel: fexit, or the tracepoint where trampolines are refused (the first test checks which). */
const WITH_CONNECT_EXIT = { connectExitTracepoint: true };
const ECONNREFUSED = 111;
const ENETUNREACH = 101;

function outcomes(c: Collector, pred: (o: ConnectOutcomeEvent) => boolean): ConnectOutcomeEvent[] {
  return c.events.filter((e): e is ConnectOutcomeEvent => e.kind === 'outcome' && pred(e));
}

/** The state outcome of the socket whose connect record is `ev` (by socket cookie). */
function stateOf(c: Collector, ev: ConnectEvent): ConnectOutcomeEvent | undefined {
  return outcomes(c, (o) => o.source === 'state' && o.socketCookieValid && o.socketCookie === ev.socketCookie).at(0);
}

/** A network namespace with lo up, removed at teardown; `setup` runs `ip` commands in it. */
function netns(t: { teardown(fn: () => void): void }, setup: string[][] = []): string {
  const ns = `ct-outcome-${randomBytes(3).toString('hex')}`;
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => { try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ } });
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  for (const args of setup) sh('ip', ['netns', 'exec', ns, 'ip', ...args]);
  return ns;
}

await captureTest('outcome: the state probe attaches beside the rung; connect exit by fexit where trampolines load, else only when the syscall tracepoint is allowed', (t) => {
  const k = kernelExpectation();
  if (typeof k === 'string') return t.fail(k);
  const c = new Collector();
  t.teardown(() => c.stop());
  const { outcome, connectExit } = c.source;
  t.true(outcome.attached, `state: ${outcome.reason ?? ''} ${outcome.log?.slice(-800) ?? ''}`);
  if (k.trampolines) {
    t.true(connectExit.attached, `connect exit: ${connectExit.reason ?? ''} ${connectExit.log?.slice(-800) ?? ''}`);
    t.is(connectExit.program, 'ct_connect_exit_fexit', 'the trampoline, not the tracepoint');
  } else {
    t.false(connectExit.attached, 'the syscall tracepoint is not used unless allowed');
    t.regex(connectExit.reason ?? '', /fexit __sys_connect failed at load.*refuses BPF trampolines/);
    const d = new Collector({ connectExitTracepoint: true });
    t.teardown(() => d.stop());
    t.true(d.source.connectExit.attached, d.source.connectExit.reason ?? '');
    t.is(d.source.connectExit.program, 'ct_outcome_syscall');
  }
});

await captureTest('outcome: an accepted connect is established, with the source address and port the kernel chose', async (t) => {
  const l4 = await listener('127.0.0.1');
  t.teardown(() => l4.close());
  const l6 = await listener('::1');
  t.teardown(() => l6.close());
  const c = new Collector();
  t.teardown(() => c.stop());
  for (const [host, port] of [['127.0.0.1', l4.port], ['::1', l6.port]] as const) {
    const s: Socket = tcpConnect(port, host);
    const localPort = await new Promise<number>((resolve, reject) => {
      s.once('connect', () => resolve(s.localPort!));
      s.once('error', reject);
    });
    s.destroy();
    const ev = await c.waitFor(`connect to ${host}`, () => c.connects((e) => e.pid === process.pid && e.dstPort === port).at(0));
    t.true(ev.socketCookieValid, 'the rung gives the cookie the outcome is joined by');
    const o = await c.waitFor(`outcome of ${host}`, () => stateOf(c, ev));
    t.true(o.established, host);
    t.is(o.errno, 0);
    t.is(o.srcPort, localPort, `${host}: the source port`);
    t.is(o.srcIP, host);
    t.is(o.dstIP, host);
    t.is(o.dstPort, port);
    t.true(o.ktimeNs >= ev.ktimeNs, 'the outcome comes after the connect');
  }
});

await captureTest('outcome: a refused connect closes with ECONNREFUSED, blocking or not, in one outcome record', async (t) => {
  const closed = await refusedPort('127.0.0.1');
  const c = new Collector(WITH_CONNECT_EXIT);
  t.teardown(() => c.stop());
  // non-blocking (node): only the socket's state change says it
  const s: Socket = tcpConnect(closed, '127.0.0.1');
  await new Promise<void>((resolve) => s.once('error', () => resolve()));
  s.destroy();
  const ev = await c.waitFor('node connect', () => c.connects((e) => e.pid === process.pid && e.dstPort === closed).at(0));
  const o = await c.waitFor('its outcome', () => stateOf(c, ev));
  t.false(o.established);
  t.is(o.errno, ECONNREFUSED);
  t.is(o.srcIP, '127.0.0.1');
  t.true(o.srcPort > 0);

  // blocking (connect-flood): connect() returns -ECONNREFUSED too, which the syscall probe leaves to the state probe
  const r = await run(FLOOD, ['-a', '127.0.0.1', '-p', String(closed)]);
  t.is(r.code, 0, r.stderr);
  const fev = await c.waitFor('flood connect', () => c.connects((e) => e.pid === r.pid).at(0));
  const fstate = await c.waitFor('its state outcome', () => stateOf(c, fev));
  t.is(fstate.errno, ECONNREFUSED);
  await sleep(100);
  t.is(outcomes(c, (x) => x.source === 'syscall' && x.pid === r.pid).length, 0, 'one outcome record per connect');
});

await captureTest('outcome: no route: connect() fails at once (ENETUNREACH) and no handshake ends', async (t) => {
  const ns = netns(t);
  const c = new Collector(WITH_CONNECT_EXIT);
  t.teardown(() => c.stop());
  const r = await run('ip', ['netns', 'exec', ns, FLOOD, '-a', '10.9.9.9', '-p', '80']);
  t.is(r.code, 0, r.stderr);
  const pid = Number(/pid=(\d+)/.exec(r.stdout)?.[1]);
  const ev = await c.waitFor('the connect', () => c.connects((e) => e.pid === pid && e.dstIP === '10.9.9.9').at(0));
  const sys = await c.waitFor('its syscall outcome', () => outcomes(c, (x) => x.source === 'syscall' && x.pid === pid).at(0));
  t.is(sys.errno, ENETUNREACH);
  t.is(sys.tid, ev.tid);
  await sleep(100);
  t.is(stateOf(c, ev), undefined, 'the socket never left SYN_SENT: it never reached it');
});

await captureTest('outcome: a SYN nothing answers has no outcome while it waits; closing it ends it with no error', async (t) => {
  // in the namespace 10.77.0.0/24 goes out lo and is dropped on the way back in (not a local address)
  const ns = netns(t, [['route', 'add', '10.77.0.0/24', 'dev', 'lo']]);
  const c = new Collector(WITH_CONNECT_EXIT);
  t.teardown(() => c.stop());
  const script = "const s=require('node:net').connect(80,'10.77.0.2');s.on('error',()=>{});" +
    "setTimeout(()=>{console.log(s.connecting?'pending':'done');s.destroy()},1500)";
  const r = await run('ip', ['netns', 'exec', ns, NODE, '-e', script]);
  t.is(r.stdout.trim(), 'pending', `the connect was still pending after 1.5 s: ${r.stderr}`);
  const ev = await c.waitFor('the connect', () => c.connects((e) => e.dstIP === '10.77.0.2').at(0));
  const o = await c.waitFor('the close', () => stateOf(c, ev));
  t.false(o.established);
  t.is(o.errno, 0, 'closed by the application, not by the network');
  t.true(o.ktimeNs - ev.ktimeNs >= 1_000_000_000, 'no outcome before the socket was closed');
  t.is(outcomes(c, (x) => x.source === 'syscall' && x.pid === ev.pid).length, 0, 'connect() returned EINPROGRESS: not an outcome');
});

await captureTest('outcome: with the last rung forced (tracepoint: cookies made at socket creation), outcomes still join by cookie', async (t) => {
  const l4 = await listener('127.0.0.1');
  t.teardown(() => l4.close());
  const c = new Collector({ ladder: ['tracepoint'] });
  t.teardown(() => c.stop());
  const s: Socket = tcpConnect(l4.port, '127.0.0.1');
  const localPort = await new Promise<number>((resolve, reject) => {
    s.once('connect', () => resolve(s.localPort!));
    s.once('error', reject);
  });
  s.destroy();
  const ev = await c.waitFor('the connect', () => c.connects((e) => e.pid === process.pid && e.dstPort === l4.port).at(0));
  t.is(ev.probe, 'tracepoint');
  t.true(ev.socketCookieValid);
  const o = await c.waitFor('its outcome', () => stateOf(c, ev));
  t.true(o.established);
  t.is(o.srcPort, localPort);
});
