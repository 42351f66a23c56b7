// Pipeline ceiling without the kernel: synthetic ring-buffer batches (real
// frames, ~1 MiB each, ~70% of connects named by DNS replies in the stream)
// through decode -> process context -> enrich -> Avro (registry) -> queue ->
// batches -> kafkajs (acks=-1) to the local broker, as fast as the sink
// takes them. Measured from the first push to the last acknowledgement.
//
// The feed stops pushing while more than `maxOutstanding` records are queued
// or unacknowledged (the native loader's backpressure: it stops draining the
// ring when JS is behind), so nothing is dropped and the figure is the rate
// the pipeline sustains.
//
// The pipeline is run.ts's startPipeline() with a SyntheticSource in place of
// the kernel capture. With `telemetry`, OpenTelemetry is started and wired in
// as `conntrail run` has it (startTelemetry before kafkajs loads;
// PipelineTelemetry: per-record sampling after enrich, the wrapped encoder,
// traceparent headers, a span per batch send, the latency histogram per
// acknowledged record; metrics over the stages' stats).
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import type { SinkHooks, SinkBatch } from '../../producer/sink/sink.ts';
import { buildSyntheticInput } from '../lib/frames.ts';
import { benchConfig, startBenchPipeline, SyntheticSource } from '../lib/pipeline.ts';
import { maxRssMiB } from '../lib/proc.ts';
import { prepareRecordVariant, recordVariantConfig, variantHasOutcomes } from '../lib/record-variants.ts';
import type { RecordVariant } from '../lib/record-variants.ts';
import type { ProfileSummary } from '../lib/profile.ts';
import { startWindow } from '../lib/window.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface CeilingOptions {
  topic: string;
  /** Records to publish in the measured window. */
  records: number;
  /** Distinct connects in the prebuilt input (cycled). */
  inputConnects: number;
  warmupRecords: number;
  maxOutstanding: number;
  /** Config overrides for kafka.* (e.g. batch.maxInFlight) — default: none (the shipped defaults). */
  kafka?: Record<string, unknown>;
  /**
   * Telemetry: off (default here), "metrics" (on as `conntrail run` has it with no
   * OTLP endpoint: Prometheus endpoint and metrics, no trace exporter, so the
   * no-op tracer), or traces over OTLP/HTTP to `otlpEndpoint` at the config's
   * sample ratio (plus metrics).
   */
  telemetry?: { mode: 'metrics' } | { mode: 'traces'; otlpEndpoint: string; sampleRatio?: number };
  /** What-if: no Kafka client at all (bench/lib/null-transport.ts). */
  nullTransport?: boolean;
  /** What-if: @platformatic/kafka instead of kafkajs (bench/lib/platformatic-transport.ts). */
  platformatic?: boolean;
  /** The Kafka broker's pid, to tell its CPU from other work on the machine. */
  brokerPid?: number;
  /** Profile the measured window; write the raw profile here. */
  profile?: string;
  /** The record variant (bench/lib/record-variants.ts); default v2, the shipped config. */
  record?: RecordVariant;
}

export interface CeilingResult {
  records: number;
  elapsedS: number;
  recordsPerS: number;
  mbPerS: number;
  cpuS: number;
  cpuSPer100k: number;
  cores: number;
  peakRssMiB: number;
  maxRssMiB: number;
  rssBeforeMiB: number;
  inputMiB: number;
  avgValueBytes: number;
  avgKeyBytes: number;
  avgMessageBytes: number;
  namedShare: number;
  ipv6Share: number;
  batches: number;
  avgBatchRecords: number;
  drops: number;
  ackLatencyP50Ms: number;
  sampledEvents: number;
  /** Producer CPU by thread group, cores. */
  threads: Record<string, number>;
  brokerCores: number;
  /** Busy CPU of the machine not accounted for by this process and the broker (other work on a shared machine), cores. */
  otherCores: number;
  profile?: ProfileSummary;
}

const o = workerOptions<CeilingOptions>();

const tmode = o.telemetry?.mode ?? 'off';
const variant = o.record ?? 'v2';
const cfg = benchConfig({
  ...recordVariantConfig(variant),
  kafka: { topic: o.topic, ...(o.kafka ?? {}) },
  telemetry: o.telemetry?.mode === 'traces'
    ? { enabled: true, otlpEndpoint: o.telemetry.otlpEndpoint, ...(o.telemetry.sampleRatio !== undefined ? { sampleRatio: o.telemetry.sampleRatio } : {}) }
    : { enabled: tmode === 'metrics', otlpEndpoint: '' },
});

await prepareRecordVariant(variant, cfg);

const input = buildSyntheticInput({ connects: o.inputConnects, seed: 7, outcomes: variantHasOutcomes(variant) });
const inputMiB = input.bytes / 1048576;
note(`input: ${input.batches.length} batches, ${input.connects} connects, ${input.dnsReplies} DNS replies, ${inputMiB.toFixed(1)} MiB, ${input.processes} processes`);

let acked = 0;
let ackWaiter: (() => void) | null = null;
const hooks: SinkHooks = {
  onBatchSent(batch: SinkBatch) {
    acked += batch.messages.length;
    const w = ackWaiter;
    ackWaiter = null;
    w?.();
  },
};

let pushed = 0;
let named = 0;
let v6 = 0;
let sampledCount = 0;
let records: NetTCPConnect[] = [];

const pipeline = await startBenchPipeline(cfg, {
  hooks,
  nullTransport: o.nullTransport ?? false,
  platformatic: o.platformatic ?? false,
  countSampled: () => { sampledCount++; },
  openSource: (opts) => new SyntheticSource(opts),
  tap(_events, batch) {
    for (const r of batch) {
      if (r.results.length > 0) named++;
      if (r.family === 'AF_INET6') v6++;
    }
    pushed += batch.length;
    records = batch;
  },
});
const { sink, source } = pipeline;

let batchIndex = 0;
function pushOne(): void {
  source.push(input.batches[batchIndex++ % input.batches.length]!);
}

async function feed(target: number): Promise<void> {
  const stopAt = pushed + target;
  while (pushed < stopAt) {
    while (pushed - acked > o.maxOutstanding) await new Promise<void>((r) => { ackWaiter = r; });
    pushOne();
    await yieldToLoop(); // one macrotask per kernel batch, as the native loader delivers them
  }
}

// Warm-up (JIT, connections, registry cache), not measured.
await feed(o.warmupRecords);
if (!(await sink.flush(60_000))) throw new Error('warm-up did not drain');
const warm = sink.stats();
pushed = 0; acked = 0; named = 0; v6 = 0; sampledCount = 0;
if (typeof globalThis.gc === 'function') globalThis.gc();

const rssBefore = process.memoryUsage.rss() / 1048576;
const window = await startWindow({ rssIntervalMs: 50, brokerPid: o.brokerPid, profile: o.profile });
await feed(o.records);
const drained = await sink.flush(120_000);
const w = await window.stop();
if (!drained) throw new Error('the sink did not drain within 120 s');

const s = sink.stats();
const published = s.published.records - warm.published.records;
const bytes = s.published.bytes - warm.published.bytes;
const batches = s.published.batches - warm.published.batches;
const elapsedS = w.seconds;
// value and key sizes of what was published: encode a sample of the last records again
let valueBytes = 0;
let keyBytes = 0;
const { messageKey } = await import('../../producer/sink/keys.ts');
for (const r of records) {
  const k = messageKey(cfg.kafka.keyStrategy, r);
  keyBytes += k === null ? 0 : Buffer.byteLength(k);
}
valueBytes = bytes / published - keyBytes / records.length;

await pipeline.stop(10_000);

const result: CeilingResult = {
  records: published,
  elapsedS,
  recordsPerS: published / elapsedS,
  mbPerS: bytes / 1048576 / elapsedS,
  cpuS: w.cpuS,
  cpuSPer100k: (w.cpuS / published) * 1e5,
  cores: w.cpuS / elapsedS,
  peakRssMiB: w.peakRssMiB,
  maxRssMiB: maxRssMiB(),
  rssBeforeMiB: rssBefore,
  inputMiB,
  avgValueBytes: valueBytes,
  avgKeyBytes: keyBytes / records.length,
  avgMessageBytes: bytes / published,
  namedShare: named / published,
  ipv6Share: v6 / published,
  batches,
  avgBatchRecords: published / batches,
  drops: s.droppedTotal,
  ackLatencyP50Ms: s.ackLatencyMs.p50,
  sampledEvents: sampledCount,
  threads: w.threads,
  brokerCores: w.brokerCpuS / elapsedS,
  otherCores: w.otherCores(),
  ...(w.profile ? { profile: w.profile } : {}),
};
emitResult(result);
