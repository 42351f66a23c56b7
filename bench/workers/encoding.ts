// Encoding: the same NetTCPConnect records (from the synthetic capture stream,
// decoded and enriched) through the Avro encoder (Confluent framing, as the
// sink uses it), JSON.stringify, and the ECS JSON encoder. Records/s per
// encoder (timed passes over all records, after a warm-up pass) and bytes per
// record. Registry-free: the Avro encoder gets a fixed schema id.
import { AvroEncoder } from '../../producer/encode/avro.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { enrichedRecords } from '../lib/records.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface EncodingOptions { records: number; runs: number; minPassMs: number }
export interface EncoderFigures { recordsPerS: number[]; bytesPerRecord: number }
export interface EncodingResult { records: number; encoders: Record<string, EncoderFigures> }

const o = workerOptions<EncodingOptions>();
const records = enrichedRecords(o.records, 11);
note(`encoding: ${records.length} records, ${records.filter((r) => r.results.length > 0).length} with names`);

const avro = new AvroEncoder(1);
const ecs = new EcsJsonEncoder();
let sink = 0; // keeps the results alive so nothing is optimized away
const encoders: Record<string, { run(r: NetTCPConnect): number }> = {
  avro: { run: (r) => avro.encode(r).length },
  'JSON.stringify': { run: (r) => JSON.stringify(r).length },
  'JSON.stringify + Buffer.from': { run: (r) => Buffer.from(JSON.stringify(r)).length },
  'ECS JSON': { run: (r) => ecs.encode(r).length },
};
const bytesOf: Record<string, (r: NetTCPConnect) => number> = {
  avro: (r) => avro.encode(r).length,
  'JSON.stringify': (r) => Buffer.byteLength(JSON.stringify(r)),
  'JSON.stringify + Buffer.from': (r) => Buffer.byteLength(JSON.stringify(r)),
  'ECS JSON': (r) => ecs.encode(r).length,
};

function pass(fn: (r: NetTCPConnect) => number): number {
  let s = 0;
  for (let i = 0; i < records.length; i++) s += fn(records[i]!);
  return s;
}

const out: Record<string, EncoderFigures> = {};
for (const name of Object.keys(encoders)) out[name] = { recordsPerS: [], bytesPerRecord: 0 };
for (const e of Object.values(encoders)) sink += pass(e.run); // warm-up
// Runs interleave the encoders, so drift on a shared machine hits all alike.
for (let run = 0; run < o.runs; run++) {
  for (const [name, e] of Object.entries(encoders)) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      sink += pass(e.run);
      n += records.length;
      t = performance.now();
    } while (t - t0 < o.minPassMs);
    out[name]!.recordsPerS.push(n / ((t - t0) / 1000));
  }
}
for (const [name, f] of Object.entries(bytesOf)) out[name]!.bytesPerRecord = pass(f) / records.length;
if (sink === 42) note('');
emitResult({ records: records.length, encoders: out } satisfies EncodingResult);
