// The outage scenario of issue 13: the whole pipeline as run.ts builds it
// (SyntheticSource in place of the kernel capture, Avro, the disk spool on in
// a temporary directory, the rest at its defaults) at a fixed rate against a
// private Kafka broker (test/publish/private-broker.ts: its own ports and data
// directory, never the shared stack). The broker is stopped (SIGKILL) for
// `outageSeconds`, started again, and the worker waits until everything is
// acknowledged. Lost is counted by reading the topic back: generated minus the
// distinct eventIds on it (the first Avro field, read from the Confluent wire
// format without decoding the rest), not from the producer's counters.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { SinkBatch } from '../../producer/sink/sink.ts';
import { PrivateBroker } from '../../test/publish/private-broker.ts';
import { buildSyntheticInput } from '../lib/frames.ts';
import { benchConfig, startBenchPipeline, SyntheticSource } from '../lib/pipeline.ts';
import { cpuSeconds, rssSampler } from '../lib/proc.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface OutageOptions {
  /** Records/s offered to the pipeline. */
  rate: number;
  /** Seconds of traffic with the broker up, before the outage and after it. */
  beforeSeconds: number;
  afterSeconds: number;
  /** Seconds the broker is down. */
  outageSeconds: number;
}

export interface OutageResult {
  rate: number;
  outageSeconds: number;
  generated: number;
  /** Records the producer saw acknowledged (onBatchSent). */
  acknowledged: number;
  /** Distinct eventIds read back from the topic. */
  distinctOnTopic: number;
  messagesOnTopic: number;
  /** generated - distinctOnTopic */
  lost: number;
  /** messagesOnTopic - distinctOnTopic */
  duplicates: number;
  sinkDrops: number;
  spoolPeakBytes: number;
  spoolPeakRecords: number;
  /** From the broker's restart to every record acknowledged (traffic continues meanwhile). */
  drainSeconds: number;
  /** Producer CPU, cores (CPU-s / wall s). */
  cpuCoresOutage: number;
  cpuCoresDrain: number;
  peakRssMiB: number;
}

const o = workerOptions<OutageOptions>();
const broker = await PrivateBroker.create();
const spoolDir = mkdtempSync(path.join(tmpdir(), 'conntrail-bench-outage-'));
const topic = `conntrail.bench.outage.${Date.now()}`;
const cfg = benchConfig({ kafka: { topic, brokers: broker.brokers, topicPartitions: 1 }, spool: { directory: spoolDir } });

// small kernel-like batches, so the rate is steady: ~20 connects each
const input = buildSyntheticInput({ connects: 20_000, seed: 7, batchBytes: 4096 });
let generated = 0;
let acknowledged = 0;
const pipeline = await startBenchPipeline(cfg, {
  openSource: (opts) => new SyntheticSource(opts),
  hooks: { onBatchSent(b: SinkBatch) { acknowledged += b.messages.length; } },
  tap(_events, records) { generated += records.length; },
});
const { sink, source } = pipeline;

let spoolPeakBytes = 0;
let spoolPeakRecords = 0;
const spoolTimer = setInterval(() => {
  const s = sink.stats().spool;
  if (s) { spoolPeakBytes = Math.max(spoolPeakBytes, s.bytes); spoolPeakRecords = Math.max(spoolPeakRecords, s.records); }
}, 500);
const rss = rssSampler(200);

let batch = 0;
let running = true;
// paced feed: push batches until `generated` keeps up with rate x elapsed
const feeding = (async () => {
  const t0 = performance.now();
  while (running) {
    const due = ((performance.now() - t0) / 1000) * o.rate;
    while (generated < due) source.push(input.batches[batch++ % input.batches.length]!);
    await sleep(10);
  }
})();

await sleep(o.beforeSeconds * 1000);
note(`outage: broker down for ${o.outageSeconds} s (generated ${generated}, acknowledged ${acknowledged})`);
await broker.stop('SIGKILL');
const cpuDown0 = cpuSeconds();
await sleep(o.outageSeconds * 1000);
const cpuDown = cpuSeconds() - cpuDown0;
note(`outage: broker back (generated ${generated}, acknowledged ${acknowledged}, spool ${spoolPeakRecords} records / ${spoolPeakBytes} bytes at peak)`);
await broker.start();
const up = performance.now();
const cpuUp0 = cpuSeconds();
// drained: the spool holds nothing unacknowledged and the acks caught up with the offered traffic
// (records the sink dropped, e.g. past spool.maxBytes, are never acknowledged: counted out, or this never ends)
const behind = (): number => { const st = sink.stats(); return Math.max(st.spool?.records ?? 0, generated - acknowledged - st.droppedTotal); };
while (behind() > 1000) await sleep(200);
const drainSeconds = (performance.now() - up) / 1000;
const cpuDrain = cpuSeconds() - cpuUp0;
note(`outage: drained in ${drainSeconds.toFixed(1)} s`);
await sleep(o.afterSeconds * 1000);
running = false;
await feeding;
const flushed = await sink.flush(120_000);
clearInterval(spoolTimer);
const peakRssMiB = rss.stop().peakMiB;
const stats = sink.stats();
await pipeline.stop(10_000);

// read the topic back: distinct eventIds
const ids = new Set<string>();
let messages = 0;
const kafka = new kafkajs.Kafka({ clientId: 'bench-outage-read', brokers: broker.brokers, logLevel: kafkajs.logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const end = (await admin.fetchTopicOffsets(topic)).reduce((a, p) => a + Number(p.high), 0);
await admin.disconnect();
const consumer = kafka.consumer({ groupId: `bench-outage-${Date.now()}`, maxBytes: 64 << 20 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
await new Promise<void>((resolve) => {
  void consumer.run({
    eachBatch: async ({ batch: b }) => {
      for (const m of b.messages) {
        const v = m.value!;
        // Confluent wire format: magic, 4-byte schema id, then Avro; eventId (a string) comes first
        let len = 0; let shift = 0; let i = 5; let byte: number;
        do { byte = v[i++]!; len |= (byte & 0x7f) << shift; shift += 7; } while (byte & 0x80);
        len = (len >>> 1) ^ -(len & 1);
        ids.add(v.toString('latin1', i, i + len));
        messages++;
      }
      if (messages >= end) resolve();
    },
  });
});
await consumer.disconnect();
await broker.destroy();
rmSync(spoolDir, { recursive: true, force: true });

const result: OutageResult = {
  rate: o.rate, outageSeconds: o.outageSeconds, generated, acknowledged,
  distinctOnTopic: ids.size, messagesOnTopic: messages, lost: generated - ids.size, duplicates: messages - ids.size,
  sinkDrops: stats.droppedTotal, spoolPeakBytes, spoolPeakRecords, drainSeconds,
  cpuCoresOutage: cpuDown / o.outageSeconds, cpuCoresDrain: cpuDrain / drainSeconds, peakRssMiB,
};
if (!flushed) note('outage: the final flush timed out');
emitResult(result);
