// `npm run bench [-- options]`: conntrail's benchmarks (issue 7). Writes a
// Markdown report and a JSON file of every run's raw figures.
//
//   --quick              tiny sizes, one run each (CI smoke; seconds, not minutes)
//   --runs N             runs per figure (default 3; --quick: 1)
//   --sections a,b       only these: ceiling, kafka-tool, what-if, telemetry, encoding, spool, live, overhead, rungs, footprint, outage
//                        (outage: a 10-minute Kafka outage at 2,000/s, ~12 minutes; --quick: 60 s, only when named)
//   --out DIR            write BENCHMARKS.md and results.json into DIR
//                        (default: the full run writes ./BENCHMARKS.md and bench/results.json;
//                        --quick writes into bench/out/quick/)
//   --no-profile         skip the CPU-profiled runs
//   --report-only        re-render the report from the JSON of the last run (e.g. after editing bench/analysis.md)
//
// Needs the local stack (started with `bash stack/stack.sh up` when it is not
// running) and, for the live and overhead sections, root and a BPF-capable
// kernel (skipped with the reason otherwise). Each measurement runs in its own
// Node process (bench/workers/); the Kafka baseline is Apache Kafka's
// ProducerPerformance (stack/stack.sh kafka-run), and Debian's kcat (librdkafka)
// sending the ceiling's own encoded records (bench/lib/native-client.ts).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBuilt } from 'bpf-native-loader';
import type { CeilingOptions, CeilingResult } from './workers/ceiling.ts';
import type { EncodingOptions, EncodingResult } from './workers/encoding.ts';
import type { SpoolOptions, SpoolResult } from './workers/spool.ts';
import type { OutageOptions, OutageResult } from './workers/outage.ts';
import type { FootprintOptions, FootprintResult } from './workers/footprint.ts';
import type { RecordVariant } from './lib/record-variants.ts';
import type { LiveOptions, LiveResult } from './workers/live.ts';
import type { NativeRecordsOptions, NativeRecordsResult } from './workers/native-records.ts';
import type { OverheadMode, OverheadOptions, OverheadResult } from './workers/overhead.ts';
import { buildGenerator } from './lib/gen.ts';
import { nativeClientMissing, nativeClientVersion, runNativeClient } from './lib/native-client.ts';
import type { NativeResult } from './lib/native-client.ts';
import { BENCH_TOPIC_PREFIX, benchConfig } from './lib/pipeline.ts';
import { machineCpu, machineInfo, procCpuRss } from './lib/proc.ts';
import type { MachineInfo } from './lib/proc.ts';
import { renderReport } from './lib/report.ts';
import type { RungCostResult } from '../bpf/tools/bench-rung-cost.ts';
import { summarize } from './lib/stats.ts';
import type { Summary } from './lib/stats.ts';
import { runWorker } from './lib/worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STACK = path.join(ROOT, 'stack', 'stack.sh');

export const SECTIONS = ['ceiling', 'kafka-tool', 'what-if', 'telemetry', 'encoding', 'spool', 'live', 'overhead', 'rungs', 'footprint', 'outage'] as const;
export type Section = (typeof SECTIONS)[number];

// ---------------------------------------------------------------- arguments
function parseArgs(argv: string[]): { quick: boolean; runs: number; sections: Section[]; out: string | null; profile: boolean; reportOnly: boolean } {
  let quick = false;
  let reportOnly = false;
  let runs = 0;
  let sections: Section[] | null = null;
  let out: string | null = null;
  let profile = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') quick = true;
    else if (a.startsWith('--runs')) runs = Number(value());
    else if (a.startsWith('--sections')) {
      sections = value().split(',').map((s) => s.trim()) as Section[];
      for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s} (one of ${SECTIONS.join(', ')})`);
    } else if (a.startsWith('--out')) out = path.resolve(value());
    else if (a === '--no-profile') profile = false;
    else if (a === '--report-only') reportOnly = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  // --quick (the CI smoke) leaves the outage scenario out unless it is named: a minute or more on its own
  sections ??= SECTIONS.filter((s) => !(quick && s === 'outage'));
  if (!runs) runs = quick ? 1 : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  return { quick, runs, sections, out, profile: profile && !quick, reportOnly };
}

const args = parseArgs(process.argv.slice(2));

export interface Sizes {
  ceilingRecords: number;
  ceilingInput: number;
  ceilingWarmup: number;
  maxOutstanding: number;
  encodingRecords: number;
  encodingMinPassMs: number;
  liveRates: { rate: number; seconds: number }[];
  liveWarmupSeconds: number;
  overheadSeconds: number;
  /** footprint: seconds at 1 connect/s, at footprintRate, idle settles, idle after each DNS fill; replies per fill. */
  footprintIdleSeconds: number;
  footprintRate: number;
  footprintLoadSeconds: number;
  footprintSettleSeconds: number;
  footprintFloodIdleSeconds: number;
  footprintFloodReplies: number;
}

const sizes: Sizes = args.quick
  ? {
      ceilingRecords: 20_000, ceilingInput: 20_000, ceilingWarmup: 5_000, maxOutstanding: 50_000,
      encodingRecords: 5_000, encodingMinPassMs: 50,
      liveRates: [{ rate: 10000, seconds: 1 }, { rate: 0, seconds: 1 }],
      liveWarmupSeconds: 0, overheadSeconds: 0.5,
      footprintIdleSeconds: 3, footprintRate: 10000, footprintLoadSeconds: 2, footprintSettleSeconds: 1, footprintFloodIdleSeconds: 2, footprintFloodReplies: 40_000,
    }
  : {
      ceilingRecords: 500_000, ceilingInput: 150_000, ceilingWarmup: 50_000, maxOutstanding: 50_000,
      encodingRecords: 100_000, encodingMinPassMs: 300,
      liveRates: [{ rate: 1, seconds: 10 }, { rate: 5000, seconds: 10 }, { rate: 10000, seconds: 15 }, { rate: 20000, seconds: 60 }, { rate: 50000, seconds: 10 }, { rate: 0, seconds: 10 }],
      liveWarmupSeconds: 1, overheadSeconds: 5,
      footprintIdleSeconds: 60, footprintRate: 10000, footprintLoadSeconds: 30, footprintSettleSeconds: 5, footprintFloodIdleSeconds: 30, footprintFloodReplies: 40_000,
    };

const outDir = args.out ?? (args.quick ? path.join(ROOT, 'bench', 'out', 'quick') : null);
const reportPath = outDir ? path.join(outDir, 'BENCHMARKS.md') : path.join(ROOT, 'BENCHMARKS.md');
const jsonPath = outDir ? path.join(outDir, 'results.json') : path.join(ROOT, 'bench', 'results.json');
const profileDir = path.join(ROOT, 'bench', 'out', 'profiles');

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ---------------------------------------------------------------- environment
function commitInfo(): string {
  const git = (...a: string[]): string => spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'producer', 'bpf', 'package.json', 'package-lock.json').split('\n').filter(Boolean).map((l) => l.slice(3));
  return dirty.length ? `${head} + uncommitted: ${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? ', ...' : ''}` : head;
}

function stackUp(): void {
  const st = spawnSync('bash', [STACK, 'status'], { encoding: 'utf8' });
  if (st.status === 0) return;
  log('the local stack is not running: bash stack/stack.sh up');
  const up = spawnSync('bash', [STACK, 'up'], { stdio: 'inherit' });
  if (up.status !== 0) throw new Error('bash stack/stack.sh up failed (see bash stack/stack.sh logs)');
}

function brokerPid(): number | undefined {
  const st = spawnSync('bash', [STACK, 'status'], { encoding: 'utf8' });
  const m = /kafka\s+up\s+pid (\d+)/.exec(st.stdout ?? '');
  return m ? Number(m[1]) : undefined;
}

function captureBlocker(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (BPF)';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'needs kernel BTF (/sys/kernel/btf/vmlinux)';
  if (!isBuilt()) return 'bpf-native-loader is not built (npm run build -w bpf-native-loader)';
  return null;
}

async function withAdmin<T>(fn: (admin: import('kafkajs').Admin) => Promise<T>): Promise<T> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const cfg = benchConfig();
  const admin = new Kafka({ clientId: 'conntrail-bench', brokers: cfg.kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function deleteBenchTopics(): Promise<void> {
  await withAdmin(async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(BENCH_TOPIC_PREFIX));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
  });
  await new Promise((r) => setTimeout(r, 1000)); // let the deletion settle before the names are reused
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }] });
  });
}

// ---------------------------------------------------------------- Kafka's own tool
export interface ToolResult {
  records: number; recordsPerS: number; mbPerS: number; avgLatencyMs: number; p99LatencyMs: number; cpuS: number | null; maxRssMiB: number | null;
  /** Busy CPU of the machine during the tool's run (JVM start included) not accounted for by the tool and the broker, cores. */
  otherCores: number;
}

async function runKafkaTool(topic: string, records: number, recordSize: number, broker: number | undefined): Promise<ToolResult> {
  const m0 = machineCpu();
  const b0 = broker ? procCpuRss(broker)?.cpu ?? 0 : 0;
  const t0 = performance.now();
  const r = await runKafkaToolOnce(topic, records, recordSize);
  const wall = (performance.now() - t0) / 1000;
  const busy = machineCpu().busy - m0.busy;
  const b = broker ? (procCpuRss(broker)?.cpu ?? 0) - b0 : 0;
  return { ...r, otherCores: r.cpuS === null ? NaN : Math.max(0, (busy - b - r.cpuS) / wall) };
}

function runKafkaToolOnce(topic: string, records: number, recordSize: number): Promise<Omit<ToolResult, 'otherCores'>> {
  const cfg = benchConfig();
  const toolArgs = [STACK, 'kafka-run', 'org.apache.kafka.tools.ProducerPerformance',
    '--bootstrap-server', cfg.kafka.brokers.join(','), '--topic', topic, '--num-records', String(records),
    '--record-size', String(recordSize), '--throughput', '-1', '--command-property', 'acks=all'];
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const [cmd, argv] = timeBin ? [timeBin, ['-f', 'BENCH_TIME %U %S %M', 'bash', ...toolArgs]] : ['bash', toolArgs];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { maxBuffer: 16 << 20, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`ProducerPerformance failed: ${err.message}\n${stderr.split('\n').slice(-5).join('\n')}`));
      const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, (\d+) ms 99th/.exec(stdout);
      if (!m) return reject(new Error(`ProducerPerformance: no summary line in its output:\n${stdout.slice(-500)}`));
      const t = /BENCH_TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      resolve({
        records: Number(m[1]), recordsPerS: Number(m[2]), mbPerS: Number(m[3]), avgLatencyMs: Number(m[4]), p99LatencyMs: Number(m[5]),
        cpuS: t ? Number(t[1]) + Number(t[2]) : null, maxRssMiB: t ? Number(t[3]) / 1024 : null,
      });
    });
  });
}

// ---------------------------------------------------------------- OTLP stand-in
async function startOtlpSink(): Promise<{ endpoint: string; stop(): Promise<{ requests: number; bytes: number }> }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'tools', 'otlp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /port=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`otlp-sink exited ${code}`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.on('exit', () => {
        const m = /requests=(\d+) bytes=(\d+)/.exec(out);
        resolve({ requests: Number(m?.[1] ?? 0), bytes: Number(m?.[2] ?? 0) });
      });
      child.kill('SIGTERM');
    }),
  };
}

// ---------------------------------------------------------------- results
export interface LiveVariant { rate: number; seconds: number; runs: LiveResult[]; summary: Record<string, Summary> }
export interface Variant { runs: CeilingResult[]; summary: Record<string, Summary>; ratioToDefault: Summary; cpuRatioToDefault: Summary }

export interface BenchResults {
  /** The commit measured, and whether producer/ or bpf/ had uncommitted changes. */
  commit: string;
  version: 1;
  mode: 'full' | 'quick';
  command: string;
  machine: MachineInfo;
  runsPerFigure: number;
  sizes: Sizes;
  durationS: number;
  skipped: Partial<Record<Section, string>>;
  /** Parts left out, and why. */
  notes: string[];
  ceiling?: { runs: CeilingResult[]; summary: Record<string, Summary>; profile?: CeilingResult['profile'] };
  kafkaTool?: { runs: ToolResult[]; summary: Record<string, Summary>; recordSize: number; ratio: Summary };
  /** Section kafka-tool too: the ceiling's own encoded records produced by kcat (librdkafka), bench/lib/native-client.ts. Ratios pair the runs of a round. */
  nativeClient?: {
    client: string; runs: NativeResult[]; summary: Record<string, Summary>;
    input: { records: number; bytes: number; avgKeyBytes: number; avgValueBytes: number; schemaId: number };
    /** conntrail / native client, records/s. */
    ratio: Summary;
    /** native client / ProducerPerformance, records/s. */
    ratioToTool: Summary;
  };
  /** What-ifs (not shipped code): no Kafka client at all; @platformatic/kafka instead of kafkajs. Ratios: records/s and CPU per record, to the default runs of the same rounds. */
  nullClient?: Variant;
  platformatic?: Variant;
  /** Issue 12: the ceiling with the other record variants (bench/lib/record-variants.ts), in the same rounds; ratios to the default (v2) runs. */
  recordVariants?: Partial<Record<RecordVariant, Variant>>;
  /** Ceiling with telemetry as `conntrail run` has it without an OTLP endpoint (metrics), and with traces over OTLP; paired with the telemetry-off runs. */
  telemetry?: { sampleRatio: number; maxPerSecond?: number; otlp: { requests: number; bytes: number }; metrics: Variant; traces: Variant };
  encoding?: { records: number; summary: Record<string, { recordsPerS: Summary; bytesPerRecord: number }> };
  /** The disk spool: write / read-back records/s, and the sink's CPU per 100k records with the spool off and on (no Kafka client). */
  spool?: { records: number; bytesPerRecord: number; writeRecordsPerS: Record<'never' | 'interval', Summary>; readRecordsPerS: Summary; sinkCpuSPer100k: { off: Summary; on: Summary; ratio: Summary } };
  /** Issue 13: a Kafka outage on a private broker at a fixed rate, the disk spool on; lost counted from the topic read back. */
  outage?: OutageResult;
  /** Kernel-side cost per connect of each rung that attaches here (bpf/tools/bench-rung-cost.ts). */
  rungs?: RungCostResult;
  /** The same inside the Debian 6.1 VM (tools/vm), where every rung attaches; emulated (TCG) times. */
  rungsVm?: RungCostResult;
  live?: {
    rates: { rate: number; seconds: number; runs: LiveResult[]; summary: Record<string, Summary> }[];
    /** What-ifs at 10k/s (section "what-if"): no Kafka client; @platformatic/kafka; kafka.batch.lingerMs 25 (config, shipped code). */
    nullClient?: LiveVariant;
    platformatic?: LiveVariant;
    linger25?: LiveVariant;
    /** The disk spool on (spool.directory set, as the packaged service runs). */
    spool?: LiveVariant;
    /** Issue 12: the record variants at 10k/s, each run paired with a default (v2) run of the same round. */
    recordVariants?: { rate: number; seconds: number; v2: LiveVariant } & Partial<Record<Exclude<RecordVariant, 'v2'>, LiveVariant>>;
    profile?: LiveResult['profile'];
    profileRate?: number;
  };
  overhead?: {
    runs: OverheadResult[];
    summary: Record<OverheadMode, Summary>;
    /** Connect rate attached / not attached (the goal's measure). */
    ratios: Record<Exclude<OverheadMode, 'bare'>, Summary>;
    /** Generator CPU per connect, not attached / attached: the rate ratio the generator would see with a core of its own. */
    costRatios: Record<Exclude<OverheadMode, 'bare'>, Summary>;
  };
  /** `conntrail run` itself (bench/workers/footprint.ts): idle, at 10k/s, DNS cache empty / full; summary by FootprintResult.figures key. */
  footprint?: { runs: FootprintResult[]; summary: Record<string, Summary>; idleProfile?: FootprintResult['idleProfile'] };
}

/** The record variants measured beside the default (v2) in the ceiling and live sections (issue 12). */
const OTHER_RECORD_VARIANTS = ['v1', 'v2-no-outcome', 'v2-no-process'] as const satisfies readonly RecordVariant[];

const CEILING_KEYS = ['recordsPerS', 'mbPerS', 'cpuSPer100k', 'cores', 'peakRssMiB', 'maxRssMiB', 'rssBeforeMiB', 'avgMessageBytes', 'avgValueBytes', 'avgKeyBytes', 'namedShare', 'ipv6Share', 'avgBatchRecords', 'drops', 'ackLatencyP50Ms', 'brokerCores', 'otherCores'] as const;
const pick = <T extends object>(rows: T[], keys: readonly string[]): Record<string, Summary> =>
  Object.fromEntries(keys.map((k) => [k, summarize(rows.map((r) => (r as Record<string, number>)[k] ?? NaN))]));
/** Per-run ratios of paired runs (run i of a with run i of b). */
const ratios = (a: number[], b: number[]): Summary => summarize(a.map((x, i) => x / (b[i] ?? NaN)));

async function main(): Promise<void> {
  const started = performance.now();
  const has = (s: Section): boolean => args.sections.includes(s);
  stackUp();
  const machine = machineInfo(STACK);
  log(`${machine.cores} cores, kernel ${machine.kernel}, node ${machine.node}, Kafka ${machine.kafka}; load average ${machine.loadAverage.join(' ')}`);
  mkdirSync(profileDir, { recursive: true });
  await deleteBenchTopics();
  const results: BenchResults = {
    commit: commitInfo(),
    version: 1, mode: args.quick ? 'quick' : 'full', command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    machine, runsPerFigure: args.runs, sizes, durationS: 0, skipped: {}, notes: [],
  };
  const blocker = captureBlocker();

  // ---- 1, 5 and the what-if: pipeline ceiling (telemetry off / metrics / traces, no client), Kafka's tool, interleaved per round
  if (has('ceiling') || has('kafka-tool') || has('what-if') || has('telemetry')) {
    const pid = brokerPid();
    const base: CeilingOptions = {
      topic: `${BENCH_TOPIC_PREFIX}ceiling`, records: sizes.ceilingRecords, inputConnects: sizes.ceilingInput, warmupRecords: sizes.ceilingWarmup,
      maxOutstanding: sizes.maxOutstanding, ...(pid ? { brokerPid: pid } : {}),
    };
    const off: CeilingResult[] = [];
    const metricsOn: CeilingResult[] = [];
    const tracesOn: CeilingResult[] = [];
    const byRecord: Partial<Record<RecordVariant, CeilingResult[]>> = {};
    const nul: CeilingResult[] = [];
    const plat: CeilingResult[] = [];
    const platformaticMissing = has('what-if') ? await import('./lib/platformatic-transport.ts').then((m) => m.available()) : 'not asked for';
    if (has('what-if') && platformaticMissing) results.notes.push(`what-if: the @platformatic/kafka variant was skipped: ${platformaticMissing}`);
    const tool: ToolResult[] = [];
    const otlp = has('telemetry') ? await startOtlpSink() : null;
    const sampleRatio = benchConfig().telemetry.sampleRatio;
    let recordSize = 0;
    if (has('kafka-tool')) await createTopic(`${BENCH_TOPIC_PREFIX}kafka-tool`, benchConfig().kafka.topicPartitions);
    // the native client (kcat) sends the ceiling's own encoded records: captured once, from the ceiling's input and pipeline
    const native: NativeResult[] = [];
    const nativeTopic = `${BENCH_TOPIC_PREFIX}native`;
    const nativeMissing = has('kafka-tool') ? nativeClientMissing() : 'not asked for';
    if (has('kafka-tool') && nativeMissing) results.notes.push(`kafka-tool: the native client (kcat) was skipped: ${nativeMissing}`);
    let nativeInput: NativeRecordsResult | null = null;
    if (!nativeMissing) {
      await createTopic(nativeTopic, benchConfig().kafka.topicPartitions);
      log(`native client input: the ceiling's ${sizes.ceilingRecords} records as its pipeline encodes them (no Kafka client), for ${nativeClientVersion()}`);
      nativeInput = await runWorker<NativeRecordsResult>('native-records', {
        topic: nativeTopic, records: sizes.ceilingRecords, inputConnects: sizes.ceilingInput, warmupRecords: sizes.ceilingWarmup,
        maxOutstanding: sizes.maxOutstanding, file: path.join(ROOT, 'bench', 'out', 'native-records.bin'),
      } satisfies NativeRecordsOptions);
    }
    // the throughput figures are the noisiest on a shared machine: more rounds in the full run
    const rounds = args.quick ? args.runs : Math.max(args.runs, 5);
    const run = async (label: string, opts: CeilingOptions, into: CeilingResult[]): Promise<void> => {
      log(`ceiling ${label}`);
      const res = await runWorker<CeilingResult>('ceiling', opts);
      into.push(res);
      log(`  ${Math.round(res.recordsPerS)} records/s, ${res.cpuSPer100k.toFixed(2)} CPU-s/100k, other load ${res.otherCores.toFixed(2)} cores${res.sampledEvents ? `, ${res.sampledEvents} events traced` : ''}`);
    };
    for (let r = 0; r < rounds; r++) {
      const n = `run ${r + 1}/${rounds}`;
      await run(`${n}: ${sizes.ceilingRecords} records, default config`, base, off);
      if (has('ceiling')) {
        for (const v of OTHER_RECORD_VARIANTS) {
          await run(`${n}: record ${v}`, { ...base, topic: `${BENCH_TOPIC_PREFIX}ceiling-${v}`, record: v }, (byRecord[v] ??= []));
        }
      }
      if (otlp) {
        await run(`${n}: telemetry on, metrics only (no OTLP endpoint: conntrail run's default)`, { ...base, topic: `${BENCH_TOPIC_PREFIX}telemetry`, telemetry: { mode: 'metrics' } }, metricsOn);
        await run(`${n}: telemetry on, traces at sample ratio ${sampleRatio} to ${otlp.endpoint}`, { ...base, topic: `${BENCH_TOPIC_PREFIX}telemetry`, telemetry: { mode: 'traces', otlpEndpoint: otlp.endpoint } }, tracesOn);
      }
      if (has('what-if')) {
        await run(`${n}: what-if, no Kafka client (acks simulated)`, { ...base, nullTransport: true }, nul);
        if (!platformaticMissing) await run(`${n}: what-if, @platformatic/kafka instead of kafkajs`, { ...base, topic: `${BENCH_TOPIC_PREFIX}platformatic`, platformatic: true }, plat);
      }
      if (has('kafka-tool')) {
        recordSize = Math.round(summarize(off.map((x) => x.avgMessageBytes)).median);
        log(`Kafka ProducerPerformance ${n}: ${sizes.ceilingRecords} records of ${recordSize} bytes, acks=all`);
        tool.push(await runKafkaTool(`${BENCH_TOPIC_PREFIX}kafka-tool`, sizes.ceilingRecords, recordSize, pid));
        log(`  ${Math.round(tool.at(-1)!.recordsPerS)} records/s, other load ${tool.at(-1)!.otherCores.toFixed(2)} cores`);
        if (nativeInput) {
          log(`native client ${n}: kcat, the ceiling's ${nativeInput.records} encoded records, acks=all`);
          native.push(await runNativeClient(nativeInput, nativeTopic, benchConfig().kafka.brokers, pid));
          log(`  ${Math.round(native.at(-1)!.recordsPerS)} records/s, ${native.at(-1)!.cpuSPer100k.toFixed(2)} CPU-s/100k, other load ${native.at(-1)!.otherCores.toFixed(2)} cores`);
        }
      }
    }
    const rps = (xs: CeilingResult[]): number[] => xs.map((x) => x.recordsPerS);
    const cpu = (xs: CeilingResult[]): number[] => xs.map((x) => x.cpuSPer100k);
    results.ceiling = { runs: off, summary: pick(off, CEILING_KEYS) };
    if (tool.length) {
      results.kafkaTool = {
        runs: tool, recordSize, summary: pick(tool, ['recordsPerS', 'mbPerS', 'avgLatencyMs', 'p99LatencyMs', 'cpuS', 'maxRssMiB', 'otherCores']),
        ratio: ratios(rps(off), tool.map((x) => x.recordsPerS)),
      };
    }
    if (nativeInput && native.length) {
      const { file: _file, keyDelim: _k, delim: _d, ...input } = nativeInput;
      results.nativeClient = {
        client: native[0]!.client, runs: native, input,
        summary: pick(native, ['recordsPerS', 'mbPerS', 'cpuS', 'cpuSPer100k', 'maxRssMiB', 'elapsedS', 'brokerCores', 'otherCores']),
        ratio: ratios(rps(off), native.map((x) => x.recordsPerS)),
        ratioToTool: ratios(native.map((x) => x.recordsPerS), tool.map((x) => x.recordsPerS)),
      };
      rmSync(nativeInput.file, { force: true });
    }
    const variant = (xs: CeilingResult[]): Variant => ({
      runs: xs, summary: pick(xs, [...CEILING_KEYS, 'sampledEvents']), ratioToDefault: ratios(rps(xs), rps(off)), cpuRatioToDefault: ratios(cpu(xs), cpu(off)),
    });
    if (nul.length) results.nullClient = variant(nul);
    if (Object.keys(byRecord).length) results.recordVariants = Object.fromEntries(Object.entries(byRecord).map(([v, xs]) => [v, variant(xs)]));
    if (plat.length) results.platformatic = variant(plat);
    if (otlp) results.telemetry = { sampleRatio, maxPerSecond: benchConfig().telemetry.maxTracedEventsPerSecond, otlp: await otlp.stop(), metrics: variant(metricsOn), traces: variant(tracesOn) };
    if (args.profile) {
      log('ceiling: one more run with the CPU profiler on (not counted in the figures)');
      const p = await runWorker<CeilingResult>('ceiling', { ...base, profile: path.join(profileDir, 'ceiling.cpuprofile') });
      results.ceiling.profile = p.profile;
    }
  }

  // ---- 4: encoding
  if (has('encoding')) {
    log(`encoding: ${sizes.encodingRecords} records, ${args.runs < 3 ? args.runs : 5} runs`);
    const e = await runWorker<EncodingResult>('encoding', { records: sizes.encodingRecords, runs: args.runs < 3 ? args.runs : 5, minPassMs: sizes.encodingMinPassMs } satisfies EncodingOptions);
    results.encoding = {
      records: e.records,
      summary: Object.fromEntries(Object.entries(e.encoders).map(([k, v]) => [k, { recordsPerS: summarize(v.recordsPerS), bytesPerRecord: v.bytesPerRecord }])),
    };
  }

  // ---- 4b: the disk spool
  if (has('spool')) {
    const runs = args.runs < 3 ? args.runs : 5;
    log(`spool: ${sizes.encodingRecords} records, ${runs} runs`);
    const s = await runWorker<SpoolResult>('spool', { records: sizes.encodingRecords, runs } satisfies SpoolOptions);
    results.spool = {
      records: s.records,
      bytesPerRecord: s.bytesPerRecord,
      writeRecordsPerS: { never: summarize(s.writeRecordsPerS.never), interval: summarize(s.writeRecordsPerS.interval) },
      readRecordsPerS: summarize(s.readRecordsPerS),
      sinkCpuSPer100k: {
        off: summarize(s.sinkCpuSPer100k.off),
        on: summarize(s.sinkCpuSPer100k.on),
        ratio: summarize(s.sinkCpuSPer100k.on.map((on, i) => on / (s.sinkCpuSPer100k.off[i] as number))),
      },
    };
  }

  // ---- 4c: the outage scenario (issue 13): a private broker stopped for 10 minutes (--quick: 60 s)
  if (has('outage')) {
    const opts: OutageOptions = args.quick
      ? { rate: 2000, beforeSeconds: 5, outageSeconds: 60, afterSeconds: 5 }
      : { rate: 2000, beforeSeconds: 30, outageSeconds: 600, afterSeconds: 20 };
    log(`outage: ${opts.outageSeconds} s broker outage at ${opts.rate} records/s (private broker)`);
    results.outage = await runWorker<OutageResult>('outage', opts, { timeoutMs: (opts.outageSeconds + 600) * 1000 });
  }

  // ---- 2: live capture
  if (has('live') && blocker) results.skipped.live = blocker;
  else if (has('live')) {
    buildGenerator();
    const pid = brokerPid();
    const rates: NonNullable<BenchResults['live']>['rates'] = [];
    for (const { rate, seconds } of sizes.liveRates) {
      const runs: LiveResult[] = [];
      for (let r = 0; r < args.runs; r++) {
        log(`live run ${r + 1}/${args.runs}: ${rate || 'flat out'} connects/s for ${seconds} s`);
        const res = await runWorker<LiveResult>('live', { topic: `${BENCH_TOPIC_PREFIX}live`, rate, seconds, warmupSeconds: sizes.liveWarmupSeconds, ...(pid ? { brokerPid: pid } : {}) } satisfies LiveOptions);
        runs.push(res);
        log(`  generated ${res.generated}, captured ${res.captured}, kernel drops ${res.kernelDrops}, published ${res.published}, p99 ${res.latencyMs.p99.toFixed(1)} ms, ${res.cpuCores.toFixed(2)} cores`);
      }
      const flat = runs.map((x) => ({
        generatedRate: x.generatedRate, generated: x.generated, captured: x.captured, kernelDrops: x.kernelDrops, published: x.published,
        sinkDrops: x.sinkDrops, unaccounted: x.unaccounted, p50: x.latencyMs.p50, p99: x.latencyMs.p99, p999: x.latencyMs.p999, max: x.latencyMs.max,
        cpuCores: x.cpuCores, coresPer10kEvents: x.coresPer10kEvents, peakRssMiB: x.peakRssMiB, avgBatchRecords: x.avgBatchRecords,
        generatorCores: x.generatorCores, brokerCores: x.brokerCores, otherCores: x.otherCores,
        jsThreadCores: x.threads['JS thread'] ?? 0, v8WorkerCores: x.threads['V8 workers (GC, compiler)'] ?? 0, otherThreadCores: (x.threads['other threads (capture consumer...)'] ?? 0) + (x.threads['libuv pool'] ?? 0),
      }));
      rates.push({ rate, seconds, runs, summary: pick(flat, Object.keys(flat[0]!)) });
    }
    results.live = { rates };
    // issue 12: v2 beside v1 and v2 without each of its parts, at 10k/s, interleaved per round
    {
      const { rate, seconds } = sizes.liveRates.find((x) => x.rate === 10000) ?? { rate: 10000, seconds: 1 };
      const runsOf: Partial<Record<RecordVariant, LiveResult[]>> = {};
      for (let r = 0; r < args.runs; r++) {
        for (const v of ['v2', ...OTHER_RECORD_VARIANTS] as const) {
          log(`live run ${r + 1}/${args.runs}: ${rate}/s, record ${v}`);
          const res = await runWorker<LiveResult>('live', { topic: `${BENCH_TOPIC_PREFIX}live-${v}`, rate, seconds, warmupSeconds: sizes.liveWarmupSeconds, record: v, ...(pid ? { brokerPid: pid } : {}) } satisfies LiveOptions);
          (runsOf[v] ??= []).push(res);
          log(`  ${res.coresPer10kEvents.toFixed(3)} cores per 10k events/s, ${Math.round(res.avgMessageBytes)} B per message, p99 ${res.latencyMs.p99.toFixed(1)} ms`);
        }
      }
      const liveVariant = (xs: LiveResult[], base: LiveResult[]): LiveVariant => ({
        rate, seconds, runs: xs,
        summary: {
          ...pick(xs.map((x) => ({ coresPer10kEvents: x.coresPer10kEvents, cpuCores: x.cpuCores, avgMessageBytes: x.avgMessageBytes, peakRssMiB: x.peakRssMiB, p99: x.latencyMs.p99, p50: x.latencyMs.p50, kernelDrops: x.kernelDrops, otherCores: x.otherCores })),
            ['coresPer10kEvents', 'cpuCores', 'avgMessageBytes', 'peakRssMiB', 'p99', 'p50', 'kernelDrops', 'otherCores']),
          cpuRatioToV2: ratios(xs.map((x) => x.coresPer10kEvents), base.map((x) => x.coresPer10kEvents)),
        },
      });
      const v2 = runsOf.v2!;
      results.live.recordVariants = { rate, seconds, v2: liveVariant(v2, v2) };
      for (const v of OTHER_RECORD_VARIANTS) results.live.recordVariants[v] = liveVariant(runsOf[v]!, v2);
    }
    if (has('what-if') && !args.quick) {
      const { rate, seconds } = sizes.liveRates.find((x) => x.rate === 10000) ?? { rate: 10000, seconds: 1 };
      const whatIf = async (label: string, extra: Partial<LiveOptions>): Promise<LiveVariant> => {
        const runs: LiveResult[] = [];
        for (let r = 0; r < args.runs; r++) {
          log(`live run ${r + 1}/${args.runs}: what-if, ${rate}/s, ${label}`);
          runs.push(await runWorker<LiveResult>('live', { topic: `${BENCH_TOPIC_PREFIX}live`, rate, seconds, warmupSeconds: sizes.liveWarmupSeconds, ...extra, ...(pid ? { brokerPid: pid } : {}) } satisfies LiveOptions));
          log(`  ${runs.at(-1)!.coresPer10kEvents.toFixed(3)} cores per 10k events/s, p99 ${runs.at(-1)!.latencyMs.p99.toFixed(1)} ms`);
        }
        return { rate, seconds, runs, summary: pick(runs.map((x) => ({ coresPer10kEvents: x.coresPer10kEvents, cpuCores: x.cpuCores, p99: x.latencyMs.p99, p50: x.latencyMs.p50, otherCores: x.otherCores })), ['coresPer10kEvents', 'cpuCores', 'p99', 'p50', 'otherCores']) };
      };
      results.live.linger25 = await whatIf('kafka.batch.lingerMs 25', { kafka: { batch: { lingerMs: 25 } } });
      results.live.spool = await whatIf('disk spool on', { spool: true });
      results.live.nullClient = await whatIf('no Kafka client (acks simulated)', { nullTransport: true });
      const { available } = await import('./lib/platformatic-transport.ts');
      if (!(await available())) results.live.platformatic = await whatIf('@platformatic/kafka instead of kafkajs', { platformatic: true });
    }
    if (args.profile) {
      log('live: one more run at 10000/s with the CPU profiler on (not counted)');
      const p = await runWorker<LiveResult>('live', { topic: `${BENCH_TOPIC_PREFIX}live`, rate: 10000, seconds: 10, warmupSeconds: 1, profile: path.join(profileDir, 'live-10k.cpuprofile') } satisfies LiveOptions);
      results.live.profile = p.profile;
      results.live.profileRate = 10000;
    }
  }

  // ---- 3: overhead on the host
  if (has('overhead') && blocker) results.skipped.overhead = blocker;
  else if (has('overhead')) {
    buildGenerator();
    const runs: OverheadResult[] = [];
    const modes: OverheadMode[] = ['bare', 'raw', 'decoded', 'pipeline'];
    const pid = brokerPid();
    const rounds = args.quick ? args.runs : Math.max(args.runs, 5); // the noisiest figure: more rounds
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? modes : [...modes].reverse();
      log(`overhead round ${r + 1}/${rounds}: connect-flood flat out ${sizes.overheadSeconds} s each: ${order.join(', ')}`);
      runs.push(await runWorker<OverheadResult>('overhead', { topic: `${BENCH_TOPIC_PREFIX}overhead`, seconds: sizes.overheadSeconds, order, ...(pid ? { brokerPid: pid } : {}) } satisfies OverheadOptions));
    }
    const rate = (m: OverheadMode): number[] => runs.map((x) => x[m].rate);
    const cost = (m: OverheadMode): number[] => runs.map((x) => x[m].generatorCores / x[m].rate);
    results.overhead = {
      runs,
      summary: { bare: summarize(rate('bare')), raw: summarize(rate('raw')), decoded: summarize(rate('decoded')), pipeline: summarize(rate('pipeline')) },
      ratios: { raw: ratios(rate('raw'), rate('bare')), decoded: ratios(rate('decoded'), rate('bare')), pipeline: ratios(rate('pipeline'), rate('bare')) },
      costRatios: { raw: ratios(cost('bare'), cost('raw')), decoded: ratios(cost('bare'), cost('decoded')), pipeline: ratios(cost('bare'), cost('pipeline')) },
    };
    for (const m of modes) log(`  ${m}: ${Math.round(summarize(rate(m)).median)}/s`);
  }

  if (has('rungs') && blocker) results.skipped.rungs = blocker;
  else if (has('rungs')) {
    buildGenerator();
    const seconds = args.quick ? 1 : 3;
    log(`rungs: bpf_stats_enabled, connect-flood ${seconds} s per rung, ${args.runs} rounds`);
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bpf', 'tools', 'bench-rung-cost.ts'), String(seconds), String(args.runs), '--json'], { timeout: 600_000 });
    results.rungs = JSON.parse(stdout.trim().split('\n').at(-1)!) as RungCostResult;
    for (const r of results.rungs.rungs) log(`  ${r.probe}: ${Math.round(r.connectNsPerRun)} ns per connect, ${r.ratioToBare.toFixed(3)} of bare`);
    if (!args.quick) {
      log('rungs: the same in the Debian 6.1 VM (tools/vm/run.sh; every rung attaches there)');
      const vm = await promisify(execFile)('bash', [path.join(ROOT, 'tools', 'vm', 'run.sh'), '--kernel', '6.1', '--env', `PATH=${path.join(ROOT, 'node_modules', '.bin')}:/usr/sbin:/usr/bin:/sbin:/bin`,
        '--', 'node', path.join(ROOT, 'bpf', 'tools', 'bench-rung-cost.ts'), String(seconds), String(args.runs), '--json'], { timeout: 1_200_000, cwd: ROOT })
        .catch((err: unknown) => { results.notes.push(`rungs in the 6.1 VM: ${(err as Error).message.split('\n')[0]}`); return undefined; });
      if (vm) results.rungsVm = JSON.parse(vm.stdout.trim().split('\n').at(-1)!) as RungCostResult;
    }
  }

  // ---- issue 15: footprint of `conntrail run` itself
  if (has('footprint') && blocker) results.skipped.footprint = blocker;
  else if (has('footprint')) {
    buildGenerator();
    const pid = brokerPid();
    const topic = `${BENCH_TOPIC_PREFIX}footprint`;
    await createTopic(topic, benchConfig().kafka.topicPartitions);
    const runs: FootprintResult[] = [];
    for (let r = 0; r < args.runs; r++) {
      log(`footprint run ${r + 1}/${args.runs}: conntrail run, idle ${sizes.footprintIdleSeconds} s, ${sizes.footprintRate}/s ${sizes.footprintLoadSeconds} s, DNS floods of ${sizes.footprintFloodReplies} replies`);
      const res = await runWorker<FootprintResult>('footprint', {
        topic, idleSeconds: sizes.footprintIdleSeconds, loadRate: sizes.footprintRate, loadSeconds: sizes.footprintLoadSeconds, settleSeconds: sizes.footprintSettleSeconds,
        floodIdleSeconds: sizes.footprintFloodIdleSeconds, floodReplies: sizes.footprintFloodReplies, ...(pid ? { brokerPid: pid } : {}),
        // the first run profiles an idle window after its measured phases
        ...(args.profile && r === 0 ? { profile: path.join(profileDir, 'footprint-idle.cpuprofile'), profileSeconds: 30 } : {}),
      } satisfies FootprintOptions);
      runs.push(res);
      log(`  idle ${res.idle.cores.toFixed(4)} cores, ${Math.round(res.idle.wakeupsPerS)} wake-ups/s, RSS ${res.idle.mem.rssMiB.toFixed(0)} MiB; ${res.load.coresPer10kEvents.toFixed(3)} cores per 10k events/s, peak RSS ${res.load.peakRssMiB.toFixed(0)} MiB; DNS cache full +${res.figures['dns.growthRssMiB']!.toFixed(0)} MiB RSS`);
    }
    const keys = [...new Set(runs.flatMap((x) => Object.keys(x.figures)))];
    results.footprint = { runs, summary: pick(runs.map((x) => x.figures), keys), ...(runs[0]?.idleProfile ? { idleProfile: runs[0].idleProfile } : {}) };
  }

  await deleteBenchTopics().catch((err: unknown) => log(`could not delete the bench topics: ${(err as Error).message}`));
  results.durationS = (performance.now() - started) / 1000;
  mkdirSync(path.dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(results, null, 1) + '\n');
  writeReport(results);
  log(`done in ${Math.round(results.durationS)} s: ${path.relative(process.cwd(), reportPath)}, ${path.relative(process.cwd(), jsonPath)}`);
}

function writeReport(results: BenchResults): void {
  mkdirSync(path.dirname(reportPath), { recursive: true });
  writeFileSync(reportPath, renderReport(results, { jsonPath: path.relative(path.dirname(reportPath), jsonPath), analysisPath: path.join(ROOT, 'bench', 'analysis.md') }));
}

if (args.reportOnly) {
  writeReport(JSON.parse(readFileSync(jsonPath, 'utf8')) as BenchResults);
  log(`re-rendered ${path.relative(process.cwd(), reportPath)} from ${path.relative(process.cwd(), jsonPath)}`);
} else {
  await main();
}
