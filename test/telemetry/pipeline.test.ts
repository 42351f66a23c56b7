// PipelineTelemetry on the real KafkaSink (wrapped encoder, tracing hooks)
// with a fake Kafka transport, and the real OpenTelemetry SDK with an
// in-memory exporter. pipeline-live.test.ts does it with real capture and Kafka.
import test from 'ava';
import { SpanStatusCode } from '@opentelemetry/api';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { nsToHrTime } from '../../producer/telemetry/tracing.ts';
import { PipelineTelemetry } from '../../producer/telemetry/pipeline.ts';
import { FakeTransport, memoryTracing, sinkConfig, spanId } from './helpers.ts';

test('sampled records carry traceparent headers; the batch span links to their event spans', async (t) => {
  const topic = 'telemetry-unit';
  const { tracer, finished } = memoryTracing(1, topic);
  const pt = new PipelineTelemetry(tracer, null);
  const transport = new FakeTransport();
  const c = sinkConfig({ kafka: { topic, batch: { lingerMs: 1 } } });
  const sink = new KafkaSink({ kafka: c.kafka, queue: c.queue }, pt.wrapEncoder(new EcsJsonEncoder()), undefined, { transport, hooks: pt.hooks });
  await sink.start();

  const base = Date.now() * 1000;
  const records: NetTCPConnect[] = [];
  for (let i = 0; i < 5; i++) records.push(sampleRecord({ eventId: `ev-${i}`, timestamp: base - 5000 + i, dstPort: 1000 + i }));
  const t0 = pt.now();
  pt.sampleRecords(records, t0);
  sink.push(records);
  pt.afterPush();
  t.true(await sink.flush(5000));
  await sink.stop(1000);

  const messages = transport.sent.flat();
  t.is(messages.length, 5);
  const spans = await finished();
  const events = spans.filter((s) => s.name === `create ${topic}`);
  const batches = spans.filter((s) => s.name === `publish ${topic}`);
  t.is(events.length, 5);
  t.true(batches.length >= 1);
  for (const [i, m] of messages.entries()) {
    const ev = events.find((s) => s.attributes['conntrail.event.id'] === `ev-${i}`)!;
    t.truthy(ev);
    t.is(m.headers?.traceparent, `00-${ev.spanContext().traceId}-${spanId(ev)}-01`);
    t.deepEqual(ev.startTime, nsToHrTime(BigInt(base - 5000 + i) * 1000n));
    t.like(ev.attributes, { 'server.port': 1000 + i, 'server.address': '93.184.215.14', 'process.pid': 4242, 'conntrail.probe': 'cgroup' });
    const kids = spans.filter((s) => s.parentSpanContext?.spanId === spanId(ev)).map((s) => s.name);
    t.deepEqual(kids, ['ringbuf', 'enrich', 'encode', 'queue wait', 'kafka ack']);
  }
  const linked = batches.flatMap((b) => b.links.map((l) => l.context.spanId)).sort();
  t.deepEqual(linked, events.map(spanId).sort());
  t.is(batches.reduce((n, b) => n + (b.attributes['messaging.batch.message_count'] as number), 0), 5);
});

test('records the queue refuses end their traces as dropped (queue_full)', async (t) => {
  const topic = 'telemetry-drops';
  const { tracer, finished } = memoryTracing(1, topic);
  const pt = new PipelineTelemetry(tracer, null);
  const c = sinkConfig({ kafka: { topic }, queue: { maxRecords: 2, policy: 'drop-newest' } });
  const sink = new KafkaSink({ kafka: c.kafka, queue: c.queue }, pt.wrapEncoder(new EcsJsonEncoder()), undefined, { transport: new FakeTransport(), hooks: pt.hooks });
  // not started: records wait in the queue, which holds 2
  const records = [0, 1, 2, 3].map((i) => sampleRecord({ eventId: `d-${i}`, timestamp: Date.now() * 1000 }));
  pt.sampleRecords(records, pt.now());
  sink.push(records);
  pt.afterPush();
  const spans = await finished();
  const dropped = spans.filter((s) => s.name === `create ${topic}`);
  t.deepEqual(dropped.map((s) => s.attributes['conntrail.event.id']).sort(), ['d-2', 'd-3']);
  for (const s of dropped) {
    t.is(s.attributes['error.type'], 'queue_full');
    t.is(s.status.code, SpanStatusCode.ERROR);
  }
  pt.close();
  const after = (await finished()).filter((s) => s.name === `create ${topic}`);
  t.is(after.length, 4, 'close() ends the two still queued');
  t.is(after.filter((s) => s.attributes['error.type'] === 'shutdown_unflushed').length, 2);
});

test('telemetry with tracing off: the encoder is not wrapped and no record is sampled', (t) => {
  let asked = 0;
  const pt = new PipelineTelemetry({ enabled: false, sampleEvent: () => { asked++; return null; }, startBatch: () => ({ end() {}, with: (f) => f() }) }, null);
  const enc = new EcsJsonEncoder();
  t.is(pt.wrapEncoder(enc), enc);
  pt.sampleRecords([sampleRecord()], pt.now());
  pt.afterPush();
  t.is(asked, 0, 'the sampler is not even asked');
});

