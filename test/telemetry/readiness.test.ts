// The readiness rules (producer/health.ts) over the real KafkaSink's stats:
// a failing send, a batch waiting too long for its ack, a full queue, and the
// HTTP endpoint (producer/telemetry/http.ts) answering with them. Kafka is
// stood in for by a transport whose sends fail or hang on command: the live
// cases (the real broker, a closed port) are in health.test.ts.
import test from 'ava';
import { sparseRecord } from '../../producer/model/sample.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { Health, kafkaCheck, notReady, ok, queueCheck } from '../../producer/health.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { startEndpoint } from '../../producer/telemetry/http.ts';
import { sinkConfig } from './helpers.ts';

/** Sends fail with a kafkajs-shaped retriable error while `down`, hang while `stall`. */
class SwitchTransport implements SinkTransport {
  down = false;
  stall = false;
  async connect(): Promise<void> {}
  async ensureTopic(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(_m: QueuedMessage[]): Promise<unknown> {
    if (this.down) throw Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', retriable: true });
    while (this.stall) await sleep(5);
    return [];
  }
}

const record = (i: number): NetTCPConnect => ({
  eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, eventName: 'NetTCPConnect', timestamp: Date.now() * 1000,
  host: { name: 'h', machineId: null, bootId: null } as never,
  process: { ...sparseRecord().process, pid: 1, tid: 1, uid: 0, gid: 0, comm: 'c', cgroupId: 0 },
  netnsCookie: 0, dstIP: '127.0.0.1', dstPort: 80, family: 'AF_INET', results: [], probe: 'cgroup',
} as unknown as NetTCPConnect);

function sink(transport: SinkTransport, queue: Record<string, unknown> = {}): KafkaSink {
  const c = sinkConfig({ kafka: { batch: { lingerMs: 0 }, retry: { initialRetryTimeMs: 20, maxRetryTimeMs: 40 } }, queue });
  return new KafkaSink({ kafka: c.kafka, queue: c.queue }, new EcsJsonEncoder(), undefined, { transport });
}

test('kafka check: ok after an ack, failing while sends fail (with the error), ok again once one is acknowledged', async (t) => {
  const tr = new SwitchTransport();
  const s = sink(tr);
  await s.start();
  t.teardown(() => s.stop(100));
  t.deepEqual(kafkaCheck(s.stats()), ok('connected, nothing published yet'));
  s.push([record(1)]);
  t.true(await s.flush(1000));
  t.regex(kafkaCheck(s.stats()).detail, /^last batch acknowledged 0 s ago$/);

  tr.down = true;
  s.push([record(2)]);
  await sleep(50);
  const failing = kafkaCheck(s.stats());
  t.false(failing.ok);
  t.regex(failing.detail, /^sends failing for 0 s: Connection error: connect ECONNREFUSED 127\.0\.0\.1:9092 \(retrying; \d+ records queued\)$/);
  tr.down = false;
  t.true(await s.flush(2000));
  t.true(kafkaCheck(s.stats()).ok);
  t.is(s.stats().failingSince, null);
});

test('kafka check: a batch unacknowledged past the stall limit is not ready', async (t) => {
  const tr = new SwitchTransport();
  tr.stall = true;
  const s = sink(tr);
  await s.start();
  t.teardown(() => { tr.stall = false; return s.stop(100); });
  s.push([record(1), record(2)]);
  await sleep(20);
  const st = s.stats();
  t.not(st.inFlight.since, null);
  t.true(kafkaCheck(st).ok, 'within the limit');
  const late = kafkaCheck(st, st.inFlight.since! + 12_000);
  t.false(late.ok);
  t.is(late.detail, 'no acknowledgement for 12 s (2 records in flight, 0 queued; kafkajs is retrying)');
  tr.stall = false;
  t.true(await s.flush(1000));
  t.is(s.stats().inFlight.since, null);
});

test('queue check: full is not ready', (t) => {
  const q = { records: 10, bytes: 100, maxRecords: 10, maxBytes: 1000 };
  t.deepEqual(queueCheck({ queue: q, spool: null }), notReady('full (10 of 10 records, 100 of 1000 bytes): new records are dropped'));
  t.deepEqual(queueCheck({ queue: { ...q, records: 3 }, spool: null }), ok('3 records queued'));
});

test('queue check with the spool: a full memory queue is ready (records go to disk); a full spool is not', (t) => {
  const q = { records: 10, bytes: 100, maxRecords: 10, maxBytes: 1000 };
  const sp = { bytes: 5000, records: 900, diskOnly: 890, segments: 2, replayed: 0, corruptBytes: 0, maxBytes: 1 << 20 };
  t.deepEqual(queueCheck({ queue: q, spool: sp }), ok('10 records queued, 890 more on disk only (spool: 900 unacknowledged)'));
  t.false(queueCheck({ queue: q, spool: { ...sp, bytes: 1 << 20 } }).ok);
});

test('the endpoint: /healthz 200, /readyz 503 then 200 as the checks pass, stopping 503, /metrics 404 without telemetry, HEAD, 405', async (t) => {
  const health = new Health();
  const ep = await startEndpoint({ host: '127.0.0.1', port: 0, health });
  t.teardown(() => ep.close());
  health.set('capture', notReady('attaching the connect probe'));
  health.set('kafka', () => { throw new Error('oops'); });
  let r = await fetch(`${ep.url}/readyz`);
  t.is(r.status, 503);
  t.deepEqual(await r.json(), {
    ready: false,
    reasons: ['capture: attaching the connect probe', 'kafka: check failed: oops'],
    checks: { capture: { ok: false, detail: 'attaching the connect probe' }, kafka: { ok: false, detail: 'check failed: oops' } },
  });
  health.set('capture', ok('connect probe cgroup attached'));
  health.set('kafka', () => ok('fine'));
  r = await fetch(`${ep.url}/readyz`);
  t.is(r.status, 200);
  t.like(await r.json(), { ready: true, reasons: [] });
  const live = await fetch(`${ep.url}/healthz`);
  t.is(live.status, 200);
  t.like(await live.json(), { status: 'alive', pid: process.pid });
  t.is((await fetch(`${ep.url}/healthz`, { method: 'HEAD' })).status, 200);
  t.is((await fetch(`${ep.url}/healthz`, { method: 'POST' })).status, 405);
  t.is((await fetch(`${ep.url}/metrics`)).status, 404);
  ep.setMetrics((_req, res) => { res.end('m 1\n'); });
  t.is(await (await fetch(`${ep.url}/metrics`)).text(), 'm 1\n');
  health.stopping();
  r = await fetch(`${ep.url}/readyz`);
  t.is(r.status, 503);
  t.deepEqual(((await r.json()) as { reasons: string[] }).reasons, ['stopping: flushing the queue and detaching']);
  health.close();
});

test('the endpoint: a busy port is a one-line EndpointError naming the key', async (t) => {
  const first = await startEndpoint({ host: '127.0.0.1', port: 0 });
  t.teardown(() => first.close());
  const port = Number(new URL(first.url).port);
  const err = await t.throwsAsync(startEndpoint({ host: '127.0.0.1', port }));
  t.is(err!.name, 'EndpointError');
  t.regex(err!.message, new RegExp(`^telemetry.prometheusPort ${port} on 127.0.0.1: .*EADDRINUSE`));
});
