// A real OpenTelemetry Collector (otelcorecol, tools/otelcol/build.sh) receives
// OTLP/HTTP from startTelemetry(): the batch span, the sampled event spans
// with their stage children and links, conntrail's resource, and the metrics.
import { setTimeout as sleep } from 'node:timers/promises';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { PipelineTelemetry } from '../../producer/telemetry/pipeline.ts';
import { startTelemetry } from '../../producer/telemetry/sdk.ts';
import { attr, collectorTest, hexId, startCollector } from './collector.ts';
import { FakeTransport, sinkConfig, telemetryConfig } from './helpers.ts';

await collectorTest('OTLP to a real collector: publish span linked to the sampled event spans, stage children, resource, metrics', [], async (t) => {
  const col = await startCollector(t);
  const topic = 'conntrail.telemetry-collector';
  const tel = await startTelemetry(
    telemetryConfig({ otlpEndpoint: col.endpoint, sampleRatio: 1 }),
    { hostName: 'collector-test-host', machineId: 'feedfacefeedfacefeedfacefeedface', serviceVersion: '0.1.0' },
    { topic, env: {} },
  );
  t.truthy(tel);
  t.is(tel!.traces, `otlp ${col.endpoint}/v1/traces`);
  t.true(tel!.tracer.enabled);

  const c = sinkConfig({ kafka: { topic, batch: { lingerMs: 2 } } });
  const transport = new FakeTransport();
  let published = 0;
  const metrics = tel!.registerMetrics(() => ({ publish: { batches: transport.sent.length, records: published, errors: 0 }, queue: { depth: 0 } }));
  const pt = new PipelineTelemetry(tel!.tracer, metrics);
  const sink = new KafkaSink({ kafka: c.kafka, queue: c.queue }, pt.wrapEncoder(new EcsJsonEncoder()), undefined, { transport, hooks: pt.hooks });
  await sink.start();
  const base = Date.now() * 1000;
  const records = [0, 1, 2].map((i) => sampleRecord({ eventId: `col-${i}`, timestamp: base - 2000 + i, dstPort: 8000 + i }));
  pt.sampleRecords(records, pt.now());
  sink.push(records);
  pt.afterPush();
  t.true(await sink.flush(5000));
  published = 3;
  await sink.stop(1000);
  await tel!.shutdown(); // flushes spans and a last metrics export

  const spans = await col.waitForSpans((s) => s.filter((x) => x.name === `create ${topic}`).length >= 3 && s.some((x) => x.name === `publish ${topic}`));
  const events = spans.filter((s) => s.name === `create ${topic}`);
  const batches = spans.filter((s) => s.name === `publish ${topic}`);
  t.is(events.length, 3);
  const linked = new Set(batches.flatMap((b) => (b.links ?? []).map((l) => hexId(l.spanId))));
  for (const ev of events) {
    t.true(linked.has(hexId(ev.spanId)), 'the publish span links to every sampled event span');
    const i = Number(String(attr(ev.attributes, 'conntrail.event.id')).slice(4));
    t.is(ev.startTimeUnixNano, String(BigInt(base - 2000 + i) * 1000n), 'the event span starts at the capture time');
    t.is(attr(ev.attributes, 'messaging.destination.name'), topic);
    t.is(attr(ev.attributes, 'server.port'), 8000 + i);
    const kids = spans.filter((s) => hexId(s.parentSpanId) === hexId(ev.spanId)).map((s) => s.name).sort();
    t.deepEqual(kids, ['encode', 'enrich', 'kafka ack', 'queue wait', 'ringbuf']);
  }
  for (const b of batches) {
    t.is(attr(b.attributes, 'messaging.system'), 'kafka');
    t.is(attr(b.attributes, 'messaging.operation.type'), 'send');
    t.is(typeof attr(b.attributes, 'messaging.batch.message_count'), 'number');
  }
  const resource = col.resources()[0];
  t.is(attr(resource, 'service.name'), 'conntrail');
  t.is(attr(resource, 'host.name'), 'collector-test-host');
  t.is(attr(resource, 'host.id'), 'feedfacefeedfacefeedfacefeedface');

  // The metrics went out too (the last export at shutdown).
  const deadline = Date.now() + 10_000;
  while (!col.metricNames().has('conntrail.publish.records') && Date.now() < deadline) await sleep(100);
  for (const name of ['conntrail.publish.records', 'conntrail.publish.batches', 'conntrail.queue.depth', 'conntrail.pipeline.latency']) {
    t.true(col.metricNames().has(name), name);
  }

  // And what a person reads in the collector's debug output.
  const text = col.debugText();
  if (process.env.CONNTRAIL_SHOW_COLLECTOR === '1') t.log(text);
  t.regex(text, new RegExp(`Name\\s*: publish ${topic.replaceAll('.', '\\.')}`));
  t.regex(text, new RegExp(`Name\\s*: create ${topic.replaceAll('.', '\\.')}`));
  t.regex(text, /Name\s*: kafka ack/);
});

await collectorTest('the standard OTEL_* variables alone point conntrail at the collector', [], async (t) => {
  const col = await startCollector(t);
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: col.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  Object.assign(process.env, env); // the SDK's exporters read process.env
  let tel;
  try {
    tel = await startTelemetry(telemetryConfig({ sampleRatio: 1 }), { hostName: 'env-host' }, { topic: 'env-topic', env });
  } finally {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_BSP_SCHEDULE_DELAY;
  }
  t.teardown(() => tel?.shutdown());
  t.is(tel!.traces, 'env');
  t.true(tel!.tracer.enabled);
  const ev = tel!.tracer.sampleEvent(Date.now() * 1000)!;
  tel!.tracer.startBatch('env-topic', 1, [ev]).end();
  // Exported by the batch span processor on its schedule, without a shutdown.
  const spans = await col.waitForSpans((s) => s.some((x) => x.name === 'publish env-topic') && s.some((x) => x.name === 'create env-topic'));
  t.is(attr(col.resources()[0], 'host.name'), 'env-host');
  t.true(spans.length >= 3);
});
