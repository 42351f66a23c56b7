// The outcome join with hand-made events (the kernel half is tested by the
// capture tests): every way a record leaves it, and its bounds.
import test from 'ava';
import fc from 'fast-check';
import os from 'node:os';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { sparseRecord } from '../../producer/model/sample.ts';
import type { ConnectOutcomeEvent } from '../../producer/source/types.ts';
import { communityId } from '../../producer/model/community-id.ts';
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
    communityId: src.port === 0 ? null : communityId(src.ip, src.port, '10.0.0.7', 443), // as the decoder makes it
  };
}

function syscallEv(tid: number, atNs: number, errno: number): ConnectOutcomeEvent {
  return {
    kind: 'outcome', source: 'syscall', ktimeNs: atNs, socketCookie: 0, socketCookieValid: false, pid: tid, tid, errno, established: false,
    family: 0, srcIP: '', srcPort: 0, dstIP: '', dstPort: 0, communityId: null,
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

test('in a batch the timer stays armed when nothing is pending, goes at the batch end; records still expire at their own deadline', (t) => {
  const { join, released, clock } = harness();
  const out: NetTCPConnect[] = [];
  const [a, b, c] = [record(0), record(1), record(2)];
  join.beginBatch();
  join.hold(a, key(0), out);
  join.outcome(stateEv(1000, T0 + 1e6, true), out);
  t.deepEqual(out, [a]);
  t.is(join.timerAt, 2000, 'left armed while the batch runs');
  clock.ms = 600;
  join.hold(b, key(1), out);
  t.is(join.timerAt, 2000, 'not armed again for the next record');
  join.endBatch();
  t.is(join.timerAt, 2000, 'kept: a record is pending');
  clock.ms = 2000;
  t.is(join.expire(), 0, 'b waits until 2600');
  clock.ms = 2600;
  t.is(join.expire(), 1);
  t.deepEqual(released, [b]);
  join.beginBatch();
  join.hold(c, key(2), out);
  join.outcome(stateEv(1002, T0 + 3e9, false, E.ECONNREFUSED), out);
  join.endBatch();
  t.is(c.outcome, 'refused');
  t.is(join.timerAt, null, 'nothing pending at the batch end: no timer');
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
  const capture = { received: { connect: 2, dns: 0, byProbe: {} }, malformed: {}, drops: {}, kernel: { outcomeExcluded: 2 }, dnsCapture: undefined } as never;
  const sink = { published: { records: 2 }, drops: {}, queue: { records: 0, bytes: 0 }, lastPublishAt: null, lastError: null, ackLatencyMs: {} } as never;
  const line = new StatsReporter(null as never, () => ({ capture, enrich: e.stats(), sink })).line() as { outcome: unknown };
  t.deepEqual(line.outcome, { pending: 0, joined: {}, inProgress: { evicted: 1, timeout: 1 }, noCookie: 1, orphans: 1, excluded: 2 });
});

// A model of the join (pending records in hold order; a tid finds only its latest held connect),
// against which long random runs are checked: they go past the point where the indexes are rebuilt.
type Op =
  | { op: 'hold'; tid: number; valid: boolean }
  | { op: 'state'; pick: number; established: boolean }
  | { op: 'syscall'; tid: number }
  | { op: 'tick'; ms: number };

test('model: long random runs of holds, outcomes and expiry publish what a plain list would', (t) => {
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('hold' as const), tid: fc.integer({ min: 1, max: 6 }), valid: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('state' as const), pick: fc.nat(), established: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('syscall' as const), tid: fc.integer({ min: 1, max: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 900 }) }) },
  );
  fc.assert(fc.property(fc.array(opArb, { minLength: 1500, maxLength: 3000 }), fc.integer({ min: 1, max: 8 }), (ops, maxPending) => {
    const { join, released, clock } = harness({ maxPending });
    interface Held { rec: NetTCPConnect; i: number; cookie: number; valid: boolean; tid: number; deadline: number }
    let pending: Held[] = [];
    const latestOfTid = new Map<number, number>();
    const want: NetTCPConnect[] = [];
    const got: NetTCPConnect[] = [];
    let n = 0;
    for (const o of ops) {
      const out: NetTCPConnect[] = [];
      if (o.op === 'hold') {
        const i = n++;
        const rec = record(i);
        if (pending.length >= maxPending) want.push(pending.shift()!.rec);
        pending.push({ rec, i, cookie: 1000 + i, valid: o.valid, tid: o.tid, deadline: clock.ms + 2000 });
        latestOfTid.set(o.tid, i);
        join.hold(rec, key(i, { tid: o.tid, valid: o.valid }), out);
      } else if (o.op === 'state') {
        if (n === 0) continue;
        const i = o.pick % n;
        const at = pending.findIndex((h) => h.i === i && h.valid);
        if (at >= 0) want.push(pending.splice(at, 1)[0]!.rec);
        join.outcome(stateEv(1000 + i, T0 + n * 1000, o.established), out);
      } else if (o.op === 'syscall') {
        const latest = latestOfTid.get(o.tid);
        const at = pending.findIndex((h) => h.i === latest);
        if (at >= 0) want.push(pending.splice(at, 1)[0]!.rec);
        join.outcome(syscallEv(o.tid, T0 + n * 1000, E.ECONNREFUSED), out);
      } else {
        clock.ms += o.ms;
        // the ring releases in hold order up to the first record not yet due
        const stop = pending.findIndex((h) => h.deadline > clock.ms);
        const gone = stop < 0 ? pending : pending.slice(0, stop);
        want.push(...gone.map((h) => h.rec));
        pending = stop < 0 ? [] : pending.slice(stop);
        join.expire();
      }
      got.push(...out, ...released.splice(0));
      if (got.length !== want.length || got.some((r, k) => r !== want[k])) return false;
      if (join.stats().pending !== pending.length) return false;
    }
    join.stop();
    return true;
  }), { numRuns: 40, seed: 15 });
  t.pass();
});
