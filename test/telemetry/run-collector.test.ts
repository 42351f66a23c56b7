// `conntrail run` as a user runs it (the real CLI, real capture as root, the
// local Kafka and registry), pointed at a real OpenTelemetry Collector: the
// collector's output shows the `publish <topic>` batch spans and the sampled
// event spans of the connects this test makes, and a scrape of the
// Prometheus endpoint shows the counters moving with that traffic.
import { randomUUID } from 'node:crypto';
import { startConntrail } from '../helpers/conntrail-process.ts';
import { brokerList, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';
import { attr, collectorTest, hexId, startCollector, type OtlpSpan } from './collector.ts';
import { connectTimes, freePort, scrape } from './helpers.ts';


// This test's connects go to their own loopback address, and conntrail is
// told to capture no other IPv4 address (excluded in the kernel), so other
// traffic on the host (benchmarks...) cannot crowd the spans out. IPv6 is
// left alone: an exclusion of ::/0 also covers IPv4 (the kernel filter keys
// IPv4 as IPv4-mapped IPv6).
const TARGET = '127.0.0.77';

/** The CIDRs that cover every IPv4 address except `ip`. */
function allBut(ip: string): string[] {
  const n = ip.split('.').reduce((a, b) => (a << 8) | Number(b), 0) >>> 0;
  const out: string[] = [];
  for (let len = 1; len <= 32; len++) {
    const flipped = (n ^ (1 << (32 - len))) >>> 0;
    const masked = len === 32 ? flipped : (flipped & ~((1 << (32 - len)) - 1)) >>> 0;
    out.push(`${[24, 16, 8, 0].map((sh) => (masked >>> sh) & 255).join('.')}/${len}`);
  }
  return out;
}

const N = 20;

await collectorTest('conntrail run -> real collector: publish spans and sampled event spans; Prometheus counters move with the traffic', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const col = await startCollector(t);
  const promPort = await freePort();
  const topic = `telemetry-run-${randomUUID().slice(0, 8)}`;
  const conntrail = await startConntrail(t, {
    kafka: { brokers: brokerList(KAFKA_BROKERS), topic, batch: { lingerMs: 5 } },
    registry: { url: REGISTRY_URL },
    // Every connect sampled, so the check is exact; the default is 0.001.
    telemetry: { enabled: true, otlpEndpoint: col.endpoint, sampleRatio: 1, prometheusPort: promPort },
    capture: { exclude: { cidrs: allBut(TARGET) } },
    log: { statsIntervalSec: 0 },
  });
  const prom = `http://127.0.0.1:${promPort}/metrics`;
  const before = await scrape(prom);

  const port = await connectTimes(N, TARGET);

  // The counters move: wait until the records of those connects are acknowledged.
  const sum = (m: Map<string, number>, prefix: string): number => [...m].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);
  let after = before;
  const deadline = Date.now() + 30_000;
  while (sum(after, 'conntrail_publish_records_total') - sum(before, 'conntrail_publish_records_total') < N && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    after = await scrape(prom);
  }
  t.true(sum(after, 'conntrail_capture_events_total{kind="connect"') - sum(before, 'conntrail_capture_events_total{kind="connect"') >= N, 'connects captured');
  t.true(sum(after, 'conntrail_publish_records_total') - sum(before, 'conntrail_publish_records_total') >= N, 'records published');
  t.true(sum(after, 'conntrail_publish_batches_total') > sum(before, 'conntrail_publish_batches_total'), 'batches published');
  t.true((after.get('conntrail_pipeline_latency_count') ?? 0) >= 1, 'capture -> ack latency recorded (per batch)');
  t.true([...after.keys()].some((k) => k.startsWith('target_info{') && k.includes('service_name="conntrail"')));

  // SIGTERM flushes the queue, then the spans.
  conntrail.child.kill('SIGTERM');
  t.is(await conntrail.exited, 0, conntrail.lines.slice(-20).join('\n'));

  const mineOf = (spans: OtlpSpan[]) => spans.filter((s) => s.name === `create ${topic}` && attr(s.attributes, 'server.port') === port);
  const spans = await col.waitForSpans((s) => mineOf(s).length >= N && s.some((x) => x.name === `publish ${topic}`));
  const mine = mineOf(spans);
  t.is(mine.length, N, 'one event span per connect of this test');
  const publish = spans.filter((s) => s.name === `publish ${topic}`);
  const linked = new Set(publish.flatMap((b) => (b.links ?? []).map((l) => hexId(l.spanId))));
  for (const ev of mine) {
    t.true(linked.has(hexId(ev.spanId)), 'a publish span links to the event span');
    t.is(attr(ev.attributes, 'process.pid'), process.pid);
    t.is(attr(ev.attributes, 'server.address'), TARGET);
    const kids = spans.filter((s) => hexId(s.parentSpanId) === hexId(ev.spanId)).map((s) => s.name).sort();
    t.deepEqual(kids, ['encode', 'enrich', 'kafka ack', 'queue wait', 'ringbuf']);
  }
  for (const b of publish) t.is(attr(b.attributes, 'messaging.destination.name'), topic);
  t.is(attr(col.resources()[0], 'service.name'), 'conntrail');

  const text = col.debugText();
  t.regex(text, new RegExp(`Name\\s*: publish ${topic}`));
  t.regex(text, new RegExp(`Name\\s*: create ${topic}`));
  if (process.env.CONNTRAIL_SHOW_COLLECTOR === '1') t.log(text);
});
