// startTelemetry() with the real SDK: the Prometheus endpoint over HTTP shows
// the pipeline's counters as they move, the latency histogram, the resource;
// a busy port is a clear error; telemetry off returns null.
import test from 'ava';
import net from 'node:net';
import { startTelemetry, TelemetryError } from '../../producer/telemetry/sdk.ts';
import type { PipelineStatsSnapshot } from '../../producer/telemetry/types.ts';
import { METRIC_DEFINITIONS } from '../../producer/telemetry/metrics.ts';
import { freePort, scrape, telemetryConfig } from './helpers.ts';

const info = { hostName: 'test-host', machineId: '0123456789abcdef0123456789abcdef', bootId: 'boot-1', serviceVersion: '0.1.0' };
const opts = { topic: 'conntrail.net-tcp-connect', env: {} };

test.serial('telemetry off: null', async (t) => {
  t.is(await startTelemetry(telemetryConfig({ enabled: false }), info, opts), null);
  t.is(await startTelemetry(telemetryConfig(), info, { ...opts, env: { OTEL_SDK_DISABLED: 'true' } }), null);
});

test.serial('the Prometheus endpoint shows the counters moving, the gauges, the histogram and the host resource', async (t) => {
  const port = await freePort();
  const tel = await startTelemetry(telemetryConfig({ prometheusPort: port }), info, opts);
  t.truthy(tel);
  t.teardown(() => tel!.shutdown());
  t.is(tel!.prometheusUrl, `http://127.0.0.1:${port}/metrics`);
  t.is(tel!.traces, 'none');
  t.false(tel!.tracer.enabled, 'no trace exporter configured: the no-op tracer');

  const s = {
    capture: { events: { connect: { cgroup: 10 }, dns: { cgroup_skb: 2 } }, kernelDrops: { ringbuf_full: 0 }, excluded: { port: 1 }, dnsAttached: 1 },
    decode: { skipped: { not_tcp: 3 } },
    dns: { parseErrors: { truncated: 1 }, cache: { size: 5, addresses: 7, hits: 4, misses: 6, expired: 0 } },
    outcome: { joined: { state: 6, syscall: 1 }, inProgress: { timeout: 2, evicted: 0, shutdown: 0 }, orphans: 3, noCookie: 1, excluded: 5, pending: 4 },
    queue: { depth: 12, bytes: 1200, drops: { full: 0 } },
    spool: { records: 40, diskOnly: 28, bytes: 9000, segments: 2, replayed: 5 },
    publish: { batches: 1, records: 8, bytes: 800, errors: 0 },
  } satisfies PipelineStatsSnapshot;
  let calls = 0;
  const m = tel!.registerMetrics(() => {
    calls++;
    return s;
  });

  const a = await scrape(tel!.prometheusUrl!);
  t.is(a.get('conntrail_capture_events_total{kind="connect",probe="cgroup"}'), 10);
  t.is(a.get('conntrail_capture_events_total{kind="dns",probe="cgroup_skb"}'), 2);
  t.is(a.get('conntrail_capture_kernel_drops_total{reason="ringbuf_full"}'), 0);
  t.is(a.get('conntrail_capture_excluded_total{reason="port"}'), 1);
  t.is(a.get('conntrail_decode_skipped_total{reason="not_tcp"}'), 3);
  t.is(a.get('conntrail_dns_parse_errors_total{reason="truncated"}'), 1);
  t.is(a.get('conntrail_dns_cache_size'), 5);
  t.is(a.get('conntrail_outcome_joined_total{source="state"}'), 6);
  t.is(a.get('conntrail_outcome_joined_total{source="syscall"}'), 1);
  t.is(a.get('conntrail_outcome_in_progress_total{reason="timeout"}'), 2);
  t.is(a.get('conntrail_outcome_orphans_total'), 3);
  t.is(a.get('conntrail_outcome_no_cookie_total'), 1);
  t.is(a.get('conntrail_outcome_excluded_total'), 5);
  t.is(a.get('conntrail_outcome_pending'), 4);
  t.is(a.get('conntrail_dns_cache_addresses'), 7);
  t.is(a.get('conntrail_dns_cache_hits_total'), 4);
  t.is(a.get('conntrail_dns_cache_misses_total'), 6);
  t.is(a.get('conntrail_dns_cache_expired_total'), 0);
  t.is(a.get('conntrail_queue_depth'), 12);
  t.is(a.get('conntrail_queue_bytes'), 1200);
  t.is(a.get('conntrail_spool_records'), 40);
  t.is(a.get('conntrail_spool_disk_only'), 28);
  t.is(a.get('conntrail_spool_bytes'), 9000);
  t.is(a.get('conntrail_spool_segments'), 2);
  t.is(a.get('conntrail_spool_replayed_total'), 5);
  t.is(a.get('conntrail_publish_batches_total'), 1);
  t.is(a.get('conntrail_publish_records_total'), 8);
  t.is(a.get('conntrail_publish_bytes_total'), 800);
  t.is(a.get('conntrail_publish_errors_total'), 0);
  t.is(calls, 1, 'one snapshot per scrape');

  // The stages count on; the next scrape shows it.
  s.capture.events.connect.cgroup = 25;
  s.capture.kernelDrops.ringbuf_full = 4;
  s.queue.depth = 3;
  s.queue.drops.full = 9;
  (s as PipelineStatsSnapshot).publish = { batches: 3, records: 30, bytes: 3000, errors: { REQUEST_TIMED_OUT: 1 } };
  for (const v of [0.004, 0.02, 0.3, 2]) m.recordLatency(v);
  const b = await scrape(tel!.prometheusUrl!);
  t.is(b.get('conntrail_capture_events_total{kind="connect",probe="cgroup"}'), 25);
  t.is(b.get('conntrail_capture_kernel_drops_total{reason="ringbuf_full"}'), 4);
  t.is(b.get('conntrail_queue_depth'), 3);
  t.is(b.get('conntrail_queue_drops_total{reason="full"}'), 9);
  t.is(b.get('conntrail_publish_records_total'), 30);
  t.is(b.get('conntrail_publish_errors_total{error_type="REQUEST_TIMED_OUT"}'), 1);
  t.is(b.get('conntrail_pipeline_latency_count'), 4);
  t.true(Math.abs(b.get('conntrail_pipeline_latency_sum')! - 2.324) < 0.01);
  t.is(b.get('conntrail_pipeline_latency_bucket{le="0.005"}'), 1);
  t.is(b.get('conntrail_pipeline_latency_bucket{le="0.025"}'), 2);
  t.is(b.get('conntrail_pipeline_latency_bucket{le="0.5"}'), 3);
  t.is(b.get('conntrail_pipeline_latency_bucket{le="2.5"}'), 4);

  // The resource: service.name conntrail and the host facts.
  const target = [...b.keys()].find((k) => k.startsWith('target_info{'));
  t.truthy(target);
  for (const l of ['service_name="conntrail"', 'service_version="0.1.0"', 'host_name="test-host"', `host_id="${info.machineId}"`, 'host_boot_id="boot-1"']) {
    t.true(target!.includes(l), l);
  }

  // Every defined instrument showed up.
  const names = new Set([...b.keys()].map((k) => k.replace(/\{.*$/, '').replace(/_(total|bucket|sum|count)$/, '')));
  for (const [name] of METRIC_DEFINITIONS) t.true(names.has(name.replaceAll('.', '_')), name);

  m.unregister();
  const before = calls;
  await scrape(tel!.prometheusUrl!);
  t.is(calls, before, 'unregistered: the snapshot is no longer read');
});

test.serial('a busy Prometheus port is a one-line TelemetryError', async (t) => {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const err = await t.throwsAsync(startTelemetry(telemetryConfig({ prometheusPort: port }), info, opts), { instanceOf: TelemetryError });
  t.regex(err!.message, new RegExp(`^telemetry.prometheusPort ${port} on 127.0.0.1: .*EADDRINUSE`));
  t.false(err!.message.includes('\n'));
});

test.serial('OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win over the built-in resource', async (t) => {
  const port = await freePort();
  const env = { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,host.name=override', OTEL_SERVICE_NAME: 'conntrail-edge' };
  Object.assign(process.env, env); // the SDK's env detector reads process.env
  let tel;
  try {
    tel = await startTelemetry(telemetryConfig({ prometheusPort: port }), info, { ...opts, env });
  } finally {
    delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    delete process.env.OTEL_SERVICE_NAME;
  }
  t.teardown(() => tel!.shutdown());
  tel!.registerMetrics(() => ({ queue: { depth: 1 } }));
  const target = [...(await scrape(tel!.prometheusUrl!)).keys()].find((k) => k.startsWith('target_info{'))!;
  t.true(target.includes('service_name="conntrail-edge"'), target);
  t.true(target.includes('host_name="override"'), target);
  t.true(target.includes('deployment_environment_name="prod"'), target);
});

test.serial('an unreachable collector: export errors go to the logger, nothing throws, shutdown returns', async (t) => {
  const port = await freePort(); // nothing listens there
  const logged: string[] = [];
  const logger = { warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
  const tel = await startTelemetry(telemetryConfig({ otlpEndpoint: `http://127.0.0.1:${port}`, sampleRatio: 1 }), info, { ...opts, logger, shutdownTimeoutMs: 1500 });
  const ev = tel!.tracer.sampleEvent(Date.now() * 1000)!;
  tel!.tracer.startBatch(opts.topic, 1, [ev]).end();
  const t0 = Date.now();
  await tel!.shutdown();
  t.true(Date.now() - t0 < 2500, 'shutdown is bounded by shutdownTimeoutMs');
  t.true(logged.some((m) => m.startsWith('opentelemetry: ')), logged.join('\n'));
  t.log(logged.join('\n'));
});
