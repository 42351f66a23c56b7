// The disk spool (producer/sink/spool): write and read-back throughput of
// Avro-encoded records (the synthetic stream, enriched), in bursts of 100 as
// kernel batches come, to a temporary directory; and the CPU the spool adds to
// the sink: KafkaSink over a transport that acknowledges at once (no Kafka
// client cost, bench/lib/null-transport.ts), the same records pushed with the
// spool off and on, runs interleaved.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AvroEncoder } from '../../producer/encode/avro.ts';
import type { FsyncPolicy } from '../../producer/sink/spool/spool.ts';
import { Spool } from '../../producer/sink/spool/spool.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { benchConfig } from '../lib/pipeline.ts';
import { NullTransport } from '../lib/null-transport.ts';
import { enrichedRecords } from '../lib/records.ts';
import { emitResult, note, workerOptions } from '../lib/worker.ts';

export interface SpoolOptions { records: number; runs: number }
export interface SpoolResult {
  records: number;
  bytesPerRecord: number;
  /** Records/s written, by spool.fsync policy. */
  writeRecordsPerS: Record<'never' | 'interval', number[]>;
  readRecordsPerS: number[];
  /** CPU seconds per 100k records through KafkaSink (encode, queue, batches, acks), spool off and on. */
  sinkCpuSPer100k: { off: number[]; on: number[] };
}

const o = workerOptions<SpoolOptions>();
const records = enrichedRecords(o.records, 13);
const avro = new AvroEncoder(1);
const values = records.map((r) => avro.encode(r));
const keys = records.map((r) => `${r.host.name}:${r.process.pid}`);
const BURST = 100;
note(`spool: ${records.length} records, ${Math.round(values.reduce((s, v) => s + v.length, 0) / values.length)} bytes each (Avro)`);

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-bench-spool-'));
const open = (dir: string, fsync: FsyncPolicy): Spool => Spool.open({ directory: dir, maxBytes: 2 ** 34, segmentBytes: 16 << 20, policy: 'drop-newest', fsync, fsyncIntervalMs: 1000 });

/** Writes every record; `direct`: as the sink does while nothing waits on disk (the queue takes them). */
function writeAll(s: Spool, direct: boolean): void {
  for (let i = 0; i < values.length; i += BURST) {
    s.begin();
    const end = Math.min(values.length, i + BURST);
    for (let j = i; j < end; j++) s.add(values[j]!, keys[j]!, j);
    const n = s.commit();
    if (direct) s.markRead(n);
  }
}

async function sinkCpu(spool: boolean): Promise<number> {
  const dir = tmp();
  const cfg = benchConfig({ spool: { directory: spool ? dir : '' } });
  const sink = new KafkaSink(cfg, avro, undefined, { transport: new NullTransport() });
  await sink.start();
  const c0 = process.cpuUsage();
  for (let i = 0; i < records.length; i += BURST) {
    sink.push(records.slice(i, i + BURST));
    if ((i / BURST) % 10 === 9) await new Promise((r) => setImmediate(r)); // let batches go, as between kernel polls
  }
  await sink.flush(120_000);
  const c = process.cpuUsage(c0);
  await sink.stop(1000);
  fs.rmSync(dir, { recursive: true, force: true });
  return ((c.user + c.system) / 1e6) * (100_000 / records.length);
}

const out: SpoolResult = {
  records: records.length,
  bytesPerRecord: 0,
  writeRecordsPerS: { never: [], interval: [] },
  readRecordsPerS: [],
  sinkCpuSPer100k: { off: [], on: [] },
};
await sinkCpu(true); // warm-up
for (let run = 0; run < o.runs; run++) {
  for (const fsync of ['never', 'interval'] as const) {
    const dir = tmp();
    const s = open(dir, fsync);
    const t0 = performance.now();
    writeAll(s, true);
    out.writeRecordsPerS[fsync].push(values.length / ((performance.now() - t0) / 1000));
    out.bytesPerRecord = s.stats().bytes / values.length;
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const dir = tmp();
  const s = open(dir, 'never');
  writeAll(s, false);
  let n = 0;
  const t0 = performance.now();
  s.read(() => { n++; return true; });
  out.readRecordsPerS.push(n / ((performance.now() - t0) / 1000));
  s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  out.sinkCpuSPer100k.off.push(await sinkCpu(false));
  out.sinkCpuSPer100k.on.push(await sinkCpu(true));
}
emitResult(out);
