// The outcome join with hand-made events (the kernel half is tested by the
// capture tests): every way a record leaves it, and its bounds.
import test from 'ava';
import os from 'node:os';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { sparseRecord } from '../../producer/model/sample.ts';
import type { ConnectOutcomeEvent } from '../../producer/source/types.ts';
import { communityId } from '../../producer/transform/community-id.ts';
import { errnoName, OutcomeJoin, outcomeOfErrno } from '../../producer/transform/outcome.ts';
import type { OutcomeJoinOptions } from '../../producer/transform/outcome.ts';

const E = os.constants.errno;
const T0 = 5_000_000_000; // boot clock of the first connect, ns

/** A record as the Enricher makes it: every field present, the outcome fields null. */
function record(i: number): NetTCPConnect {
  return { ...sparseRecord(), eventId: `ev-${i}`, dstIP: '10.0.0.7', dstPort: 443, family: 'AF_INET' };
}

function key(i: number, over: { tid?: number; cookie?: number; valid?: boolean } = {}): { ktimeNs: number; tid: number; socketCookie: number; socketCookieValid: boolean } {
  return { ktimeNs: T0 + i * 1000, tid: over.tid ?? 100 + i, socketCookie: over.cookie ?? 1000 + i, socketCookieValid: over.valid ?? true };
}

function stateEv(cookie: number, atNs: number, established: boolean, errno = 0, src = { ip: '10.0.0.2', port: 40001 }): ConnectOutcomeEvent {
  return {
    kind: 'outcome', source: 'state', ktimeNs: atNs, socketCookie: cookie, socketCookieValid: true, pid: 0, tid: 0, errno, established,
    family: 2, srcIP: src.ip, srcPort: src.port, dstIP: '10.0.0.7', dstPort: 443,
  };
}

function syscallEv(tid: number, atNs: number, errno: number): ConnectOutcomeEvent {
  return {
    kind: 'outcome', source: 'syscall', ktimeNs: atNs, socketCookie: 0, socketCookieValid: false, pid: tid, tid, errno, established: false,
    family: 0, srcIP: '', srcPort: 0, dstIP: '', dstPort: 0,
  };
}

function harness(over: Partial<OutcomeJoinOptions> = {}): { join: OutcomeJoin; released: NetTCPConnect[]; clock: { ms: number } } {
  const clock = { ms: 0 };
  const released: NetTCPConnect[] = [];
  const join = new OutcomeJoin({ waitMs: 2000, maxPending: 100, release: (r) => released.push(...r), now: () => clock.ms, ...over });
  return { join, released, clock };
}

test('state established: srcIP/srcPort, no errno, the delay and the community id', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  const r = record(0);
  join.hold(r, key(0), out);
  t.deepEqual(out, [], 'held, not published');
  join.outcome(stateEv(1000, T0 + 812_345, true), out);
  t.deepEqual(out, [r]);
  t.is(r.outcome, 'established');
  t.is(r.errno, null);
  t.is(r.srcIP, '10.0.0.2');
  t.is(r.srcPort, 40001);
  t.is(r.outcomeDelayUs, 812);
  t.is(r.communityId, communityId('10.0.0.2', 40001, '10.0.0.7', 443));
  t.is(join.stats().joinedState, 1);
  t.is(join.stats().pending, 0);
  t.is(join.timerAt, null, 'no timer while nothing is pending');
});

for (const [errno, outcome, name] of [
  [E.ECONNREFUSED, 'refused', 'ECONNREFUSED'],
  [E.ECONNRESET, 'reset', 'ECONNRESET'],
  [E.ETIMEDOUT, 'timeout', 'ETIMEDOUT'],
  [E.EHOSTUNREACH, 'unreachable', 'EHOSTUNREACH'],
  [E.ENETUNREACH, 'unreachable', 'ENETUNREACH'],
  [E.EPROTO, 'error', 'EPROTO'],
] as const) {
  test(`state closed with ${name}: ${outcome}`, (t) => {
    const { join } = harness();
    const out: NetTCPConnect[] = [];
    const r = record(0);
    join.hold(r, key(0), out);
    join.outcome(stateEv(1000, T0 + 3_000_000, false, errno), out);
    t.deepEqual(out, [r]);
    t.is(r.outcome, outcome);
    t.is(r.errno, name);
    t.is(r.outcomeDelayUs, 3000);
    t.is(r.srcPort, 40001, 'the local port the kernel chose comes with a state outcome');
  });
}

test('state closed with no error (the application closed it while connecting): error, errno null', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  const r = record(0);
  join.hold(r, key(0), out);
  join.outcome(stateEv(1000, T0 + 5000, false, 0), out);
  t.is(r.outcome, 'error');
  t.is(r.errno, null);
});

test('syscall error: joined by tid to that thread\'s latest connect; no source address', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  const a = record(0);
  const b = record(1);
  join.hold(a, key(0, { tid: 7 }), out);
  join.hold(b, key(1, { tid: 8 }), out);
  join.outcome(syscallEv(8, T0 + 2000, E.ENETUNREACH), out);
  t.deepEqual(out, [b]);
  t.is(b.outcome, 'unreachable');
  t.is(b.errno, 'ENETUNREACH');
  t.is(b.srcIP, null);
  t.is(b.communityId, null);
  join.outcome(syscallEv(7, T0 + 3000, E.EACCES), out);
  t.is(a.outcome, 'error');
  t.is(a.errno, 'EACCES');
  t.is(join.stats().joinedSyscall, 2);
});

test('syscall EINPROGRESS, EALREADY, EINTR are no outcome: ignored, the record stays held', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  join.hold(record(0), key(0, { tid: 7 }), out);
  for (const e of [E.EINPROGRESS, E.EALREADY, E.EINTR]) join.outcome(syscallEv(7, T0 + 5000, e), out);
  t.deepEqual(out, []);
  t.is(join.stats().ignored, 3);
  t.is(join.stats().pending, 1);
});

test('a syscall outcome older than the thread\'s latest connect is not joined to it', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  join.hold(record(5), key(5, { tid: 7 }), out);
  join.outcome(syscallEv(7, T0, E.ECONNREFUSED), out);
  t.deepEqual(out, []);
  t.is(join.stats().orphans, 1);
});

test('both outcomes for one connect (blocking, refused): the first wins, the second is an orphan', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  const r = record(0);
  join.hold(r, key(0, { tid: 9 }), out);
  join.outcome(stateEv(1000, T0 + 100_000, false, E.ECONNREFUSED), out);
  join.outcome(syscallEv(9, T0 + 120_000, E.ECONNREFUSED), out);
  t.deepEqual(out, [r], 'one record per connect');
  t.is(r.outcome, 'refused');
  t.is(r.outcomeDelayUs, 100, 'the state outcome\'s time');
  const s = join.stats();
  t.is(s.joinedState, 1);
  t.is(s.joinedSyscall, 0);
  t.is(s.orphans, 1);
});

test('outcomes for connects never held are orphans', (t) => {
  const { join } = harness();
  const out: NetTCPConnect[] = [];
  join.outcome(stateEv(4242, T0, true), out);
  join.outcome(syscallEv(4242, T0, E.ECONNREFUSED), out);
  t.deepEqual(out, []);
  t.is(join.stats().orphans, 2);
});

test('no outcome within the wait: published through release() as in_progress, counted', (t) => {
  const { join, released, clock } = harness();
  const out: NetTCPConnect[] = [];
  const a = record(0);
  const b = record(1);
  join.hold(a, key(0), out);
  clock.ms = 500;
  join.hold(b, key(1), out);
  t.is(join.timerAt, 2000, 'one timer, for the oldest');
  clock.ms = 1999;
  t.is(join.expire(), 0);
  clock.ms = 2000;
  t.is(join.expire(), 1);
  t.deepEqual(released, [a]);
  t.is(a.outcome, 'in_progress');
  t.is(a.errno, null);
  t.is(a.outcomeDelayUs, null);
  t.is(a.srcIP, null);
  t.is(a.communityId, null);
  clock.ms = 2500;
  join.expire();
  t.deepEqual(released, [a, b]);
  t.is(join.stats().inProgress.timeout, 2);
  t.is(join.timerAt, null, 'the timer is disarmed once nothing is pending');
  // a late outcome is an orphan: one record per connect
  join.outcome(stateEv(1000, T0 + 3e9, true), out);
  t.is(join.stats().orphans, 1);
});

test('the timer itself releases expired records', async (t) => {
  const released: NetTCPConnect[] = [];
  let done!: () => void;
  const fired = new Promise<void>((resolve) => { done = resolve; });
  const join = new OutcomeJoin({ waitMs: 1, maxPending: 10, release: (r) => { released.push(...r); done(); } });
  const r = record(0);
  join.hold(r, key(0), []);
  await fired;
  t.deepEqual(released, [r]);
  t.is(r.outcome, 'in_progress');
  t.is(join.timerAt, null);
});

test('a joined record in the middle leaves a hole the expiry skips', (t) => {
  const { join, released, clock } = harness();
  const out: NetTCPConnect[] = [];
  const recs = [0, 1, 2].map((i) => record(i));
  recs.forEach((r, i) => join.hold(r, key(i), out));
  join.outcome(stateEv(1001, T0 + 5000, true), out);
  t.deepEqual(out, [recs[1]]);
  clock.ms = 3000;
  join.expire();
  t.deepEqual(released, [recs[0], recs[2]]);
  t.is(join.stats().pending, 0);
});

test('past maxPending the oldest is published at once as in_progress (evicted)', (t) => {
  const { join } = harness({ maxPending: 3 });
  const out: NetTCPConnect[] = [];
  const recs = [0, 1, 2, 3, 4].map((i) => record(i));
  recs.forEach((r, i) => join.hold(r, key(i), out));
  t.deepEqual(out, [recs[0], recs[1]]);
  t.is(recs[0]!.outcome, 'in_progress');
  const s = join.stats();
  t.is(s.inProgress.evicted, 2);
  t.is(s.pending, 3);
  // an evicted record's outcome is an orphan; a held one still joins
  join.outcome(stateEv(1000, T0 + 9000, true), out);
  join.outcome(stateEv(1004, T0 + 9000, true), out);
  t.is(join.stats().orphans, 1);
  t.deepEqual(out, [recs[0], recs[1], recs[4]]);
});

test('holes left by joined records never cause an eviction: the ring is compacted, order and joins kept', (t) => {
  const { join, released, clock } = harness({ maxPending: 2 });
  const out: NetTCPConnect[] = [];
  // 1000 connects, each joined but the first and the latest: 2 live at most
  join.hold(record(0), key(0), out);
  for (let i = 1; i < 1000; i++) {
    if (i > 1) join.outcome(stateEv(1000 + i - 1, T0 + i * 1000, true), out);
    join.hold(record(i), key(i), out);
  }
  t.is(join.stats().inProgress.evicted, 0);
  t.is(join.stats().pending, 2);
  // the survivors are still found by cookie and tid after the compactions
  join.outcome(syscallEv(100 + 999, T0 + 2e9, E.ECONNREFUSED), out);
  t.is(out.at(-1)!.eventId, 'ev-999');
  clock.ms = 5000;
  join.expire();
  t.deepEqual(released.map((r) => r.eventId), ['ev-0']);
});

test('stop(): every pending record at once as in_progress, and no timer left', (t) => {
  const { join, released } = harness();
  const out: NetTCPConnect[] = [];
  const recs = [0, 1, 2].map((i) => record(i));
  recs.forEach((r, i) => join.hold(r, key(i), out));
  join.stop();
  t.deepEqual(released, recs);
  t.true(recs.every((r) => r.outcome === 'in_progress'));
  t.is(join.stats().inProgress.shutdown, 3);
  t.is(join.stats().pending, 0);
  t.is(join.timerAt, null);
});

test('a connect without a valid socket cookie is held and counted; a syscall error still joins it', (t) => {
  const { join, released, clock } = harness();
  const out: NetTCPConnect[] = [];
  const a = record(0);
  const b = record(1);
  join.hold(a, key(0, { tid: 3, cookie: 0, valid: false }), out);
  join.hold(b, key(1, { tid: 4, cookie: 0, valid: false }), out);
  t.is(join.stats().noCookie, 2);
  join.outcome(stateEv(0, T0 + 9000, true), out);
  t.deepEqual(out, [], 'cookie 0 (invalid) joins nothing');
  join.outcome(syscallEv(3, T0 + 9000, E.ECONNREFUSED), out);
  t.deepEqual(out, [a]);
  clock.ms = 5000;
  join.expire();
  t.deepEqual(released, [b]);
  t.is(b.outcome, 'in_progress');
});

test('waitMs 0: no hold, outcome null, outcome events ignored', (t) => {
  const { join, released } = harness({ waitMs: 0 });
  const out: NetTCPConnect[] = [];
  const r = record(0);
  t.false(join.enabled);
  join.hold(r, key(0), out);
  t.deepEqual(out, [r]);
  t.is(r.outcome, null);
  join.outcome(stateEv(1000, T0 + 1, true), out);
  t.is(r.outcome, null);
  t.deepEqual(out, [r]);
  join.stop();
  t.deepEqual(released, []);
  t.is(join.timerAt, null);
});

test('errno names and outcomes from this platform\'s table', (t) => {
  t.is(errnoName(E.ECONNREFUSED), 'ECONNREFUSED');
  t.is(errnoName(E.EADDRNOTAVAIL), 'EADDRNOTAVAIL');
  t.is(errnoName(99999), 'E99999');
  t.is(outcomeOfErrno(E.EPERM), 'error');
  t.is(outcomeOfErrno(E.ETIMEDOUT), 'timeout');
});

test('the stats line shows what the join did: pending, joined by source, in_progress by reason, orphans', async (t) => {
  const { Enricher } = await import('../../producer/transform/enrich.ts');
  const { StatsReporter } = await import('../../producer/stats.ts');
  const { join, clock } = harness({ maxPending: 1 });
  const e = new Enricher({ host: sparseRecord().host, outcomes: join });
  const out: NetTCPConnect[] = [];
  join.hold(record(0), key(0), out);
  join.hold(record(1), key(1, { valid: false }), out); // evicts record 0
  join.outcome(stateEv(1000, T0 + 1, true), out); // record 0's: an orphan now
  clock.ms = 10_000;
  join.expire();
  const capture = { received: { connect: 2, dns: 0, byProbe: {} }, malformed: {}, drops: {}, dnsCapture: undefined } as never;
  const sink = { published: { records: 2 }, drops: {}, queue: { records: 0, bytes: 0 }, lastPublishAt: null, lastError: null, ackLatencyMs: {} } as never;
  const line = new StatsReporter(null as never, () => ({ capture, enrich: e.stats(), sink })).line() as { outcome: unknown };
  t.deepEqual(line.outcome, { pending: 0, joined: {}, inProgress: { evicted: 1, timeout: 1 }, noCookie: 1, orphans: 1 });
});
