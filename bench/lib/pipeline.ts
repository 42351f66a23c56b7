// The pipeline as producer/run.ts builds it (same classes, same options from
// the same config), plus the sink hooks the benchmarks need. startPipeline()
// in run.ts cannot take SinkHooks yet, so the benchmarks assemble the stages
// themselves; keep this file in step with run.ts.
import type { ConntrailConfig } from '../../producer/config/load.ts';
import type { RecordEncoder } from '../../producer/encode/types.ts';
import { loadConfig } from '../../producer/config/load.ts';
import { LOCAL_BROKERS, LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import type { KafkaSink, KafkaSinkOptions, SinkHooks } from '../../producer/sink/sink.ts';
import type { CaptureSource } from '../../producer/source/capture.ts';
import { ProcessContextCache } from '../../producer/source/process-context.ts';
import type { RecordDecoder } from '../../producer/source/decode.ts';
import type { CaptureEvent } from '../../producer/source/types.ts';
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

export interface Publisher {
  sink: KafkaSink;
  enricher: Enricher;
}

/** Sink (encoder resolved through the registry, kafkajs connected, topic ensured) and enricher, as run.ts makes them. */
export async function startPublisher(
  cfg: ConntrailConfig,
  hooks: SinkHooks = {},
  sinkOptions: Omit<KafkaSinkOptions, 'hooks'> = {},
  wrapEncoder?: (e: RecordEncoder) => RecordEncoder,
): Promise<Publisher> {
  let sink: KafkaSink;
  if (wrapEncoder) {
    // startSink's steps, with the encoder wrapped (telemetry's PipelineTelemetry.wrapEncoder)
    const { createEncoder } = await import('../../producer/encode/create.ts');
    const { KafkaSink: Sink } = await import('../../producer/sink/sink.ts');
    sink = new Sink({ kafka: cfg.kafka, queue: cfg.queue }, wrapEncoder(await createEncoder(cfg)), undefined, { ...sinkOptions, hooks });
    await sink.start();
  } else {
    const { startSink } = await import('../../producer/sink/start.ts');
    sink = await startSink(cfg, undefined, { ...sinkOptions, hooks });
  }
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

/** run.ts's onEvents: enrich into a reused array, push to the sink. */
export function enrichAndPush(enricher: Enricher, sink: KafkaSink, records: NetTCPConnect[], events: CaptureEvent[]): void {
  records.length = 0;
  enricher.process(events, records);
  if (records.length > 0) sink.push(records);
}
