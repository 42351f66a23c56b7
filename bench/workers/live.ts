// Live capture: the whole pipeline as run.ts builds it (kernel capture ->
// decode -> process context -> enrich -> Avro -> queue -> kafkajs, default
// config: linger 10 ms, acks=-1, idempotent as configured, telemetry on as
// `conntrail run` has it without an OTLP endpoint: metrics and the Prometheus
// endpoint, no trace exporter), in this process; connect-flood in its own
// process makes TCP connects on loopback at a fixed rate for a fixed time.
//
// Counted for the generator's pid only: generated (its own count), captured
// (connect events decoded), published (acknowledged by Kafka). Kernel drops:
// the capture's ring-full counter over the measured window (not attributable
// to a pid, so any other process's drops would show too).
// Latency per record: kernel timestamp (boot clock -> wall clock, as the
// decoder converts it; µs) to the moment this process saw Kafka's
// acknowledgement of the batch (onBatchSent hook).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import type { BatchAck, SinkBatch } from '../../producer/sink/sink.ts';
import type { CaptureEvent } from '../../producer/source/types.ts';
import { startGenerator } from '../lib/gen.ts';
import { benchConfig, startBenchPipeline } from '../lib/pipeline.ts';
import { followProcCpu } from '../lib/proc.ts';
import { prepareRecordVariant, recordVariantConfig } from '../lib/record-variants.ts';
import type { RecordVariant } from '../lib/record-variants.ts';
import type { ProfileSummary } from '../lib/profile.ts';
import { latencyPercentiles } from '../lib/stats.ts';
import { startWindow } from '../lib/window.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface LiveOptions {
  topic: string;
  /** connects/s; 0 = flat out */
  rate: number;
  seconds: number;
  warmupSeconds: number;
  kafka?: Record<string, unknown>;
  /** Profile the measured window (node:inspector); write the raw profile here. */
  profile?: string;
  /** The Kafka broker's pid, to tell its CPU from other work on the machine. */
  brokerPid?: number;
  /** What-if: no Kafka client at all (bench/lib/null-transport.ts). */
  nullTransport?: boolean;
  /** What-if: @platformatic/kafka instead of kafkajs (bench/lib/platformatic-transport.ts). */
  platformatic?: boolean;
  /** The disk spool on (spool.directory in a fresh temporary directory, the rest at its defaults), as the packaged service runs. */
  spool?: boolean;
  /** The record variant (bench/lib/record-variants.ts); default v2, the shipped config. */
  record?: RecordVariant;
}

export interface LiveResult {
  targetRate: number;
  seconds: number;
  generated: number;
  generatedRate: number;
  captured: number;
  kernelDrops: number;
  published: number;
  /** Records the sink dropped (queue full...) in the window: all pids. */
  sinkDrops: number;
  /** generated - captured - kernelDrops: should be 0 (other processes' drops make it positive... or negative). */
  unaccounted: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number; count: number };
  /** false when the sink dropped records and per-record times fell back to the message timestamp (1 ms resolution). */
  latencyExact: boolean;
  cpuCores: number;
  coresPer10kEvents: number;
  peakRssMiB: number;
  batches: number;
  avgBatchRecords: number;
  /** Bytes per published message (key + value), from the sink's counts. */
  avgMessageBytes: number;
  drainMs: number;
  probe: string;
  /** Producer CPU by thread group, cores. */
  threads: Record<string, number>;
  /** CPU of the generator, the broker, and of other work on the machine (busy time not accounted for by those and this process), cores. */
  generatorCores: number;
  brokerCores: number;
  otherCores: number;
  profile?: ProfileSummary;
}

const o = workerOptions<LiveOptions>();
const spoolDir = o.spool ? mkdtempSync(path.join(tmpdir(), 'conntrail-bench-spool-')) : null;
const variant = o.record ?? 'v2';
const cfg = benchConfig({ ...recordVariantConfig(variant), kafka: { topic: o.topic, ...(o.kafka ?? {}) }, ...(spoolDir ? { spool: { directory: spoolDir } } : {}) });
await prepareRecordVariant(variant, cfg);
process.on('exit', () => { if (spoolDir) rmSync(spoolDir, { recursive: true, force: true }); });

// capture times (µs epoch) of pushed records, in push order; the sink sends in that order
let cap = 1 << 20;
let ts = new Float64Array(cap);
let gen = new Uint8Array(cap);
let head = 0;
let tail = 0;
let genPid = -1;
let captured = 0;
let published = 0;
let latencyExact = true;
let lat = new Float64Array(1 << 20);
let latN = 0;

function fifoPush(t: number, isGen: boolean): void {
  if (tail === cap) {
    const live = tail - head;
    if (live * 2 > cap) cap *= 2;
    const nts = new Float64Array(cap);
    const ngen = new Uint8Array(cap);
    nts.set(ts.subarray(head, tail));
    ngen.set(gen.subarray(head, tail));
    ts = nts; gen = ngen; tail = live; head = 0;
  }
  ts[tail] = t;
  gen[tail++] = isGen ? 1 : 0;
}

function addLatency(ms: number): void {
  if (latN === lat.length) {
    const n = new Float64Array(lat.length * 2);
    n.set(lat);
    lat = n;
  }
  lat[latN++] = ms;
}

/** Kafka acknowledged a batch: latency of each of its records from the generator, in push order. */
function onBatchSent(batch: SinkBatch, _ack: BatchAck): void {
  const ackMs = performance.timeOrigin + performance.now();
  const msgs = batch.messages;
  const n = msgs.length;
  if (latencyExact && (tail - head < n ||
      Math.floor(ts[head]! / 1000) !== Number(msgs[0]!.timestamp) ||
      Math.floor(ts[head + n - 1]! / 1000) !== Number(msgs[n - 1]!.timestamp))) {
    latencyExact = false;
    note('live: the sink dropped records; per-record latency falls back to message timestamps (ms)');
  }
  if (latencyExact) {
    for (let i = 0; i < n; i++) {
      if (gen[head] === 1) {
        addLatency(ackMs - ts[head]! / 1000);
        published++;
      }
      head++;
    }
  } else {
    for (const m of msgs) addLatency(ackMs - Number(m.timestamp));
    published += n;
  }
}

const pipeline = await startBenchPipeline(cfg, {
  nullTransport: o.nullTransport ?? false,
  platformatic: o.platformatic ?? false,
  hooks: { onBatchSent },
  tap(events: CaptureEvent[], records: NetTCPConnect[]) {
    for (const ev of events) if (ev.kind === 'connect' && ev.pid === genPid) captured++;
    for (const r of records) fifoPush(r.timestamp, r.process.pid === genPid);
  },
});
const { sink, source } = pipeline;
note(`live: probe ${source.probe}, rate ${o.rate || 'flat out'}/s for ${o.seconds} s`);

if (o.warmupSeconds > 0) {
  await startGenerator(o.rate, o.warmupSeconds).done;
  await sink.flush(15_000);
}
await new Promise((r) => setTimeout(r, 200));

const before = { kernel: source.counters().kernel, sink: sink.stats() };
const measured = await startWindow({ rssIntervalMs: 100, brokerPid: o.brokerPid, profile: o.profile });
const g = startGenerator(o.rate, o.seconds);
genPid = g.pid;
const gcpu = followProcCpu(g.pid);
const res = await g.done;
const tGenEnd = performance.now();
const genCpu = gcpu.stop();
// drain: every captured record acknowledged (or the kernel/sink lost it)
while (performance.now() - tGenEnd < 20_000) {
  const s = sink.stats();
  if (published >= captured && s.queue.records === 0 && s.inFlight.batches === 0) break;
  await new Promise((r) => setTimeout(r, 5));
}
const w = await measured.stop();
const after = { kernel: source.counters().kernel, sink: sink.stats() };
await pipeline.stop(10_000);

const window = w.seconds;
const cores = w.cpuS / window;
const kernelDrops = after.kernel.connectRingFull - before.kernel.connectRingFull;
const batches = after.sink.published.batches - before.sink.published.batches;
const sentRecords = after.sink.published.records - before.sink.published.records;
const eventsPerS = captured / res.seconds;
const result: LiveResult = {
  targetRate: o.rate,
  seconds: res.seconds,
  generated: res.connects,
  generatedRate: res.rate,
  captured,
  kernelDrops,
  published,
  sinkDrops: after.sink.droppedTotal - before.sink.droppedTotal,
  unaccounted: res.connects - captured - kernelDrops,
  latencyMs: latencyPercentiles(lat.subarray(0, latN)),
  latencyExact,
  cpuCores: cores,
  coresPer10kEvents: eventsPerS > 0 ? cores / (eventsPerS / 10_000) : NaN,
  peakRssMiB: w.peakRssMiB,
  batches,
  avgBatchRecords: batches > 0 ? sentRecords / batches : 0,
  avgMessageBytes: sentRecords > 0 ? (after.sink.published.bytes - before.sink.published.bytes) / sentRecords : 0,
  drainMs: w.endMs - tGenEnd,
  probe: source.probe,
  threads: w.threads,
  generatorCores: genCpu / window,
  brokerCores: w.brokerCpuS / window,
  otherCores: w.otherCores(genCpu),
  ...(w.profile ? { profile: w.profile } : {}),
};
emitResult(result);
