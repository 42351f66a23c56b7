// The status record's arithmetic (producer/heartbeat/status.ts, heartbeat.ts)
// and its ECS mapping (producer/encode/agent-status.ts): counts since the last
// acknowledged record, drops by stage with the range they fell in, a failed
// send's interval carried into the next record, every field in the ECS document.
import test from 'ava';
import { Heartbeat } from '../../producer/heartbeat/heartbeat.ts';
import { StatusInterval, stageOfSinkReason } from '../../producer/heartbeat/status.ts';
import type { StatusIdentity, StatusTotals } from '../../producer/heartbeat/status.ts';
import { AGENT_STATUS_SHAPE } from '../../producer/model/agent-status.ts';
import type { AgentStatus } from '../../producer/model/agent-status.ts';
import { sampleStatus } from '../../producer/model/sample.ts';
import type { Shape } from '../../producer/model/shape.ts';
import { ECS_STATUS_FIELD_MAP, ecsStatus, ecsStatusEncoder } from '../../producer/encode/agent-status.ts';
import { isoMicros } from '../../producer/encode/ecs.ts';
import { DROP_REASONS } from '../../producer/sink/queue.ts';
import { silentLogger } from '../../producer/log.ts';

const identity: StatusIdentity = {
  host: { name: 'h1', machineId: 'm', bootId: 'b' }, version: '9.9.9', startedAt: 1_000_000, probe: 'cgroup', dnsCapture: 'per netns',
};

function totals(over: Partial<StatusTotals> = {}, drops: Partial<StatusTotals['drops']> = {}): StatusTotals {
  return {
    captured: 0, published: 0, queueRecords: 0, spool: null, lastPublishAt: null, lastError: null, ...over,
    drops: { kernel: 0, decode: 0, queue: 0, spool: 0, publish: 0, shutdown: 0, ...drops },
  };
}

test('counts cover the interval since the last acknowledged record; drops by stage with their sum', (t) => {
  const iv = new StatusInterval(identity.startedAt);
  const t1 = totals({ captured: 100, published: 90, queueRecords: 10 }, { kernel: 2, queue: 3 });
  const r1 = iv.record(identity, t1, 1_030_000, 'id-1');
  t.is(r1.intervalStart, 1_000_000_000);
  t.is(r1.timestamp, 1_030_000_000);
  t.is(r1.captured, 100);
  t.is(r1.published, 90);
  t.deepEqual({ ...r1.drops }, { kernel: 2, decode: 0, queue: 3, spool: 0, publish: 0, shutdown: 0, total: 5 });
  t.is(r1.agent.sequence, 1);
  t.is(r1.queueRecords, 10);
  iv.acknowledged(r1, t1);
  const r2 = iv.record(identity, totals({ captured: 150, published: 150 }, { kernel: 2, queue: 3 }), 1_060_000, 'id-2');
  t.is(r2.intervalStart, r1.timestamp);
  t.is(r2.captured, 50);
  t.is(r2.published, 60);
  t.is(r2.drops.total, 0);
  t.is(r2.lossStart, null);
  t.is(r2.lossEnd, null);
  t.is(r2.agent.sequence, 2);
});

test('the loss range is between the observation before the drops and the one that saw them', (t) => {
  const iv = new StatusInterval(0);
  iv.observe(0, 1000);
  iv.observe(0, 2000);
  iv.observe(4, 3000); // lost between 2 s and 3 s
  iv.observe(4, 4000);
  iv.observe(5, 5000); // and between 4 s and 5 s
  iv.observe(5, 6000);
  const r = iv.record(identity, totals({}, { queue: 4, kernel: 1 }), 7000, 'x');
  t.is(r.drops.total, 5);
  t.is(r.lossStart, 2000 * 1000);
  t.is(r.lossEnd, 5000 * 1000);
});

test('a record that was not sent leaves its interval, counts and loss range to the next one', async (t) => {
  let now = 1_000_000;
  let current = totals();
  const sent: AgentStatus[] = [];
  let fail = true;
  const hb = new Heartbeat({
    intervalMs: 30_000, identity, logger: silentLogger, now: () => now, totals: () => current, dropTotal: () => Object.values(current.drops).reduce((a, b) => a + b, 0),
    send: async (s) => { if (fail) throw new Error('Kafka down'); sent.push(s); },
  });
  current = totals({ captured: 10 }, { queue: 2 });
  now += 1000;
  hb.observe();
  now += 29_000;
  await hb.beat();
  t.deepEqual(hb.counts, { sent: 0, failed: 1 });
  fail = false;
  current = totals({ captured: 25, published: 25 }, { queue: 2 });
  now += 30_000;
  await hb.beat();
  t.is(sent.length, 1);
  const r = sent[0] as AgentStatus;
  t.is(r.intervalStart, 1_000_000 * 1000, 'starts where the last acknowledged one ended (here: the start)');
  t.is(r.captured, 25);
  t.is(r.drops.queue, 2);
  t.is(r.lossStart, 1_000_000 * 1000);
  t.is(r.lossEnd, 1_001_000 * 1000);
  t.is(r.agent.sequence, 2, 'the unsent record used sequence 1');
});

test('every sink drop reason has a stage: queue, spool, shutdown or publish', (t) => {
  const stages = Object.fromEntries(DROP_REASONS.map((r) => [r, stageOfSinkReason(r)]));
  t.deepEqual(stages, {
    queue_full_records: 'queue', queue_full_bytes: 'queue', record_too_large: 'queue',
    encode_failed: 'publish', publish_failed: 'publish', shutdown_unflushed: 'shutdown',
    spool_full: 'spool', spool_corrupt: 'spool', spool_write_failed: 'spool',
  });
});

function leafPaths(shape: Shape, prefix = ''): string[] {
  return Object.entries(shape).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : leafPaths(v, `${prefix}${k}.`)));
}

function at(doc: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
}

test('the ECS document has every AgentStatus field where ECS_STATUS_FIELD_MAP says, with its value', (t) => {
  t.deepEqual(Object.keys(ECS_STATUS_FIELD_MAP).sort(), leafPaths(AGENT_STATUS_SHAPE).sort());
  const s = sampleStatus();
  const doc = JSON.parse(ecsStatusEncoder.encode(s).toString()) as Record<string, unknown>;
  const micros = new Set(['timestamp', 'intervalStart', 'agent.startedAt', 'lossStart', 'lossEnd', 'lastPublishAt']);
  for (const [field, ecsPath] of Object.entries(ECS_STATUS_FIELD_MAP)) {
    const value = at(s, field);
    const expected = micros.has(field) ? isoMicros(value as number) : value;
    t.deepEqual(at(doc, ecsPath), expected, `${field} -> ${ecsPath}`);
  }
  t.is(at(doc, 'event.kind'), 'metric');
  t.is(at(doc, 'event.dataset'), 'conntrail.agent_status');
});

test('ECS leaves null status fields out', (t) => {
  const doc = ecsStatus(sampleStatus(true));
  const c = doc.conntrail as Record<string, unknown>;
  t.false('spool' in c);
  t.is(JSON.parse(JSON.stringify(doc)).conntrail.loss.start, undefined);
  t.is(JSON.parse(JSON.stringify(doc)).conntrail.last_error, undefined);
  t.false('id' in (doc.host as object), 'no machine id: no host.id');
});
