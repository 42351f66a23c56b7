// The pipeline as `conntrail run` builds it: producer/run.ts's startPipeline()
// (same classes, same options from the same config, telemetry included), with
// what the benchmarks pass it: the sink hooks, a tap on each batch's events and
// records, the what-if transports, and synthetic ring-buffer batches instead of
// the kernel capture (SyntheticSource).
import net from 'node:net';
import pino from 'pino';
import { clockOffsetNs, getLayout } from 'bpf-native-loader';
import type { ProbeName, RecordLayout } from 'bpf-native-loader';
import type { ConntrailConfig } from '../../producer/config/load.ts';
import { loadConfig } from '../../producer/config/load.ts';
import { LOCAL_BROKERS, LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';
import { startPipeline } from '../../producer/run.ts';
import type { PipelineOptions, PipelineSource, RunningPipeline } from '../../producer/run.ts';
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import { BatchStep } from '../../producer/source/batch.ts';
import type { CaptureCounters, CaptureSource, CaptureSourceOptions } from '../../producer/source/capture.ts';
import { RecordDecoder } from '../../producer/source/decode.ts';
import { ProcessContextCache } from '../../producer/source/process-context.ts';
import type { CaptureEvent } from '../../producer/source/types.ts';

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

/** The process-context cache run.ts gives the capture source (producer/source/process-context.ts). */
export { processContextFor } from '../../producer/source/process-context.ts';

/**
 * The source of the ceiling: ring-buffer batches the bench builds
 * (bench/lib/frames.ts) instead of the kernel's, handed to the pipeline by
 * push() one at a time, through CaptureSource's own per-batch step
 * (producer/source/batch.ts) with the process-context cache run.ts configures.
 * Counters as CaptureSource reports them (no kernel: no drops).
 */
export class SyntheticSource implements PipelineSource {
  readonly #step: BatchStep;
  readonly #onEvents: (events: CaptureEvent[]) => void;

  constructor(opts: CaptureSourceOptions, layout: RecordLayout = getLayout()) {
    const decoder = new RecordDecoder({ layout, wallOffsetNs: clockOffsetNs() });
    this.#step = new BatchStep(decoder, opts.processContext instanceof ProcessContextCache ? opts.processContext : new ProcessContextCache());
    this.#onEvents = opts.onEvents;
  }

  /** The probe bench/lib/frames.ts writes into its connect records. */
  get probe(): ProbeName {
    return 'cgroup';
  }

  report(): string[] {
    return [];
  }

  /** One ring-buffer batch through the pipeline, synchronously (as the native loader delivers one). */
  push(data: Buffer): void {
    const events = this.#step.run(data);
    if (events.length) this.#onEvents(events);
  }

  counters(): CaptureCounters {
    const step = this.#step.counters();
    const drops = { connectRingFull: 0, dnsRingFull: 0, dnsReadError: 0, outcomeRingFull: 0, execRingFull: 0 };
    return {
      ...step, drops,
      kernel: { ...drops, connectSeen: step.received.connect, dnsSeen: step.received.dns, excludedSelf: 0, excludedPort: 0, excludedCidr: 0, outcomeSeen: 0, execSeen: 0, outcomeExcluded: 0 },
      native: null,
    };
  }

  /** Decoding's drops (no kernel). */
  dropTotal(): number {
    let n = 0;
    for (const v of Object.values(this.#step.decoder.counts.malformed)) n += v;
    return n;
  }

  async stop(): Promise<void> {}
}

/** The what-if transports (not shipped code) instead of kafkajs; none: kafkajs, as shipped. */
export interface WhatIf {
  /** No Kafka client at all (bench/lib/null-transport.ts). */
  nullTransport?: boolean;
  /** @platformatic/kafka instead of kafkajs (bench/lib/platformatic-transport.ts). */
  platformatic?: boolean;
}

async function whatIfTransport(kafka: ConntrailConfig['kafka'], whatIf: WhatIf): Promise<SinkTransport> {
  if (whatIf.nullTransport) {
    const { NullTransport } = await import('./null-transport.ts');
    return new NullTransport();
  }
  const { available, PlatformaticTransport } = await import('./platformatic-transport.ts');
  const why = await available();
  if (why) throw new Error(why);
  return new PlatformaticTransport(kafka);
}

export interface BenchPipelineOptions<S extends PipelineSource> extends Pick<PipelineOptions<S>, 'hooks' | 'tap' | 'openSource'>, WhatIf {
  /** Called for each event the tracer samples (telemetry on). */
  countSampled?(): void;
}

/**
 * startPipeline() as `conntrail run` calls it, with the bench's options. Its log
 * goes to stderr from level warn (stdout carries the worker's result); the
 * Prometheus endpoint gets a free port (the default 9464 may be taken on a
 * shared machine); OTEL_* variables of the environment are not read.
 */
export async function startBenchPipeline<S extends PipelineSource = CaptureSource>(cfg: ConntrailConfig, options: BenchPipelineOptions<S> = {}): Promise<RunningPipeline<S>> {
  if (cfg.telemetry.prometheusPort !== 0) cfg.telemetry.prometheusPort = await freePort();
  const { hooks, tap, openSource, countSampled: count, ...whatIf } = options;
  // the what-if transports write the records' topic only: no status records beside them
  if (whatIf.nullTransport || whatIf.platformatic) cfg.agent.heartbeatSec = 0;
  return startPipeline<S>(cfg, pino({ name: 'conntrail', level: 'warn' }, pino.destination(2)), {
    ...(hooks ? { hooks } : {}),
    ...(tap ? { tap } : {}),
    ...(openSource ? { openSource } : {}),
    ...(whatIf.nullTransport || whatIf.platformatic ? { transport: (kafka) => whatIfTransport(kafka, whatIf) } : {}),
    telemetry: {
      env: {},
      ...(count ? {
        wrapTracer: (inner) => ({
          enabled: inner.enabled,
          sampleEvent(...a: Parameters<typeof inner.sampleEvent>) {
            const e = inner.sampleEvent(...a);
            if (e !== null) count();
            return e;
          },
          startBatch: (...a: Parameters<typeof inner.startBatch>) => inner.startBatch(...a),
        }),
      } : {}),
    },
  });
}
