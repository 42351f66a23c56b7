// The pipeline as producer/run.ts builds it (same classes, same options from
// the same config, telemetry included), plus the sink hooks and the event tap
// the benchmarks need: startPipeline() in run.ts takes neither, so the
// benchmarks assemble the stages themselves. Keep this file in step with
// run.ts's startPipeline().
import net from 'node:net';
import type { ConntrailConfig } from '../../producer/config/load.ts';
import { loadConfig } from '../../producer/config/load.ts';
import { LOCAL_BROKERS, LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import type { KafkaSink, KafkaSinkOptions, SinkHooks } from '../../producer/sink/sink.ts';
import type { CaptureSource } from '../../producer/source/capture.ts';
import { ProcessContextCache } from '../../producer/source/process-context.ts';
import type { RecordDecoder } from '../../producer/source/decode.ts';
import type { CaptureEvent } from '../../producer/source/types.ts';
import type { PipelineStats } from '../../producer/stats.ts';
import type { PipelineTelemetry } from '../../producer/telemetry/pipeline.ts';
import type { Telemetry } from '../../producer/telemetry/types.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import { readHostIdentity } from '../../producer/transform/host-identity.ts';

/** Benchmark topics (created fresh, deleted at the end by bench/run.ts). */
export const BENCH_TOPIC_PREFIX = 'conntrail.bench.';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/**
 * The configuration a user gets with no config file (defaults), pointed at the
 * local stack (or CONNTRAIL_KAFKA_BROKERS / CONNTRAIL_REGISTRY_URL, as the
 * tests use), with `overrides` laid over it.
 */
export function benchConfig(overrides: DeepPartial<ConntrailConfig> = {}): ConntrailConfig {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['CONNTRAIL_KAFKA_BROKERS', 'CONNTRAIL_REGISTRY_URL'] as const) if (process.env[k]) env[k] = process.env[k];
  const cfg = loadConfig({ env, overrides: overrides as Record<string, unknown> }).config;
  if (cfg.kafka.brokers.length === 0) cfg.kafka.brokers = [...LOCAL_BROKERS];
  if (!cfg.registry.url) cfg.registry.url = LOCAL_REGISTRY_URL;
  cfg.log.statsIntervalSec = 0;
  return cfg;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface BenchTelemetry {
  telemetry: Telemetry | null;
  pt: PipelineTelemetry | null;
  /** run.ts registers the metrics over the stages' stats once they exist: set this then. */
  setStats(fn: () => PipelineStats): void;
}

/**
 * run.ts's telemetry start (before kafkajs is imported): startTelemetry with
 * cfg.telemetry, the pipeline metrics over the stages' stats, PipelineTelemetry.
 * The Prometheus endpoint gets a free port (the default 9464 may be taken on a
 * shared machine). Off (cfg.telemetry.enabled false): nothing is loaded.
 */
export async function startBenchTelemetry(cfg: ConntrailConfig, options: { countSampled?: () => void } = {}): Promise<BenchTelemetry> {
  if (!cfg.telemetry.enabled) return { telemetry: null, pt: null, setStats() {} };
  if (cfg.telemetry.prometheusPort !== 0) cfg.telemetry.prometheusPort = await freePort();
  const { startTelemetry } = await import('../../producer/telemetry/sdk.ts');
  const { PipelineTelemetry: PT, snapshotOf } = await import('../../producer/telemetry/pipeline.ts');
  const host = readHostIdentity({ name: cfg.host.name });
  const telemetry = await startTelemetry(cfg.telemetry, { hostName: host.name, machineId: host.machineId, bootId: host.bootId }, { topic: cfg.kafka.topic, env: {} });
  if (!telemetry) return { telemetry: null, pt: null, setStats() {} };
  let statsOf: (() => PipelineStats) | null = null;
  const metrics = telemetry.registerMetrics(() => (statsOf ? snapshotOf(statsOf()) : {}));
  let tracer = telemetry.tracer;
  const count = options.countSampled;
  if (count) {
    const inner = tracer;
    tracer = {
      enabled: inner.enabled,
      sampleEvent(...a: Parameters<typeof inner.sampleEvent>) {
        const e = inner.sampleEvent(...a);
        if (e !== null) count();
        return e;
      },
      startBatch: (...a: Parameters<typeof inner.startBatch>) => inner.startBatch(...a),
    };
  }
  return { telemetry, pt: new PT(tracer, metrics), setStats(fn) { statsOf = fn; } };
}

/** The bench's hooks after telemetry's (run.ts gives the sink pt.hooks only). */
export function chainHooks(first: SinkHooks | undefined, second: SinkHooks): SinkHooks {
  if (!first) return second;
  return {
    onBatchSend(b) { first.onBatchSend?.(b); second.onBatchSend?.(b); },
    onBatchSent(b, a) { first.onBatchSent?.(b, a); second.onBatchSent?.(b, a); },
    onBatchFailed(b, e) { first.onBatchFailed?.(b, e); second.onBatchFailed?.(b, e); },
  };
}

export interface Publisher {
  sink: KafkaSink;
  enricher: Enricher;
}

/** Sink (encoder resolved through the registry, kafkajs connected, topic ensured) and enricher, as run.ts makes them. */
export async function startPublisher(cfg: ConntrailConfig, tel: BenchTelemetry | null, hooks: SinkHooks = {}, sinkOptions: Omit<KafkaSinkOptions, 'hooks'> = {}): Promise<Publisher> {
  const { startSink } = await import('../../producer/sink/start.ts');
  const pt = tel?.pt ?? null;
  const sink = await startSink(cfg, undefined, {
    ...sinkOptions,
    hooks: chainHooks(pt?.hooks, hooks),
    ...(pt ? { wrapEncoder: (e) => pt.wrapEncoder(e) } : {}),
  });
  const enricher = new Enricher({
    host: readHostIdentity({ name: cfg.host.name }),
    dnsCache: {
      maxNames: cfg.enrich.dnsCache.maxNames,
      maxAddresses: cfg.enrich.dnsCache.maxAddresses,
      scope: cfg.enrich.dnsCache.scope,
      maxTtlSeconds: cfg.enrich.dnsCache.maxTtlSeconds,
    },
  });
  return { sink, enricher };
}

/** The process-context cache run.ts gives the capture source. */
export function processContextFor(cfg: ConntrailConfig): ProcessContextCache {
  return new ProcessContextCache({ maxEntries: cfg.enrich.processCache.maxEntries });
}

/**
 * What CaptureSource does with one kernel batch (decode, then process context
 * on connect events), for input that does not come from the kernel.
 */
export function decodeBatch(decoder: RecordDecoder, pc: ProcessContextCache, data: Buffer): CaptureEvent[] {
  const events = decoder.decode(data);
  for (const ev of events) {
    if (ev.kind === 'connect') {
      const ctx = pc.get(ev.pid, ev.procStartNs, ev.ppid);
      ev.exe = ctx.exe;
      ev.containerId = ctx.containerId;
      if (ev.ppid === 0 && ctx.ppid !== null) ev.ppid = ctx.ppid;
    }
  }
  return events;
}

/** Opens the kernel capture with run.ts's options; `onEvents` gets each batch's events. */
export async function openCapture(cfg: ConntrailConfig, onEvents: (events: CaptureEvent[]) => void): Promise<CaptureSource> {
  const { CaptureSource: Source } = await import('../../producer/source/capture.ts');
  return Source.open({
    ladder: cfg.capture.ladder,
    ringBytes: cfg.capture.ringBufferBytes,
    pollIntervalMs: cfg.capture.pollIntervalMs,
    captureDns: cfg.capture.dns.enabled,
    dnsPayloadCap: cfg.capture.dns.payloadCap,
    excludePorts: cfg.capture.exclude.ports,
    excludeCidrs: cfg.capture.exclude.cidrs,
    excludeSelf: true,
    ...(cfg.capture.cgroupPath ? { cgroupPath: cfg.capture.cgroupPath } : {}),
    processContext: processContextFor(cfg),
    onEvents,
  });
}

/** run.ts's onEvents: enrich into a reused array, telemetry's sampling around the push. */
export function enrichAndPush(enricher: Enricher, sink: KafkaSink, records: NetTCPConnect[], events: CaptureEvent[], pt: PipelineTelemetry | null = null): void {
  const t0 = pt ? pt.now() : 0;
  records.length = 0;
  enricher.process(events, records);
  if (records.length > 0) {
    pt?.sampleRecords(records, t0);
    sink.push(records);
    pt?.afterPush();
  }
}

/** The whole pipeline as `conntrail run` starts it (telemetry per cfg), with the bench's sink hooks and a tap on each batch's events and records. */
export async function startLivePipeline(
  cfg: ConntrailConfig,
  hooks: SinkHooks,
  tap: (events: CaptureEvent[], records: NetTCPConnect[]) => void = () => {},
  sinkOptions: Omit<KafkaSinkOptions, 'hooks'> = {},
): Promise<{ source: CaptureSource; sink: KafkaSink; enricher: Enricher; stop(flushMs?: number): Promise<void> }> {
  const tel = await startBenchTelemetry(cfg);
  const { sink, enricher } = await startPublisher(cfg, tel, hooks, sinkOptions);
  const records: NetTCPConnect[] = [];
  const source = await openCapture(cfg, (events) => {
    enrichAndPush(enricher, sink, records, events, tel.pt);
    tap(events, records);
  });
  tel.setStats(() => ({ capture: source.counters(), enrich: enricher.stats(), sink: sink.stats() }));
  return {
    source, sink, enricher,
    async stop(flushMs = cfg.shutdown.flushTimeoutMs) {
      await source.stop();
      await sink.stop(flushMs);
      tel.pt?.close();
      await tel.telemetry?.shutdown();
    },
  };
}
