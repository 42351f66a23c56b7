// `npm run bench -- --quick` end to end (tiny sizes, one run each): every
// section produces numeric figures, the counts add up, the report is written.
// No timing is asserted: figures depend on the machine and its load.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { integrationTest } from '../helpers/require.ts';
import type { BenchResults } from '../../bench/run.ts';

await integrationTest('npm run bench -- --quick writes a report and a JSON with every section', ['kafka', 'registry', 'root', 'bpf'], async (t) => {
  t.timeout(110_000);
  const out = mkdtempSync(path.join(os.tmpdir(), 'conntrail-bench-'));
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['bench/run.ts', '--quick', '--out', out], { timeout: 105_000, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr.split('\n').slice(-15).join('\n')}`));
      else resolve();
    });
  });
  const r = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as BenchResults;
  const finite = (x: number | null | undefined, what: string): void => void t.true(typeof x === 'number' && Number.isFinite(x), `${what} = ${x}`);

  t.is(r.mode, 'quick');
  t.deepEqual(r.skipped, {});
  t.is(r.machine.cores, os.availableParallelism());
  t.regex(r.machine.kafka, /^\d+\.\d+/);

  const c = r.ceiling!;
  t.is(c.runs.length, 1);
  t.is(c.runs[0]!.records, r.sizes.ceilingRecords);
  t.is(c.runs[0]!.drops, 0);
  t.true(c.runs[0]!.namedShare > 0.6 && c.runs[0]!.namedShare < 0.8, 'about 70% of connects carry DNS names');
  t.true(c.runs[0]!.ipv6Share > 0.1, 'IPv6 destinations present');
  for (const k of ['recordsPerS', 'mbPerS', 'cpuSPer100k', 'peakRssMiB'] as const) finite(c.summary[k]?.median, `ceiling ${k}`);

  const k = r.kafkaTool!;
  t.is(k.runs[0]!.records, r.sizes.ceilingRecords);
  finite(k.ratio.median, 'conntrail / Kafka tool');
  finite(r.nullClient!.cpuRatioToDefault.median, 'no client / default, CPU');
  finite(r.telemetry!.metrics.ratioToDefault.median, 'telemetry metrics / off');
  finite(r.telemetry!.traces.cpuRatioToDefault.median, 'telemetry traces / off, CPU');
  t.true(r.telemetry!.traces.runs[0]!.sampledEvents > 0, 'events traced');

  for (const name of ['avro', 'JSON.stringify', 'ECS JSON']) {
    finite(r.encoding!.summary[name]?.recordsPerS.median, `${name} records/s`);
    finite(r.encoding!.summary[name]?.bytesPerRecord, `${name} bytes`);
  }
  t.true(r.encoding!.summary.avro!.bytesPerRecord < r.encoding!.summary['JSON.stringify']!.bytesPerRecord);

  const sp = r.spool!;
  t.is(sp.records, r.sizes.encodingRecords);
  for (const [what, x] of [['write never', sp.writeRecordsPerS.never], ['write interval', sp.writeRecordsPerS.interval], ['read', sp.readRecordsPerS], ['sink CPU off', sp.sinkCpuSPer100k.off], ['sink CPU on', sp.sinkCpuSPer100k.on]] as const) finite(x.median, `spool ${what}`);

  t.is(r.live!.rates.length, r.sizes.liveRates.length);
  for (const x of r.live!.rates) {
    const run = x.runs[0]!;
    t.true(run.generated > 0);
    t.is(run.generated, run.captured + run.kernelDrops, `${x.rate}/s: every generated connect captured or counted as a kernel drop`);
    t.is(run.published, run.captured - run.sinkDrops, `${x.rate}/s: every captured connect published`);
    t.is(run.latencyMs.count, run.published);
    finite(run.latencyMs.p99, 'p99');
    finite(run.coresPer10kEvents, 'cores per 10k events/s');
  }
  const o = r.overhead!;
  for (const m of ['raw', 'decoded', 'pipeline'] as const) finite(o.ratios[m].median, `overhead ${m}`);

  const fp = r.footprint!;
  const f = fp.runs[0]!;
  for (const k of ['startupS', 'idle.cores', 'idle.wakeupsPerS', 'idle.mem.rssMiB', 'idle.mem.heap.heapUsedMiB', 'load.cores', 'load.coresPer10kEvents', 'load.peakRssMiB',
    'dns.emptyRssMiB', 'dns.fullRssMiB', 'dns.growthRssMiB', 'dns.growthLiveHeapMiB', 'dns.heapSplit.perName', 'dns.heapSplit.perAddress']) finite(fp.summary[k]?.median, `footprint ${k}`);
  t.truthy(f.idle.threads['main thread (JS)'], 'footprint: CPU of the main thread');
  t.true(f.load.connectEvents + f.load.kernelDrops >= f.load.generated, 'footprint: conntrail read every generated connect or counted its drop');
  t.true(f.dns.dnsEvents + f.dns.dnsKernelDrops >= f.dns.repliesSent, 'footprint: conntrail read every flood reply or counted its drop');
  t.true(f.dns.full.names >= 65_536 && f.dns.full.addresses >= 65_536, `footprint: the DNS cache at its default bounds (${f.dns.full.names} names, ${f.dns.full.addresses} addresses)`);

  const md = readFileSync(path.join(out, 'BENCHMARKS.md'), 'utf8');
  for (const h of ['## Goals', '## 1. Pipeline ceiling', '## 2. Live capture', '## 3. Overhead', '## 4. Encoding', '## 5. Telemetry', '## 6. Footprint']) t.true(md.includes(h), h);
  t.notRegex(md, /\bNaN\b/);
});
