// PipelineTelemetry with real captured connects (root, BPF), the Enricher and
// the real local Kafka: event spans start at each connect's capture time,
// batch spans link to them, a consumer reads the traceparent headers back from
// the topic, and a Prometheus scrape shows the counters moving.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { CaptureSource } from '../../producer/source/capture.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import { readHostIdentity } from '../../producer/transform/host-identity.ts';
import { PipelineTelemetry, snapshotOf } from '../../producer/telemetry/pipeline.ts';
import { startTelemetry } from '../../producer/telemetry/sdk.ts';
import { brokerList, integrationTest, KAFKA_BROKERS } from '../helpers/require.ts';
import { connectTimes, freePort, memoryTracing, scrape, sinkConfig, spanId, telemetryConfig } from './helpers.ts';

await integrationTest('real captured connects through Enricher and Kafka: event spans from the capture time, batch links, headers on the topic, Prometheus counters', ['root', 'bpf', 'kafka'], async (t) => {
  const topic = `telemetry-${randomUUID().slice(0, 8)}`;
  const N = 20;
  const { tracer, finished } = memoryTracing(1, topic);

  // Metrics through the real SDK and a real scrape (traces stay in memory above).
  const promPort = await freePort();
  const tel = await startTelemetry(telemetryConfig({ prometheusPort: promPort }), { hostName: 'telemetry-test' }, { topic, env: {} });
  t.teardown(() => tel?.shutdown());
  const c = sinkConfig({ kafka: { brokers: brokerList(KAFKA_BROKERS), topic, batch: { lingerMs: 5 } } });
  const pt = new PipelineTelemetry(tracer, null);
  const sink = new KafkaSink({ kafka: c.kafka, queue: c.queue }, pt.wrapEncoder(new EcsJsonEncoder()), undefined, { hooks: pt.hooks });
  await sink.start();
  const enricher = new Enricher({ host: readHostIdentity({ name: 'telemetry-test' }) });
  const records: NetTCPConnect[] = [];
  const source = CaptureSource.open({
    pollIntervalMs: 5,
    excludeSelf: false,
    onEvents(events) {
      const t0 = pt.now();
      records.length = 0;
      enricher.process(events, records);
      pt.sampleRecords(records, t0);
      sink.push(records);
      pt.afterPush();
    },
  });
  const stats = () => snapshotOf({ capture: source.counters(), enrich: enricher.stats(), sink: sink.stats() });
  tel!.registerMetrics(stats);
  const before = await scrape(tel!.prometheusUrl!);

  const port = await connectTimes(N);
  await sleep(100);
  t.true(await sink.flush(10_000));
  await source.stop();
  await sink.stop(5000);
  pt.close();
  const after = await scrape(tel!.prometheusUrl!);

  // Spans of this test's connects: name, kind, start = the record's capture time, stage children.
  const spans = await finished();
  const mine = spans.filter((s) => s.name === `create ${topic}` && s.attributes['server.port'] === port);
  t.is(mine.length, N, 'one event span per captured connect (sample ratio 1)');
  const batches = spans.filter((s) => s.name === `publish ${topic}`);
  const linkedTo = new Map<string, ReadableSpan>();
  for (const b of batches) for (const l of b.links) linkedTo.set(l.context.spanId, b);
  for (const ev of mine) {
    t.is(ev.kind, SpanKind.PRODUCER);
    t.is(ev.status.code, SpanStatusCode.UNSET);
    t.is(ev.attributes['process.pid'], process.pid);
    t.is(ev.attributes['server.address'], '127.0.0.1');
    const kids = spans.filter((s) => s.parentSpanContext?.spanId === spanId(ev));
    t.deepEqual(kids.map((s) => s.name), ['ringbuf', 'enrich', 'encode', 'queue wait', 'kafka ack']);
    const b = linkedTo.get(spanId(ev));
    t.truthy(b, 'a batch span links to the event');
    t.like(b!.attributes, { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.operation.type': 'send' });
    t.deepEqual(kids[4]!.links.map((l) => l.context.spanId), [spanId(b!)]);
    // capture -> ack within reason
    const ms = (x: [number, number]) => x[0] * 1e3 + x[1] / 1e6;
    const total = ms(ev.endTime) - ms(ev.startTime);
    t.true(total > 0 && total < 10_000, `capture -> ack ${total} ms`);
  }

  // The headers on the topic: each of this test's messages carries its event span's traceparent.
  const kafka = new Kafka({ clientId: 'telemetry-test', brokers: brokerList(KAFKA_BROKERS), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `telemetry-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const headers = new Map<string, string>(); // eventId -> traceparent
  let done!: () => void;
  const finishedConsuming = new Promise<void>((r) => { done = r; });
  const timer = setTimeout(done, 30_000);
  await consumer.run({
    eachMessage: async ({ message }) => {
      const doc = JSON.parse(message.value!.toString()) as { event?: { id?: string }; destination?: { port?: number } };
      if (doc.destination?.port === port) headers.set(String(doc.event?.id), String(message.headers?.traceparent));
      if (headers.size >= N) done();
    },
  });
  await finishedConsuming;
  clearTimeout(timer);
  await consumer.disconnect();
  t.is(headers.size, N);
  for (const ev of mine) {
    t.is(headers.get(String(ev.attributes['conntrail.event.id'])), `00-${ev.spanContext().traceId}-${spanId(ev)}-01`);
  }

  // The Prometheus counters moved with the traffic.
  const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const captured = [...after.keys()].filter((k) => k.startsWith('conntrail_capture_events_total{kind="connect"'));
  t.true(captured.reduce((n, k) => n + d(k), 0) >= N, 'conntrail_capture_events_total{kind="connect"} grew by at least N');
  t.true(d('conntrail_publish_records_total') >= N, 'conntrail_publish_records_total grew by at least N');
  t.true(d('conntrail_publish_batches_total') >= 1);
  t.true(d('conntrail_dns_cache_misses_total') >= N, 'each connect looked up the DNS cache');
  t.is(after.get('conntrail_queue_depth'), 0);
}, { serial: true });
