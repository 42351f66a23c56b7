// Encoding: the same NetTCPConnect records (from the synthetic capture stream,
// decoded and enriched) through the Avro encoder (Confluent framing, as the
// sink uses it), JSON.stringify, and the ECS JSON encoder. Records/s per
// encoder (timed passes over all records, after a warm-up pass) and bytes per
// record. Registry-free: the Avro encoder gets a fixed schema id. What v2 of
// the record costs: the same records written with the v1 schema
// (schemas/history), and with v2 but one part of it left null (argv, the
// ancestors, the outcome fields), each beside the full v2 in the same passes.
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import { AvroEncoder } from '../../producer/encode/avro.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { communityId } from '../../producer/model/community-id.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { enrichedRecords } from '../lib/records.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface EncodingOptions { records: number; runs: number; minPassMs: number }
export interface EncoderFigures { recordsPerS: number[]; bytesPerRecord: number }
export interface EncodingResult { records: number; encoders: Record<string, EncoderFigures> }

const o = workerOptions<EncodingOptions>();
// with the outcome a joined handshake gives (the synthetic stream is enriched without the join)
const records = enrichedRecords(o.records, 11).map((r, i): NetTCPConnect => {
  const srcPort = 32768 + (i % 28000);
  return { ...r, srcIP: '192.0.2.10', srcPort, outcome: 'established', errno: null, outcomeDelayUs: 250 + (i % 500),
    communityId: communityId('192.0.2.10', srcPort, r.dstIP, r.dstPort) };
});
note(`encoding: ${records.length} records, ${records.filter((r) => r.results.length > 0).length} with names`);

const avro = new AvroEncoder(1);
const v1Schema = JSON.parse(readFileSync(new URL('../../schemas/history/NetTCPConnect.v1.avsc', import.meta.url), 'utf8')) as avsc.Schema;
const avroV1 = new AvroEncoder(1, avsc.Type.forSchema(v1Schema));
const ecs = new EcsJsonEncoder();
let sink = 0; // keeps the results alive so nothing is optimized away

// v2 with one part left null, made before timing (the copies are not measured)
const without = (edit: (r: NetTCPConnect) => NetTCPConnect): NetTCPConnect[] => records.map(edit);
const noArgv = without((r) => ({ ...r, process: { ...r.process, args: null, argsCount: null, argsTruncated: null, commandLine: null } }));
const noCommandLine = without((r) => ({ ...r, process: { ...r.process, commandLine: null } }));
const noAncestors = without((r) => ({ ...r, process: { ...r.process, ancestors: null } }));
const noOutcome = without((r) => ({ ...r, srcIP: null, srcPort: null, outcome: null, errno: null, outcomeDelayUs: null, communityId: null }));

interface Encoder { records: NetTCPConnect[]; run(r: NetTCPConnect): number; bytes(r: NetTCPConnect): number }
const encoders: Record<string, Encoder> = {
  avro: { records, run: (r) => avro.encode(r).length, bytes: (r) => avro.encode(r).length },
  'avro, v1 schema': { records, run: (r) => avroV1.encode(r).length, bytes: (r) => avroV1.encode(r).length },
  'avro v2, argv null (args, commandLine)': { records: noArgv, run: (r) => avro.encode(r).length, bytes: (r) => avro.encode(r).length },
  'avro v2, commandLine null': { records: noCommandLine, run: (r) => avro.encode(r).length, bytes: (r) => avro.encode(r).length },
  'avro v2, ancestors null': { records: noAncestors, run: (r) => avro.encode(r).length, bytes: (r) => avro.encode(r).length },
  'avro v2, outcome fields null': { records: noOutcome, run: (r) => avro.encode(r).length, bytes: (r) => avro.encode(r).length },
  'JSON.stringify': { records, run: (r) => JSON.stringify(r).length, bytes: (r) => Buffer.byteLength(JSON.stringify(r)) },
  'JSON.stringify + Buffer.from': { records, run: (r) => Buffer.from(JSON.stringify(r)).length, bytes: (r) => Buffer.byteLength(JSON.stringify(r)) },
  'ECS JSON': { records, run: (r) => ecs.encode(r).length, bytes: (r) => ecs.encode(r).length },
};

function pass(rs: NetTCPConnect[], fn: (r: NetTCPConnect) => number): number {
  let s = 0;
  for (let i = 0; i < rs.length; i++) s += fn(rs[i]!);
  return s;
}

const out: Record<string, EncoderFigures> = {};
for (const name of Object.keys(encoders)) out[name] = { recordsPerS: [], bytesPerRecord: 0 };
for (const e of Object.values(encoders)) sink += pass(e.records, e.run); // warm-up
// Runs interleave the encoders, so drift on a shared machine hits all alike.
for (let run = 0; run < o.runs; run++) {
  for (const [name, e] of Object.entries(encoders)) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      sink += pass(e.records, e.run);
      n += e.records.length;
      t = performance.now();
    } while (t - t0 < o.minPassMs);
    out[name]!.recordsPerS.push(n / ((t - t0) / 1000));
  }
}
for (const [name, e] of Object.entries(encoders)) out[name]!.bytesPerRecord = pass(e.records, e.bytes) / e.records.length;
if (sink === 42) note('');
emitResult({ records: records.length, encoders: out } satisfies EncodingResult);
