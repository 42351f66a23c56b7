// KafkaSink batching, retries and drops with a fake transport (no broker).
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../producer/config/load.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { AvroEncoder } from '../../producer/encode/avro.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { classifySendError } from '../../producer/sink/errors.ts';
import { REROUTE_RETRY_MAX_MS } from '../../producer/sink/delivery.ts';
import { silentLogger } from '../../producer/log.ts';
import { messageKey } from '../../producer/sink/keys.ts';
import type { SinkBatch } from '../../producer/sink/sink.ts';
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';

function config(overrides: Record<string, unknown> = {}) {
  const { config: c } = loadConfig({ env: {}, overrides });
  return { kafka: c.kafka, queue: c.queue };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof a[k] === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
const cfg = (o: Record<string, unknown>) => config(deepMerge({ kafka: { retry: { initialRetryTimeMs: 5, maxRetryTimeMs: 20 }, batch: { lingerMs: 5 } } }, o));

class FakeTransport implements SinkTransport {
  sent: QueuedMessage[][] = [];
  attempts = 0;
  concurrent = 0;
  maxConcurrent = 0;
  /** Return an error to fail this attempt. */
  fail: (attempt: number, messages: QueuedMessage[]) => Error | null = () => null;
  delayMs = 0;
  async connect(): Promise<void> {}
  async ensureTopic(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(messages: QueuedMessage[]): Promise<unknown> {
    const attempt = ++this.attempts;
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.delayMs) await sleep(this.delayMs);
      const err = this.fail(attempt, messages);
      if (err) throw err;
      this.sent.push(messages.slice());
      return [{ topicName: 't', partition: 0, errorCode: 0, baseOffset: '0' }];
    } finally {
      this.concurrent--;
    }
  }
  get records(): QueuedMessage[] { return this.sent.flat(); }
}

const transientError = (): Error => Object.assign(new Error('KafkaJSNumberOfRetriesExceeded'), {
  name: 'KafkaJSNumberOfRetriesExceeded', retriable: false,
  cause: Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true }),
});
const protocolError = (type: string): Error => Object.assign(new Error(type), {
  name: 'KafkaJSNonRetriableError', retriable: false,
  cause: Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable: false }),
});

const recs = (n: number, from = 0, over: Partial<NetTCPConnect> = {}): NetTCPConnect[] =>
  Array.from({ length: n }, (_, i) => sampleRecord({ eventId: `e${from + i}`, dstPort: (from + i) % 65536, ...over }));
const eventIds = (msgs: QueuedMessage[]): string[] => msgs.map((m) => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id);
const range = (a: number, b: number): string[] => Array.from({ length: b - a }, (_, i) => `e${a + i}`);

async function started(c: ReturnType<typeof config>, transport = new FakeTransport(), hooks = {}) {
  const sink = new KafkaSink(c, new EcsJsonEncoder(), undefined, { transport, hooks });
  await sink.start();
  return { sink, transport };
}

test('a full batch (maxRecords) goes out at once; the rest waits for linger', async (t) => {
  const { sink, transport } = await started(cfg({ kafka: { batch: { maxRecords: 5, lingerMs: 10_000 } } }));
  sink.push(recs(12));
  await sleep(20);
  t.deepEqual(transport.sent.map((b) => b.length), [5, 5]);
  t.is(sink.stats().queue.records, 2);
  t.true(await sink.flush(1000));
  t.deepEqual(transport.sent.map((b) => b.length), [5, 5, 2]);
  t.deepEqual(eventIds(transport.records), range(0, 12));
  await sink.stop(100);
});

test('maxBytes closes a batch', async (t) => {
  const size = new EcsJsonEncoder().encode(recs(1)[0] as NetTCPConnect).length + 'web-1:4242'.length;
  const { sink, transport } = await started(cfg({ kafka: { batch: { maxBytes: size * 3 + 1, lingerMs: 10_000 } } }));
  sink.push(recs(7));
  await sleep(20);
  t.deepEqual(transport.sent.map((b) => b.length), [3, 3]);
  await sink.flush(1000);
  t.deepEqual(transport.sent.map((b) => b.length), [3, 3, 1]);
  await sink.stop(100);
});

test('linger: a small batch waits lingerMs, then goes', async (t) => {
  const { sink, transport } = await started(cfg({ kafka: { batch: { lingerMs: 80 } } }));
  sink.push(recs(3));
  await sleep(30);
  sink.push(recs(2, 3));
  t.is(transport.sent.length, 0);
  await sleep(120);
  t.deepEqual(transport.sent.map((b) => b.length), [5]);
  await sink.stop(100);
});

test('linger 0 sends what is there at once', async (t) => {
  const { sink, transport } = await started(cfg({ kafka: { batch: { lingerMs: 0 } } }));
  sink.push(recs(3));
  await sleep(5);
  t.is(transport.records.length, 3);
  await sink.stop(100);
});

test('maxInFlight=1: one batch at a time, order kept', async (t) => {
  const transport = new FakeTransport();
  transport.delayMs = 5;
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 10, lingerMs: 1 } } }), transport);
  for (let i = 0; i < 20; i++) { sink.push(recs(7, i * 7)); await sleep(1); }
  t.true(await sink.flush(5000));
  t.is(transport.maxConcurrent, 1);
  t.deepEqual(eventIds(transport.records), range(0, 140));
  t.true(transport.sent.length < 20);
  await sink.stop(100);
});

test('maxInFlight>1 sends batches concurrently', async (t) => {
  const transport = new FakeTransport();
  transport.delayMs = 20;
  const { sink } = await started(cfg({ kafka: { idempotent: false, batch: { maxRecords: 5, maxInFlight: 3 } } }), transport);
  sink.push(recs(30));
  await sink.flush(5000);
  t.is(transport.maxConcurrent, 3);
  t.is(transport.records.length, 30);
  await sink.stop(100);
});

test('transient failures: the same batch is retried until it goes, nothing lost, order kept', async (t) => {
  const transport = new FakeTransport();
  transport.fail = (attempt) => (attempt <= 4 ? transientError() : null);
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 4 } } }), transport);
  sink.push(recs(10));
  await sleep(15);
  t.true(sink.stats().retrying);
  t.true(await sink.flush(5000));
  const s = sink.stats();
  t.is(s.publishErrors, 4);
  t.deepEqual(s.resent, { batches: 4, records: 16 }, 'the first batch (4 records) went out again 4 times');
  t.is(s.droppedTotal, 0);
  t.is(s.published.records, 10);
  t.deepEqual(eventIds(transport.records), range(0, 10));
  t.regex(s.lastError ?? '', /ECONNREFUSED/);
  await sink.stop(100);
});

test('Kafka down: the queue absorbs records up to its bound, drops are counted, the rest arrives after recovery', async (t) => {
  const transport = new FakeTransport();
  let down = true;
  transport.fail = () => (down ? transientError() : null);
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 10 } }, queue: { maxRecords: 50, policy: 'drop-newest' } }), transport);
  sink.push(recs(10));
  await sleep(10); // these 10 are in flight (retrying)
  sink.push(recs(90, 10)); // 50 queued, 40 dropped
  await sleep(20);
  let s = sink.stats();
  t.is(s.queue.records, 50);
  t.is(s.inFlight.records, 10);
  t.is(s.drops.queue_full_records, 40);
  t.is(s.droppedTotal, Object.values(s.drops).reduce((a, b) => a + b, 0), 'droppedTotal (the heartbeat reads it alone) is the sum of the drops');
  down = false;
  t.true(await sink.flush(5000));
  s = sink.stats();
  t.is(s.published.records, 60);
  t.deepEqual(eventIds(transport.records), range(0, 60));
  t.is(s.pushed, s.published.records + s.droppedTotal);
  await sink.stop(100);
});

test('Kafka down with drop-oldest keeps the newest records', async (t) => {
  const transport = new FakeTransport();
  let down = true;
  transport.fail = () => (down ? transientError() : null);
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 10 } }, queue: { maxRecords: 50, policy: 'drop-oldest' } }), transport);
  sink.push(recs(10));
  await sleep(10); // first batch in flight
  sink.push(recs(90, 10));
  down = false;
  await sink.flush(5000);
  t.deepEqual(eventIds(transport.records), [...range(0, 10), ...range(50, 100)]);
  t.is(sink.stats().drops.queue_full_records, 40);
  await sink.stop(100);
});

test('byte bound of the queue counts queue_full_bytes', async (t) => {
  const transport = new FakeTransport();
  transport.fail = () => transientError();
  const one = new EcsJsonEncoder().encode(recs(1)[0] as NetTCPConnect).length + 'web-1:4242'.length;
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 1 } }, queue: { maxBytes: one * 5 } }), transport);
  sink.push(recs(20));
  await sleep(10);
  const s = sink.stats();
  t.is(s.queue.records, 4); // push() is synchronous: 5 fit, 15 dropped, then 1 went in flight
  t.is(s.inFlight.records, 1);
  t.is(s.drops.queue_full_bytes, 15);
  await sink.stop(50);
  t.is(sink.stats().drops.shutdown_unflushed, 5);
});

test('a permanent error drops the batch as publish_failed and goes on', async (t) => {
  const transport = new FakeTransport();
  const failed: SinkBatch[] = [];
  transport.fail = (attempt) => (attempt === 1 ? protocolError('TOPIC_AUTHORIZATION_FAILED') : null);
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 5 } } }), transport, { onBatchFailed: (b: SinkBatch) => failed.push(b) });
  sink.push(recs(10));
  await sink.flush(2000);
  const s = sink.stats();
  t.is(s.drops.publish_failed, 5);
  t.is(failed.length, 1);
  t.deepEqual(eventIds(transport.records), range(5, 10));
  await sink.stop(100);
});

test('a batch refused as too large is split and retried', async (t) => {
  const transport = new FakeTransport();
  transport.fail = (_a, msgs) => (msgs.length > 3 ? protocolError('MESSAGE_TOO_LARGE') : null);
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 10 } } }), transport);
  sink.push(recs(10));
  await sink.flush(2000);
  t.deepEqual(eventIds(transport.records), range(0, 10));
  t.true(transport.sent.every((b) => b.length <= 3));
  t.is(sink.stats().droppedTotal, 0);
  await sink.stop(100);
});

test('a single record too large for Kafka is publish_failed', async (t) => {
  const transport = new FakeTransport();
  transport.fail = () => protocolError('MESSAGE_TOO_LARGE');
  const { sink } = await started(cfg({}), transport);
  sink.push(recs(1));
  await sink.flush(2000);
  t.is(sink.stats().drops.publish_failed, 1);
  await sink.stop(100);
});

test('stop() with Kafka down counts queued and in-flight records as shutdown_unflushed', async (t) => {
  const transport = new FakeTransport();
  transport.fail = () => transientError();
  const { sink } = await started(cfg({ kafka: { batch: { maxRecords: 10 } } }), transport);
  sink.push(recs(25));
  const t0 = Date.now();
  await sink.stop(100);
  t.true(Date.now() - t0 < 1000);
  const s = sink.stats();
  t.is(s.drops.shutdown_unflushed, 25);
  t.is(s.queue.records, 0);
  sink.push(recs(2));
  t.is(sink.stats().drops.shutdown_unflushed, 27);
});

test('records that do not fit the encoder are encode_failed, the others go', async (t) => {
  const transport = new FakeTransport();
  const sink = new KafkaSink(cfg({}), new AvroEncoder(1), undefined, { transport });
  await sink.start();
  sink.push([...recs(2), { ...sampleRecord(), dstPort: 'x' } as unknown as NetTCPConnect, ...recs(1, 2)]);
  await sink.flush(1000);
  t.is(sink.stats().drops.encode_failed, 1);
  t.is(transport.records.length, 3);
  await sink.stop(100);
});

test('records pushed before start() wait and go after it', async (t) => {
  const transport = new FakeTransport();
  const sink = new KafkaSink(cfg({}), new EcsJsonEncoder(), undefined, { transport });
  sink.push(recs(3));
  await sleep(20);
  t.is(transport.sent.length, 0);
  await sink.start();
  await sink.flush(1000);
  t.is(transport.records.length, 3);
  await sink.stop(100);
});

test('message key per strategy, timestamp = event time in ms', async (t) => {
  const r = sampleRecord();
  t.is(messageKey('host', r), 'web-1');
  t.is(messageKey('process', r), 'web-1:4242');
  t.is(messageKey('destination', r), '93.184.215.14:443');
  t.is(messageKey('destination', sampleRecord({ dstIP: '2001:db8::1' })), '[2001:db8::1]:443');
  t.is(messageKey('none', r), null);
  const { sink, transport } = await started(cfg({ kafka: { keyStrategy: 'destination' } }));
  sink.push([r]);
  await sink.flush(1000);
  const m = transport.records[0];
  t.is(m?.key, '93.184.215.14:443');
  t.is(m?.timestamp, '1735787045123');
  await sink.stop(100);
});

test('hooks see the batch before send (headers can be added) and after the ack', async (t) => {
  const before: number[] = [];
  const after: { id: number; latencyMs: number; result: unknown }[] = [];
  const hooks = {
    onBatchSend: (b: SinkBatch) => { before.push(b.id); for (const m of b.messages) m.headers = { traceparent: `00-${b.id}` }; },
    onBatchSent: (b: SinkBatch, ack: { latencyMs: number; result: unknown }) => after.push({ id: b.id, latencyMs: ack.latencyMs, result: ack.result }),
  };
  const { sink, transport } = await started(cfg({ kafka: { batch: { maxRecords: 2 } } }), new FakeTransport(), hooks);
  sink.push(recs(4));
  await sink.flush(1000);
  t.deepEqual(before, [1, 2]);
  t.deepEqual(after.map((a) => a.id), [1, 2]);
  t.truthy(after[0]?.result);
  t.deepEqual(transport.records.map((m) => m.headers?.traceparent), ['00-1', '00-1', '00-2', '00-2']);
  const s = sink.stats();
  t.is(s.ackLatencyMs.samples, 2);
  t.is(s.published.batches, 2);
  t.truthy(s.lastPublishAt);
  await sink.stop(100);
});

test('error classification follows the root cause', (t) => {
  // a broker unreachable or a leader moved: kafkajs refreshed the metadata, send again soon
  t.is(classifySendError(transientError()), 'reroute');
  t.is(classifySendError(Object.assign(new Error('timeout'), { name: 'KafkaJSRequestTimeoutError', retriable: true })), 'reroute');
  t.is(classifySendError(Object.assign(new Error('NOT_LEADER_FOR_PARTITION'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false,
    cause: Object.assign(new Error('not leader'), { name: 'KafkaJSProtocolError', type: 'NOT_LEADER_FOR_PARTITION', retriable: true }) })), 'reroute');
  t.is(classifySendError(Object.assign(new Error('loading'), { name: 'KafkaJSProtocolError', type: 'COORDINATOR_LOAD_IN_PROGRESS', retriable: true })), 'transient');
  t.is(classifySendError(protocolError('INVALID_RECORD')), 'permanent');
  t.is(classifySendError(protocolError('RECORD_LIST_TOO_LARGE')), 'too-large');
  t.is(classifySendError(new TypeError('bug')), 'permanent');
});

test('a batch whose leader moved (reroute) is sent again within REROUTE_RETRY_MAX_MS; other transient failures back off from initialRetryTimeMs', async (t) => {
  const firstDelay = async (err: Error): Promise<number> => {
    const delays: number[] = [];
    const logger = { ...silentLogger, warn: (o: object) => { const d = (o as { retryInMs?: number }).retryInMs; if (d !== undefined) delays.push(d); } };
    const transport = new FakeTransport();
    transport.fail = () => err;
    const sink = new KafkaSink(cfg({ kafka: { retry: { initialRetryTimeMs: 3000, maxRetryTimeMs: 30000 } } }), new EcsJsonEncoder(), logger, { transport });
    await sink.start();
    sink.push(recs(1));
    while (delays.length === 0) await sleep(5);
    await sink.stop(10);
    return delays[0]!;
  };
  t.true(await firstDelay(transientError()) <= REROUTE_RETRY_MAX_MS);
  t.true(await firstDelay(Object.assign(new Error('loading'), { name: 'KafkaJSProtocolError', type: 'COORDINATOR_LOAD_IN_PROGRESS', retriable: true })) >= 2400);
});
