// The pipeline tracer against the real OpenTelemetry SDK and an in-memory
// exporter: span names, kinds, attributes, parents, links, start at the
// capture time, and a traceparent a consumer can continue from.
import test from 'ava';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, defaultTextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { createPipelineTracer, nextGap, nsToHrTime, errorType } from '../../producer/telemetry/tracing.ts';
import { NOOP_TRACER } from '../../producer/telemetry/noop.ts';

const TOPIC = 'conntrail.net-tcp-connect';

function setup(sampleRatio: number, random?: () => number) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = createPipelineTracer(provider.getTracer('conntrail-test'), { sampleRatio, topic: TOPIC, random });
  const finished = async (): Promise<ReadableSpan[]> => {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  };
  return { finished, tracer };
}

const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
const hrMs = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;
const byName = (spans: ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
// At least `ms` on the clock the tracer reads: a timer alone can fire up to a
// millisecond early by performance.now() (libuv's loop time is whole ms).
const sleep = async (ms: number): Promise<void> => {
  const until = performance.now() + ms;
  while (performance.now() < until) await new Promise((r) => setTimeout(r, Math.ceil(until - performance.now())));
};

test('a sampled event: span from the capture time to the ack, one child per stage, linked to its batch', async (t) => {
  const { finished, tracer } = setup(1);
  t.true(tracer.enabled);
  const captureNs = nowNs() - 3_000_000n + 123n; // captured 3 ms ago, odd ns on purpose
  const ev = tracer.sampleEvent(captureNs);
  t.truthy(ev);
  await sleep(2);
  ev!.mark('enriched');
  ev!.setAttributes({ 'server.address': '93.184.216.34', 'server.port': 443 });
  await sleep(1);
  ev!.mark('encoded');
  ev!.mark('queued');
  const headers = ev!.headers();
  await sleep(3);
  const batch = tracer.startBatch(TOPIC, 250, [ev!], 40_000);
  await sleep(2);
  batch.end();
  t.true(ev!.ended);

  const spans = (await finished());
  const [event] = byName(spans, `create ${TOPIC}`);
  const [pub] = byName(spans, `publish ${TOPIC}`);
  t.truthy(event);
  t.truthy(pub);

  // The event span starts exactly at the kernel capture time.
  t.deepEqual(event!.startTime, nsToHrTime(captureNs));
  t.is(event!.kind, SpanKind.PRODUCER);
  t.is(event!.parentSpanContext, undefined);
  t.like(event!.attributes, {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'create',
    'messaging.destination.name': TOPIC,
    'server.address': '93.184.216.34',
    'server.port': 443,
  });

  // The batch span: messaging conventions, links to the sampled event given at start.
  t.is(pub!.kind, SpanKind.PRODUCER);
  t.is(pub!.parentSpanContext, undefined);
  t.deepEqual(pub!.attributes, {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
    'messaging.destination.name': TOPIC,
    'messaging.batch.message_count': 250,
    'conntrail.batch.bytes': 40_000,
  });
  t.is(pub!.links.length, 1);
  t.deepEqual(pub!.links[0]!.context, event!.spanContext());
  t.is(pub!.status.code, SpanStatusCode.UNSET);

  // Children of the event span, in order, contiguous, from capture to ack.
  const eventId = event!.spanContext().spanId;
  const children = spans.filter((s) => s.parentSpanContext?.spanId === eventId);
  t.deepEqual(children.map((s) => s.name), ['ringbuf', 'enrich', 'encode', 'queue wait', 'kafka ack']);
  for (const c of children) t.is(c.spanContext().traceId, event!.spanContext().traceId);
  t.deepEqual(children[0]!.startTime, event!.startTime);
  // Contiguous, except that `queue wait` starts at the 'queued' mark (a gap
  // after `encode` is time spent between encoding and enqueueing).
  for (const i of [1, 2, 4]) t.deepEqual(children[i]!.startTime, children[i - 1]!.endTime);
  t.true(hrMs(children[3]!.startTime) >= hrMs(children[2]!.endTime));
  t.true(hrMs(children[3]!.startTime) - hrMs(children[2]!.endTime) < 1);
  t.deepEqual(children[4]!.endTime, event!.endTime);
  t.true(hrMs(children[0]!.endTime) - hrMs(children[0]!.startTime) >= 2.5, 'ringbuf covers the 3 ms before sampleEvent');
  t.true(hrMs(children[1]!.endTime) - hrMs(children[1]!.startTime) >= 1.5, 'enrich');
  t.true(hrMs(children[3]!.endTime) - hrMs(children[3]!.startTime) >= 2.5, 'queue wait');
  t.true(hrMs(children[4]!.endTime) - hrMs(children[4]!.startTime) >= 1.5, 'kafka ack');
  t.deepEqual(children[4]!.links.map((l) => l.context), [pub!.spanContext()]);
  // The batch span ends at the same instant as the event spans it acknowledged.
  t.deepEqual(pub!.endTime, event!.endTime);

  // traceparent: W3C format, the event span's ids, continuable by a consumer.
  t.regex(headers.traceparent!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  t.is(headers.traceparent, `00-${event!.spanContext().traceId}-${eventId}-01`);
  const extracted = trace.getSpanContext(new W3CTraceContextPropagator().extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  t.is(extracted?.traceId, event!.spanContext().traceId);
  t.is(extracted?.spanId, eventId);
  t.true(extracted?.isRemote);
});

test('a failed batch: error.type and error status on the batch span and on its events', async (t) => {
  const { finished, tracer } = setup(1);
  const a = tracer.sampleEvent(nowNs())!;
  const b = tracer.sampleEvent(nowNs())!;
  a.mark('enriched');
  b.mark('enriched');
  const batch = tracer.startBatch(TOPIC, 2, [a, b]);
  const err = Object.assign(new Error('The topic does not exist'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  batch.end(err);
  batch.end(); // a second end is ignored
  const spans = (await finished());
  const pub = byName(spans, `publish ${TOPIC}`);
  t.is(pub.length, 1);
  t.is(pub[0]!.attributes['error.type'], 'UNKNOWN_TOPIC_OR_PARTITION');
  t.is(pub[0]!.status.code, SpanStatusCode.ERROR);
  t.is(pub[0]!.status.message, 'The topic does not exist');
  t.is(pub[0]!.events[0]?.name, 'exception');
  t.is(pub[0]!.links.length, 2);
  const events = byName(spans, `create ${TOPIC}`);
  t.is(events.length, 2);
  for (const e of events) {
    t.is(e.attributes['error.type'], 'UNKNOWN_TOPIC_OR_PARTITION');
    t.is(e.status.code, SpanStatusCode.ERROR);
  }
  t.is(byName(spans, 'kafka ack').filter((s) => s.status.code === SpanStatusCode.ERROR).length, 2);
});

test('a dropped event ends with error.type = the reason and no Kafka child spans', async (t) => {
  const { finished, tracer } = setup(1);
  const e = tracer.sampleEvent(nowNs())!;
  e.mark('enriched');
  e.mark('encoded');
  e.dropped('queue_full');
  e.dropped('again'); // ignored
  const spans = (await finished());
  const ev = byName(spans, `create ${TOPIC}`);
  t.is(ev.length, 1);
  t.is(ev[0]!.attributes['error.type'], 'queue_full');
  t.is(ev[0]!.status.code, SpanStatusCode.ERROR);
  t.deepEqual(
    spans.filter((s) => s.parentSpanContext).map((s) => s.name),
    ['ringbuf', 'enrich', 'encode'],
  );
});

test('unsampled events cost no span; batch spans are always recorded', async (t) => {
  const { finished, tracer } = setup(0);
  for (let i = 0; i < 10_000; i++) t.is(tracer.sampleEvent(nowNs()), null);
  tracer.startBatch(TOPIC, 10_000, []).end();
  const spans = (await finished());
  t.deepEqual(spans.map((s) => s.name), [`publish ${TOPIC}`]);
  t.deepEqual(spans[0]!.links, []);
});

test('the sampler takes about ratio x events, independently (geometric gaps)', async (t) => {
  const { finished, tracer } = setup(0.01);
  let sampled = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    const e = tracer.sampleEvent(1_700_000_000_000_000_000n);
    if (e) {
      sampled++;
      e.dropped('test');
    }
  }
  // mean 2000, sd ~ 44.5: accept 5 sd.
  t.true(Math.abs(sampled - 2000) < 225, `sampled ${sampled}`);
  t.is(byName((await finished()), `create ${TOPIC}`).length, sampled);
  t.is(nextGap(0, Math.random), Number.POSITIVE_INFINITY);
  t.is(nextGap(1, Math.random), 1);
  t.is(nextGap(0.5, () => 0), 1);
});

test('maxPerSecond caps the event traces started in each second; the ratio still picks them', async (t) => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let clockMs = 1_700_000_000_000;
  const tracer = createPipelineTracer(provider.getTracer('conntrail-test'), { sampleRatio: 1, maxPerSecond: 5, topic: TOPIC, clock: () => clockMs });
  const takeMany = (n: number): number => {
    let traced = 0;
    for (let i = 0; i < n; i++) {
      const e = tracer.sampleEvent(nowNs());
      if (e) { traced++; e.dropped('test'); }
    }
    return traced;
  };
  t.is(takeMany(100), 5, 'first second: 5 of 100');
  clockMs += 999 - (clockMs % 1000); // last ms of the same second
  t.is(takeMany(10), 0, 'same second: none more');
  clockMs += 1;
  t.is(takeMany(100), 5, 'next second: 5 again');
  t.is((tracer as unknown as { capped: number }).capped, 200, 'what the cap left out is counted');
  await provider.forceFlush();
  t.is(byName(exporter.getFinishedSpans(), `create ${TOPIC}`).length, 10);
});

test('error.type is low-cardinality', (t) => {
  t.is(errorType(Object.assign(new Error('x'), { type: 'REQUEST_TIMED_OUT' })), 'REQUEST_TIMED_OUT');
  t.is(errorType(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  t.is(errorType(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded' })), 'KafkaJSNumberOfRetriesExceeded');
  t.is(errorType(new Error('plain')), '_OTHER');
  t.is(errorType(undefined), '_OTHER');
});

test('the no-op tracer samples nothing and runs batch callbacks', (t) => {
  t.false(NOOP_TRACER.enabled);
  t.is(NOOP_TRACER.sampleEvent(1n), null);
  const b = NOOP_TRACER.startBatch(TOPIC, 1, []);
  t.is(b.with(() => 42), 42);
  b.end(new Error('x'));
});

test('BatchTrace.with makes the batch span the active span', (t) => {
  const { tracer } = setup(0);
  const b = tracer.startBatch(TOPIC, 1, []);
  // No context manager is registered in this test, so context.with is a
  // pass-through; with one (the SDK's), the active span is the batch span.
  t.is(b.with(() => 'ran'), 'ran');
  b.end();
});

test('a capture time in epoch µs (NetTCPConnect.timestamp) starts the span at that µs', async (t) => {
  const { finished, tracer } = setup(1);
  tracer.sampleEvent(1_700_000_000_123_456)!.dropped('test');
  const [ev] = (await finished()).filter((s) => s.name === `create ${TOPIC}`);
  t.deepEqual(ev!.startTime, [1_700_000_000, 123_456_000]);
});
