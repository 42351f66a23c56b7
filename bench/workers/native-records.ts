// The records the ceiling publishes, written to a file for the native client
// (bench/lib/native-client.ts: kcat, librdkafka). The ceiling's own input
// (buildSyntheticInput with its seed) goes through the same pipeline
// (startBenchPipeline, default config, the registry's schema id in the
// Confluent header), with the null transport in place of kafkajs: the
// encoded key and value of every message the sink hands to its transport in
// the measured window, after the same warm-up, are what kcat then produces.
//
// File format: kcat's producer input, `key KEY_DELIM value DELIM` per record.
// The values are binary Avro and contain every byte value, kcat splits on
// delimiter strings (no NUL, found with a forward scan), so both delimiters
// are 8 distinct bytes >= 0x80 (no self-overlap, so only a real occurrence can
// end a record early) and every record is checked: the key delimiter first
// occurs right after the key, the record delimiter never occurs inside a
// record. The worker fails rather than write a file kcat would split wrongly.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { SinkBatch, SinkHooks } from '../../producer/sink/sink.ts';
import { buildSyntheticInput, rng } from '../lib/frames.ts';
import { benchConfig, startBenchPipeline, SyntheticSource } from '../lib/pipeline.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface NativeRecordsOptions {
  /** Topic the records are encoded for (its subject in the registry); the native client's topic. */
  topic: string;
  /** As the ceiling's options: records of the measured window, distinct connects in the input, warm-up records. */
  records: number;
  inputConnects: number;
  warmupRecords: number;
  maxOutstanding: number;
  /** The file to write. */
  file: string;
}

export interface NativeRecordsResult {
  file: string;
  records: number;
  /** Bytes of keys and values (the delimiters not counted). */
  bytes: number;
  avgKeyBytes: number;
  avgValueBytes: number;
  /** Both delimiters as kcat's -K / -D arguments (\xNN escapes). */
  keyDelim: string;
  delim: string;
  /** The Confluent header's schema id of the first value. */
  schemaId: number;
}

const o = workerOptions<NativeRecordsOptions>();

/** 8 distinct bytes from 0x80-0xff. */
function delimiter(rand: () => number): Buffer {
  const bytes = new Set<number>();
  while (bytes.size < 8) bytes.add(0x80 + Math.floor(rand() * 0x80));
  return Buffer.from([...bytes]);
}
const rand = rng(15);
const KEY_DELIM = delimiter(rand);
const DELIM = delimiter(rand);
const kcatArg = (b: Buffer): string => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');

const cfg = benchConfig({ kafka: { topic: o.topic } });
const input = buildSyntheticInput({ connects: o.inputConnects, seed: 7 }); // the ceiling's input

mkdirSync(path.dirname(o.file), { recursive: true });
const fd = openSync(o.file, 'w');
let capturing = false;
let written = 0;
let bytes = 0;
let keyBytes = 0;
let schemaId = -1;
let acked = 0;
let ackWaiter: (() => void) | null = null;

const seen = new WeakSet<SinkBatch>(); // a batch sent again (a retry) is written once
function capture(batch: SinkBatch): void {
  if (!capturing || seen.has(batch)) return;
  seen.add(batch);
  const parts: Buffer[] = [];
  for (const m of batch.messages) {
    if (written >= o.records) break;
    if (m.key === null) throw new Error('a message without a key: the native client input needs keys (kafka.keyStrategy none?)');
    const key = Buffer.from(m.key);
    const rec = Buffer.concat([key, KEY_DELIM, m.value]);
    if (rec.indexOf(KEY_DELIM) !== key.length) throw new Error(`record ${written}: the key delimiter occurs in its key`);
    if (rec.indexOf(DELIM) !== -1) throw new Error(`record ${written}: the record delimiter occurs in it`);
    if (schemaId < 0) schemaId = m.value.readUInt32BE(1);
    parts.push(rec, DELIM);
    written++;
    bytes += key.length + m.value.length;
    keyBytes += key.length;
  }
  if (parts.length) writeSync(fd, Buffer.concat(parts));
}

const hooks: SinkHooks = {
  onBatchSend: capture,
  onBatchSent(batch: SinkBatch) {
    acked += batch.messages.length;
    const w = ackWaiter;
    ackWaiter = null;
    w?.();
  },
};

let pushed = 0;
const pipeline = await startBenchPipeline(cfg, {
  hooks,
  nullTransport: true,
  openSource: (opts) => new SyntheticSource(opts),
  tap(_events, batch) { pushed += batch.length; },
});
const { sink, source } = pipeline;

let batchIndex = 0;
async function feed(target: number): Promise<void> {
  const stopAt = pushed + target;
  while (pushed < stopAt) {
    while (pushed - acked > o.maxOutstanding) await new Promise<void>((r) => { ackWaiter = r; });
    source.push(input.batches[batchIndex++ % input.batches.length]!);
    await yieldToLoop();
  }
}

// as the ceiling: the warm-up's records are not the measured ones
await feed(o.warmupRecords);
if (!(await sink.flush(60_000))) throw new Error('warm-up did not drain');
capturing = true;
await feed(o.records);
if (!(await sink.flush(120_000))) throw new Error('the sink did not drain within 120 s');
await pipeline.stop(10_000);
closeSync(fd);
if (written !== o.records) throw new Error(`captured ${written} records, expected ${o.records}`);
note(`native client input: ${written} records, ${(bytes / 1048576).toFixed(1)} MiB of keys and values, schema id ${schemaId}, ${o.file}`);

const result: NativeRecordsResult = {
  file: o.file, records: written, bytes, avgKeyBytes: keyBytes / written, avgValueBytes: (bytes - keyBytes) / written,
  keyDelim: kcatArg(KEY_DELIM), delim: kcatArg(DELIM), schemaId,
};
emitResult(result);
